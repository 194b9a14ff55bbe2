"""Explanations: the model's saliency over the knowledge map → top features per domain with time spans."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from scoligait_edge.errors import ShapeError
from scoligait_edge.kmap.catalog import CATALOG, DOMAINS
from scoligait_edge.models.base import ScoliGaitModel
from scoligait_edge.models.contract import FPS, N_FEATURES, SIL_H, SIL_W, WINDOW


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


@torch.no_grad()
def explain_clip(
    model: ScoliGaitModel,
    kmap: np.ndarray,
    silhouette: np.ndarray | None,
    prompt_ids: np.ndarray,
    hop: int = WINDOW // 2,
    top_k: int = 5,
    fps: float = FPS,
) -> dict[str, Any]:
    """Explain a whole clip: per-window outputs, clip probability (window mean), overlap-added saliency.

    ``kmap [T, 238]``, ``silhouette [T, 64, 44]`` (zeros when None), ``prompt_ids`` one per window.
    """
    kmap = np.asarray(kmap, np.float32)
    if kmap.ndim != 2 or kmap.shape[1] != N_FEATURES:
        raise ShapeError(f"knowledge map must be [T, {N_FEATURES}], got {kmap.shape}", "compute it with kmap")
    n = kmap.shape[0]
    starts = window_starts(n, hop)
    if silhouette is None:
        silhouette = np.zeros((n, SIL_H, SIL_W), np.float32)
    sil = np.asarray(silhouette, np.float32)
    if sil.shape != (n, SIL_H, SIL_W):
        raise ShapeError(
            f"silhouettes must be [{n}, {SIL_H}, {SIL_W}], got {sil.shape}", "re-extract the clip"
        )
    pid = np.asarray(prompt_ids, np.int64).reshape(-1)
    if len(pid) != len(starts):
        raise ShapeError(
            f"need {len(starts)} prompt ids (one per window), got {len(pid)}", "describe each window"
        )
    model.eval()
    km = torch.from_numpy(np.stack([kmap[s : s + WINDOW] for s in starts]))
    sv = torch.from_numpy(np.stack([sil[s : s + WINDOW] for s in starts]))
    out = model(km, sv, torch.from_numpy(pid))
    acc = np.zeros((n, N_FEATURES), np.float64)
    cover = np.zeros((n, 1), np.float64)
    for s, m in zip(starts, out["saliency"].numpy(), strict=True):
        acc[s : s + WINDOW] += m
        cover[s : s + WINDOW] += 1
    sal = acc / np.maximum(cover, 1)
    sal /= max(sal.sum(), 1e-30)
    prob = float(out["referral_prob"].mean())
    thr = float(model.threshold)
    return {
        "referral_prob": prob,
        "threshold": thr,
        "refer": bool(prob >= thr),
        "cobb_angle": float(out["cobb_angle"].mean()),
        "windows": [
            {"start": s, "end": s + WINDOW, "referral_prob": float(p)}
            for s, p in zip(starts, out["referral_prob"].numpy(), strict=True)
        ],
        "saliency": sal.astype(np.float32),
        "top_features": top_features(sal, top_k, fps),
    }


def clip_inputs(clip: Any, hop: int = WINDOW // 2) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Knowledge map ``[T, 238]``, silhouettes ``[T, 64, 44]`` in [0, 1] (or None) and one prompt id
    per window (from `scoligait_edge.data.text.describe`) for a `scoligait_edge.pose.Clip`."""
    from scoligait_edge.data.text import describe
    from scoligait_edge.kmap import knowledge_map

    kmap = knowledge_map(clip.pose, clip.fps)
    sil = None
    if clip.silhouettes is not None:
        s = np.asarray(clip.silhouettes)
        sil = s.astype(np.float32) / 255.0 if s.dtype == np.uint8 else s.astype(np.float32)
    ids = [describe(kmap[s : s + WINDOW]) for s in window_starts(len(kmap), hop)]
    return kmap, sil, np.asarray([prompt_index(i) for i in ids], np.int64)


def prompt_index(described: Any) -> int:
    """`describe` may return the prompt id or the prompt text; map either to the id."""
    if isinstance(described, str):
        from scoligait_edge.data.text import PROMPTS

        return list(PROMPTS).index(described)
    if isinstance(described, tuple | list):
        return prompt_index(described[0])
    return int(described)
