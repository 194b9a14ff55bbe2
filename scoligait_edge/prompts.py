"""Clinical text descriptions of a knowledge-map window, from a finite template set.

Six asymmetry cues are measured on a ``[96, 238]`` window (window means of catalog
features, so any runtime with the map can reproduce them), graded against fixed
thresholds into none / mild / moderate / marked, and the two strongest graded cues
become the description ("marked shoulder tilt and mild trunk lean"). Every possible
description is in :data:`PROMPTS` (stable order), so a device can replace the text
encoder by a precomputed embedding table indexed by the prompt id.

Cue values (all ≥ 0):

====================== ===================================================================
cue                    value over the window
====================== ===================================================================
shoulder tilt          |mean ``shoulder_tilt``| (degrees)
pelvic tilt            |mean ``pelvic_tilt``| (degrees)
trunk lean             |mean ``trunk_lean_angle``| (degrees)
arm-swing asymmetry    |mean L − mean R| / (mean L + mean R) of ``speed_left/right_wrist``
head offset            |mean (mid-ear x − mid-shoulder x)| from ``pos_*_x`` (torso lengths)
gait irregularity      |mean L − mean R| / (mean L + mean R) of ``speed_left/right_ankle``
====================== ===================================================================

A cue's grade is the number of its :data:`THRESHOLDS` it reaches (0–3); its strength
is ``value / THRESHOLDS[cue][0]``. The two strongest cues with grade ≥ 1 (ties: the
earlier cue) are named in :data:`CUES` order. Ratio denominators are floored at
:data:`RATIO_FLOOR`. Prompt ids: 0 symmetric; ``1 + 3c + (g − 1)`` for one cue ``c``
of grade ``g``; ``19 + 9p + 3(ga − 1) + (gb − 1)`` for two cues ``a < b`` where ``p``
is the pair's index in ``itertools.combinations(range(6), 2)`` order.
"""

from __future__ import annotations

import itertools

import numpy as np

from scoligait_edge.errors import ShapeError
from scoligait_edge.kmap import N_FEATURES, NAMES

CUES: tuple[str, ...] = (
    "shoulder tilt",
    "pelvic tilt",
    "trunk lean",
    "arm-swing asymmetry",
    "head offset",
    "gait irregularity",
)
SEVERITIES: tuple[str, ...] = ("mild", "moderate", "marked")
SYMMETRIC = "symmetric gait, no notable asymmetry"

#: (mild, moderate, marked) thresholds per cue, calibrated once on ScoliGait-Synth windows
#: (seed 0, 300 subjects × 3 clips × 192 frames, window 96 / hop 48: the 60th, 85th and 97th
#: percentiles of each cue, 3 significant digits) and fixed here so every runtime grades identically.
THRESHOLDS: dict[str, tuple[float, float, float]] = {
    "shoulder tilt": (4.81, 9.25, 16.1),
    "pelvic tilt": (3.03, 5.91, 9.72),
    "trunk lean": (6.74, 12.3, 19.9),
    "arm-swing asymmetry": (0.0426, 0.0722, 0.122),
    "head offset": (0.0513, 0.0985, 0.183),
    "gait irregularity": (0.0345, 0.0596, 0.0959),
}
RATIO_FLOOR = 1e-3


def _build_prompts() -> tuple[str, ...]:
    prompts = [SYMMETRIC]
    prompts += [f"{sev} {cue}, otherwise symmetric gait" for cue in CUES for sev in SEVERITIES]
    for a, b in itertools.combinations(range(len(CUES)), 2):
        for sa, sb in itertools.product(SEVERITIES, SEVERITIES):
            prompts.append(f"{sa} {CUES[a]} and {sb} {CUES[b]}")
    return tuple(prompts)


#: Every description :func:`describe` can return, in a stable order (index = prompt id).
PROMPTS: tuple[str, ...] = _build_prompts()
_PAIRS = tuple(itertools.combinations(range(len(CUES)), 2))
_PAIR_INDEX = {p: i for i, p in enumerate(_PAIRS)}
_N_SINGLE = len(CUES) * len(SEVERITIES)
_IX = {n: i for i, n in enumerate(NAMES)}


