"""Heatmap PNG of a knowledge map (features × time), optionally with a saliency overlay."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from scoligait_edge.errors import ShapeError
from scoligait_edge.fileio import atomic_path
from scoligait_edge.kmap.catalog import DOMAINS, N_FEATURES

_DOMAIN_TITLES = {"motion": "motion space", "skeleton": "self-skeleton", "crosscorr": "cross-correlation"}


def zscore_features(kmap: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-feature z-score over time (valid cells only when ``mask`` is given); constant features → 0."""
    x = np.asarray(kmap, np.float64)
    valid = np.ones(x.shape, bool) if mask is None else np.asarray(mask, bool)
    cnt = np.maximum(valid.sum(axis=0), 1)
    mean = np.where(valid, x, 0.0).sum(axis=0) / cnt
    var = np.where(valid, (x - mean) ** 2, 0.0).sum(axis=0) / cnt
    std = np.sqrt(var)
    z = np.where(std > 1e-12, (x - mean) / np.where(std > 1e-12, std, 1.0), 0.0)
    return np.clip(z, -3.0, 3.0)


def _check(name: str, arr: np.ndarray | None, shape: tuple[int, ...] | None = None) -> np.ndarray | None:
    if arr is None:
        return None
    a = np.asarray(arr)
    expected = shape or ("T", N_FEATURES)
    if a.ndim != 2 or a.shape[1] != N_FEATURES or (shape is not None and a.shape != shape):
        raise ShapeError(
            f"{name} has shape {a.shape}, expected {expected}", f"pass a [T, {N_FEATURES}] array"
        )
    return a


def save_heatmap(
    kmap: np.ndarray,
    path: str | os.PathLike,
    *,
    title: str = "",
    saliency: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    fps: float = 30.0,
    force: bool = False,
) -> Path:
    """Write a PNG heatmap of ``kmap`` (``[T, 238]``): features top to bottom, time left to right.

    Each feature is z-scored over time; domain boundaries are drawn and labelled. Invalid
    cells (``mask`` False) are grey. ``saliency`` (same shape, e.g. attention mapped onto the
    map) is drawn as contours over the map plus a per-feature bar panel. The write is atomic
    and refuses to replace an existing file unless ``force``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    km = _check("kmap", kmap)
    assert km is not None
    mk = _check("mask", mask, km.shape)
    sal = _check("saliency", saliency, km.shape)
    t = km.shape[0]
    z = zscore_features(km, mk)
    img = np.ma.masked_array(z.T, mask=None if mk is None else ~mk.T.astype(bool))

    fig = Figure(figsize=(11, 8) if sal is None else (13, 8), dpi=110)
    FigureCanvasAgg(fig)
    if sal is None:
        ax = fig.add_subplot(1, 1, 1)
    else:
        gs = fig.add_gridspec(1, 2, width_ratios=(6, 1), wspace=0.05)
        ax = fig.add_subplot(gs[0])
        side = fig.add_subplot(gs[1], sharey=ax)
    cmap = _cmap()
    extent = (0.0, t / float(fps), N_FEATURES - 0.5, -0.5)
    im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=-3, vmax=3, interpolation="nearest", extent=extent)
    for dom, sl in DOMAINS.items():
        if sl.start:
            ax.axhline(sl.start - 0.5, color="black", lw=1.2)
        ax.text(
            1.005 if sal is None else 0.005,
            1.0 - (sl.start + sl.stop) / 2 / N_FEATURES,
            f"{_DOMAIN_TITLES[dom]}\n{sl.start}–{sl.stop - 1}",
            transform=ax.transAxes,
            rotation=90 if sal is None else 0,
            va="center",
            ha="left",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.7, "lw": 0} if sal is not None else None,
        )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("feature index")
    ax.set_title(title or f"Kinematic knowledge map ({t} frames, per-feature z-score)")
    fig.colorbar(im, ax=ax if sal is None else [ax, side], fraction=0.03, pad=0.06, label="z-score")
    if sal is not None:
        s = np.asarray(sal, np.float64)
        s = np.where(np.isfinite(s), s, 0.0)
        lo, hi = float(s.min()), float(s.max())
        norm = (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)
        if t > 1 and hi > lo:
            tt = (np.arange(t) + 0.5) / fps
            ax.contour(
                tt,
                np.arange(N_FEATURES),
                norm.T,
                levels=[0.5, 0.8],
                colors=["lime", "magenta"],
                linewidths=0.8,
            )
        side.barh(np.arange(N_FEATURES), norm.mean(axis=0), height=1.0, color="tab:purple")
        side.set_xlabel("mean saliency")
        side.tick_params(labelleft=False)
        for sl in DOMAINS.values():
            if sl.start:
                side.axhline(sl.start - 0.5, color="black", lw=1.2)
    with atomic_path(path, force=force) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return Path(path)


def _cmap():
    from matplotlib import colormaps

    return colormaps["RdBu_r"].with_extremes(bad="0.75")
