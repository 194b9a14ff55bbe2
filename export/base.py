"""What a backend's ``export()`` returns to the bundle writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Artifacts:
    """Files a backend wrote into the bundle's work directory.

    ``artifact`` is the primary file (what ``load`` opens); every other file in the directory is
    hashed into the manifest too. ``info`` goes to ``manifest["backend"]`` (e.g. quantized op types,
    the trtexec command); ``versions`` to ``manifest["versions"]``.

    ``numerics`` (quantized artifacts): a zero-argument factory of a Runner that evaluates the
    *same quantized graph* independently of this CPU's integer kernels (Q/DQ as float ops, reference
    kernels), with ``numerics_how`` saying how; or ``None`` with ``numerics_how`` saying why not.
    """

    artifact: str
    info: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    numerics: Callable[[], Any] | None = None
    numerics_how: str = ""
