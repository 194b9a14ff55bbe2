"""Missing-joint handling: interpolate short gaps, split clips at long ones (with reasons)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoligait_edge.pose.clip import validate_pose

#: Joints that must be seen for a frame to count as "person present": shoulders and hips.
CORE_JOINTS: tuple[int, ...] = (5, 6, 11, 12)


@dataclass(frozen=True)
class Segment:
    """A contiguous usable part of a clip, ``pose[start:stop]``."""

    start: int
    stop: int
    pose: np.ndarray
    reason_before: str = ""  # why the clip was split just before this segment ("" for the first)


def missing_mask(pose: np.ndarray, min_confidence: float = 0.3) -> np.ndarray:
    """``[T, 17]`` bool: joint is missing (NaN/inf coordinate or confidence below threshold)."""
    pose = validate_pose(pose)
    finite = np.isfinite(pose).all(axis=-1)
    conf = np.nan_to_num(pose[..., 2], nan=0.0, posinf=0.0, neginf=0.0)
    return ~finite | (conf < min_confidence)


def interpolate_gaps(pose: np.ndarray, max_gap: int = 15, min_confidence: float = 0.3) -> np.ndarray:
    """Linearly interpolate per-joint gaps of at most ``max_gap`` frames.

    Interpolated joints get confidence ``min_confidence`` (so they are usable but
    flagged as weak). Longer gaps and gaps at the clip edges stay missing
    (x = y = NaN, confidence 0).
    """
    pose = validate_pose(pose).copy()
    miss = missing_mask(pose, min_confidence)
    pose[miss] = (np.nan, np.nan, 0.0)
    t_idx = np.arange(len(pose))
    for j in range(pose.shape[1]):
        m = miss[:, j]
        if not m.any() or m.all():
            continue
        for start, stop in _runs(m):
            if start == 0 or stop == len(pose) or stop - start > max_gap:
                continue
            a, b = start - 1, stop
            w = (t_idx[start:stop] - a) / (b - a)
            pose[start:stop, j, :2] = (1 - w)[:, None] * pose[a, j, :2] + w[:, None] * pose[b, j, :2]
            pose[start:stop, j, 2] = min_confidence
    return pose


def split_on_gaps(
    pose: np.ndarray, max_gap: int = 15, min_confidence: float = 0.3, min_length: int = 1
) -> list[Segment]:
    """Interpolate short gaps, then split where the person is lost for more than ``max_gap`` frames.

    A frame has the person when all :data:`CORE_JOINTS` are present after
    interpolation. Returns the segments (``min_length`` frames or more), each with
    the reason the clip was cut before it.
    """
    filled = interpolate_gaps(pose, max_gap, min_confidence)
    present = ~missing_mask(filled, min_confidence)[:, list(CORE_JOINTS)].any(axis=1)
    segments: list[Segment] = []
    reason = ""
    t = 0
    for start, stop in _runs(present):
        if start > t:
            reason = f"person lost for {start - t} frames ({t}–{start - 1}), more than max_gap={max_gap}"
        if stop - start >= min_length:
            segments.append(Segment(start, stop, filled[start:stop], reason if segments or start else ""))
            reason = ""
        t = stop
    return segments


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` runs where ``mask`` is True."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))