def cue_values(kmaps: np.ndarray) -> np.ndarray:
    """``[N, 6]`` float64 cue values (see module doc) of windows ``[N, W, 238]`` (or one ``[W, 238]``)."""
    k = np.asarray(kmaps, dtype=np.float64)
    if k.ndim == 2:
        k = k[None]
    if k.ndim != 3 or k.shape[2] != N_FEATURES or k.shape[1] == 0:
        raise ShapeError(f"knowledge-map windows have shape {k.shape}", f"expected [N, window, {N_FEATURES}]")
    m = np.nan_to_num(k.mean(axis=1), nan=0.0, posinf=0.0, neginf=0.0)

    def col(name: str) -> np.ndarray:
        return m[:, _IX[name]]

    def ratio(left: str, right: str) -> np.ndarray:
        a, b = col(left), col(right)
        return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), RATIO_FLOOR)

    head_x = (col("pos_left_ear_x") + col("pos_right_ear_x")) / 2
    shoulder_x = (col("pos_left_shoulder_x") + col("pos_right_shoulder_x")) / 2
    return np.stack(
        [
            np.abs(col("shoulder_tilt")),
            np.abs(col("pelvic_tilt")),
            np.abs(col("trunk_lean_angle")),
            ratio("speed_left_wrist", "speed_right_wrist"),
            np.abs(head_x - shoulder_x),
            ratio("speed_left_ankle", "speed_right_ankle"),
        ],
        axis=1,
    )


def _thresholds() -> np.ndarray:
    return np.array([THRESHOLDS[c] for c in CUES], dtype=np.float64)  # [6, 3]


def grade(values: np.ndarray) -> np.ndarray:
    """Integer grades 0 (none) … 3 (marked) of cue values ``[..., 6]``."""
    v = np.asarray(values, dtype=np.float64)
    return (v[..., None] >= _thresholds()).sum(axis=-1)


def prompt_ids(values: np.ndarray) -> np.ndarray:
    """Prompt ids ``[N]`` int64 of cue values ``[N, 6]``."""
    v = np.asarray(values, dtype=np.float64)
    grades = grade(v)
    strength = v / _thresholds()[:, 0]
    out = np.zeros(len(v), dtype=np.int64)
    for n in range(len(v)):
        graded = np.flatnonzero(grades[n] > 0)
        if graded.size == 0:
            continue
        top = graded[np.argsort(-strength[n, graded], kind="stable")][:2]
        cues = sorted(int(c) for c in top)
        if len(cues) == 1:
            out[n] = 1 + cues[0] * 3 + int(grades[n, cues[0]]) - 1
        else:
            a, b = cues
            out[n] = (
                1 + _N_SINGLE + _PAIR_INDEX[(a, b)] * 9 + (int(grades[n, a]) - 1) * 3 + int(grades[n, b]) - 1
            )
    return out


def describe_batch(kmaps: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Prompt ids ``[N]`` int64 and texts of windows ``[N, W, 238]``."""
    ids = prompt_ids(cue_values(kmaps))
    return ids, [PROMPTS[i] for i in ids]


def describe(kmap_window: np.ndarray) -> tuple[int, str]:
    """Prompt id and text of one window ``[W, 238]``."""
    k = np.asarray(kmap_window)
    if k.ndim != 2:
        raise ShapeError(
            f"one knowledge-map window must be [window, {N_FEATURES}], got {k.shape}", "pass a single window"
        )
    ids, texts = describe_batch(k[None])
    return int(ids[0]), texts[0]


def calibrate_thresholds(
    kmaps: np.ndarray, percentiles: tuple[float, float, float] = (60, 85, 97)
) -> dict[str, tuple[float, ...]]:
    """Percentile thresholds of each cue over windows ``[N, W, 238]`` (how :data:`THRESHOLDS` was made)."""
    v = cue_values(kmaps)
    return {c: tuple(float(np.percentile(v[:, i], p)) for p in percentiles) for i, c in enumerate(CUES)}
