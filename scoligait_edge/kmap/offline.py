"""Offline knowledge map of a whole clip."""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np

from scoligait_edge.errors import PoseError
from scoligait_edge.kmap.state import KmapState
from scoligait_edge.pose.clip import validate_pose


def check_fps(fps: float) -> float:
    """Return ``fps`` as float or raise :class:`PoseError` if it is not a positive finite number."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise PoseError(f"fps must be a positive number, got {fps!r}", "pass the clip's real frame rate")
    return value


@overload
def knowledge_map(pose: np.ndarray, fps: float = ..., *, return_mask: Literal[False] = ...) -> np.ndarray: ...
@overload
def knowledge_map(
    pose: np.ndarray, fps: float = ..., *, return_mask: Literal[True]
) -> tuple[np.ndarray, np.ndarray]: ...
def knowledge_map(
    pose: np.ndarray, fps: float = 30.0, *, return_mask: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Kinematic knowledge map of a COCO-17 clip.

    ``pose`` is ``[T, 17, 3]`` (x, y, confidence) in any pixel unit. Returns float32
    ``[T, 238]`` (columns as in :data:`~scoligait_edge.kmap.CATALOG`), or ``(map, mask)``
    with a bool ``[T, 238]`` validity mask when ``return_mask``. Every row depends only on
    frames up to it; values are always finite. Derivatives are per second (scaled by ``fps``).
    Raises :class:`~scoligait_edge.errors.ShapeError` on a wrong shape or dtype.
    """
    arr = validate_pose(pose, name="pose")
    out, mask = KmapState(check_fps(fps)).process(arr)
    return (out, mask) if return_mask else out
