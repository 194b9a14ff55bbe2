"""scoligait-edge: edge-optimized inference toolkit for gait-based scoliosis screening."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from scoligait_edge.runtime.base import Runner


def load_bundle(path: Any, **kwargs: Any) -> Runner:
    """Open any exported bundle directory and return its :class:`Runner`."""
    from scoligait_edge.export import load_bundle as _load

    return _load(path, **kwargs)
