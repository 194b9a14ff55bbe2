"""A tiny, learnable in-memory window set for tests and smoke runs (not a substitute for ScoliGait-Synth).

Positive windows get a shifted block of motion and cross-correlation features and a wider
silhouette; subjects are disjoint across splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoligait_edge.contract import N_FEATURES, SIL_H, SIL_W, WINDOW

SIGNAL_FEATURES = (slice(20, 30), slice(190, 196))  #: features that carry the label in toy data


@dataclass
class ToyWindows:
    kmap: np.ndarray
    silhouette: np.ndarray
    prompt_id: np.ndarray
    label: np.ndarray
    cobb: np.ndarray
    subject_id: np.ndarray
    clip_id: np.ndarray


def toy_windows(
    subjects: int = 8, clips: int = 2, windows: int = 2, n_prompts: int = 4, seed: int = 0, offset: int = 0
) -> ToyWindows:
    """``subjects × clips × windows`` toy windows; half the subjects are positive (Cobb ≥ 10°)."""
    rng = np.random.default_rng(seed)
    n = subjects * clips * windows
    subj = np.repeat(np.arange(subjects), clips * windows)
    label = (subj % 2).astype(np.float32)
    cobb = np.where(label > 0, 15 + 20 * rng.random(subjects)[subj], 9 * rng.random(subjects)[subj])
    kmap = rng.normal(size=(n, WINDOW, N_FEATURES)).astype(np.float32)
    for sl in SIGNAL_FEATURES:
        kmap[:, 30:70, sl] += 1.5 * label[:, None, None]
    sil = np.zeros((n, WINDOW, SIL_H, SIL_W), np.uint8)
    half = (6 + 4 * label).astype(int)
    for i in range(n):
        sil[i, :, 8:56, 22 - half[i] : 22 + half[i]] = 255
    return ToyWindows(
        kmap=kmap,
        silhouette=sil,
        prompt_id=(label.astype(np.int64) * 2 + rng.integers(0, 2, n)) % n_prompts,
        label=label,
        cobb=cobb.astype(np.float32),
        subject_id=np.array([f"toy{offset + s:04d}" for s in subj]),
        clip_id=np.array([f"toy{offset + s:04d}_c{(i // windows) % clips}" for i, s in enumerate(subj)]),
    )


def toy_splits(seed: int = 0, subjects: int = 8, n_prompts: int = 4) -> dict[str, ToyWindows]:
    """Subject-disjoint ``train``/``val``/``test`` toy sets."""
    return {
        split: toy_windows(subjects, n_prompts=n_prompts, seed=seed + k, offset=1000 * k)
        for k, split in enumerate(("train", "val", "test"))
    }
