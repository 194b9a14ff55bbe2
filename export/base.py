"""What a backend's ``export()`` returns to the bundle writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Artifacts:
    """Files a backend wrote into the bundle's work directory.

    ``artifact`` is the primary file (what ``load`` opens); every other file in the directory is
    hashed into the manifest too. ``info`` goes to ``manifest["backend"]`` (e.g. quantized op types,
    the trtexec command); ``versions`` to ``manifest["versions"]``.
    """

    artifact: str
    info: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
