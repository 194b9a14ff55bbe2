"""Saliency over the knowledge map → named catalog features and time spans (numpy only).

Shared by the PyTorch explanations (``screen.explain``), ``screen`` and the device side: a
``[T, 238]`` map of attention (sums to 1) becomes the top features per domain with their clinical
labels, share of saliency and the contiguous span around each feature's peak.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scoligait_edge.contract import FPS, N_FEATURES, WINDOW
from scoligait_edge.errors import ShapeError
from scoligait_edge.kmap.catalog import CATALOG, DOMAINS


def top_feature_indices(saliency: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` features with the largest total saliency over time (ties by index)."""
    score = np.asarray(saliency, np.float64).sum(axis=0)
    return np.argsort(-score, kind="stable")[:k]


def time_span(profile: np.ndarray, frac: float = 0.5) -> tuple[int, int]:
    """Contiguous frames ``[start, end)`` around the peak where ``profile ≥ frac · peak``."""
    p = np.asarray(profile, np.float64)
    t = int(np.argmax(p))
    thr = frac * p[t]
    s, e = t, t + 1
    while s > 0 and p[s - 1] >= thr:
        s -= 1
    while e < len(p) and p[e] >= thr:
        e += 1
    return s, e


def top_features(
    saliency: np.ndarray, top_k: int = 5, fps: float = FPS, frame_offset: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """Top ``top_k`` features per domain: catalog name, label, score (share of all saliency), time span."""
    sal = np.asarray(saliency, np.float64)
    if sal.ndim != 2 or sal.shape[1] != N_FEATURES:
        raise ShapeError(f"saliency must be [T, {N_FEATURES}], got {sal.shape}", "pass one sample's map")
    total = max(float(sal.sum()), 1e-30)
    out: dict[str, list[dict[str, Any]]] = {}
    for domain, sl in DOMAINS.items():
        idx = top_feature_indices(sal[:, sl], top_k) + sl.start
        rows = []
        for i in idx:
            s, e = time_span(sal[:, i])
            f = CATALOG[int(i)]
            rows.append(
                {
                    "index": int(i),
                    "name": f.name,
                    "label": f.label,
                    "domain": f.domain,
                    "score": float(sal[:, i].sum() / total),
                    "frames": [frame_offset + s, frame_offset + e],
                    "seconds": [round((frame_offset + s) / fps, 3), round((frame_offset + e) / fps, 3)],
                }
            )
        out[domain] = rows
    return out


def window_starts(n_frames: int, hop: int) -> list[int]:
    """Window starts covering a clip (the last window is flush with the end)."""
    if n_frames < WINDOW:
        raise ShapeError(
            f"clip has {n_frames} frames, a window needs {WINDOW}",
            f"use a clip of at least {WINDOW / FPS:.1f} s",
        )
    starts = list(range(0, n_frames - WINDOW + 1, hop))
    if starts[-1] != n_frames - WINDOW:
        starts.append(n_frames - WINDOW)
    return starts


def clip_saliency(starts: list[int] | np.ndarray, saliency: np.ndarray, n_frames: int) -> np.ndarray:
    """Overlap-add window saliency ``[N, 96, 238]`` onto the frames (mean over cover, sums to 1; float64)."""
    sal = np.asarray(saliency, np.float64)
    acc = np.zeros((n_frames, sal.shape[2]), np.float64)
    cover = np.zeros((n_frames, 1), np.float64)
    for s, m in zip(starts, sal, strict=True):
        acc[s : s + sal.shape[1]] += m
        cover[s : s + sal.shape[1]] += 1
    out = acc / np.maximum(cover, 1)
    return out / max(out.sum(), 1e-30)
