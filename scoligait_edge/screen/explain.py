"""Explanations: the model's saliency over the knowledge map → top features per domain with time spans."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from scoligait_edge.contract import FPS, N_FEATURES, SIL_H, SIL_W, WINDOW
from scoligait_edge.errors import ShapeError
from scoligait_edge.kmap.saliency import top_features, window_starts
from scoligait_edge.models.base import ScoliGaitModel


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
    km = np.stack([kmap[s : s + WINDOW] for s in starts])
    sv = np.stack([sil[s : s + WINDOW] for s in starts])
    return explain_windows(model, km, sv, pid, np.asarray(starts), n, top_k, fps)


@torch.no_grad()
def explain_windows(
    model: ScoliGaitModel,
    kmap: np.ndarray,
    silhouette: np.ndarray,
    prompt_id: np.ndarray,
    starts: np.ndarray,
    n_frames: int,
    top_k: int = 5,
    fps: float = FPS,
) -> dict[str, Any]:
    """Explain ready-made windows (``kmap [N, 96, 238]`` …) of an ``n_frames`` clip.

    ``starts`` are clip frames of each window's first row (negative for start-padded short
    clips, as `scoligait_edge.data.windows.clip_windows` makes them). The clip probability is
    the mean of the window probabilities; saliency is overlap-added onto the clip's frames
    (padding rows dropped) and renormalised to sum 1.
    """
    if len(kmap) == 0:
        raise ShapeError("no windows to explain", f"use a clip of at least {WINDOW} frames")
    model.eval()
    out = model(
        torch.from_numpy(np.asarray(kmap, np.float32)),
        torch.from_numpy(np.asarray(silhouette, np.float32)),
        torch.from_numpy(np.asarray(prompt_id, np.int64)),
    )
    acc = np.zeros((n_frames, N_FEATURES), np.float64)
    cover = np.zeros((n_frames, 1), np.float64)
    for s, m in zip(np.asarray(starts).tolist(), out["saliency"].numpy(), strict=True):
        lo, hi = max(s, 0), min(s + WINDOW, n_frames)
        acc[lo:hi] += m[lo - s : hi - s]
        cover[lo:hi] += 1
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
            {"start": int(s), "end": int(s) + WINDOW, "referral_prob": float(p)}
            for s, p in zip(np.asarray(starts).tolist(), out["referral_prob"].numpy(), strict=True)
        ],
        "saliency": sal.astype(np.float32),
        "top_features": top_features(sal, top_k, fps),
    }


def explain_clip_file(model: ScoliGaitModel, clip: Any, top_k: int = 5) -> tuple[dict[str, Any], np.ndarray]:
    """Explain a `scoligait_edge.pose.Clip` with the dataset's own windowing
    (`scoligait_edge.data.windows.clip_windows`: hop 48, short clips start-padded).
    Returns the explanation and the clip's knowledge map ``[T, 238]`` (for plotting)."""
    from scoligait_edge.data.windows import clip_kmap, clip_windows

    w = clip_windows(clip)
    n = len(clip)
    res = explain_windows(model, w["kmap"], w["silhouette"], w["prompt_id"], w["start"], n, top_k, clip.fps)
    kmap, _, pad = clip_kmap(clip)
    res["silhouettes"] = clip.silhouettes is not None
    return res, kmap[pad:]


def clip_inputs(clip: Any, hop: int = WINDOW // 2) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Inputs for `explain_clip`: knowledge map ``[T, 238]``, silhouettes ``[T, 64, 44]`` in [0, 1]
    (or None) and one prompt id per window of `window_starts` (via `scoligait_edge.prompts.describe`)."""
    from scoligait_edge.kmap import knowledge_map
    from scoligait_edge.prompts import describe

    kmap = knowledge_map(clip.pose, clip.fps)
    sil = None
    if clip.silhouettes is not None:
        s = np.asarray(clip.silhouettes)
        sil = s.astype(np.float32) / 255.0 if s.dtype == np.uint8 else s.astype(np.float32)
    ids = [prompt_index(describe(kmap[s : s + WINDOW])) for s in window_starts(len(kmap), hop)]
    return kmap, sil, np.asarray(ids, np.int64)


def prompt_index(described: Any) -> int:
    """`describe` returns ``(prompt_id, text)``; accept that, a bare id or the prompt text."""
    if isinstance(described, str):
        from scoligait_edge.prompts import PROMPTS

        return list(PROMPTS).index(described)
    if isinstance(described, tuple | list):
        return prompt_index(described[0])
    return int(described)
