"""The screening rules the Kotlin core implements, taken from the product: ``scoligait_edge.screen``.

The quality gate and the clip rule live in ``scoligait_edge/screen/quality.py`` (what
``scoligait-edge screen`` runs); ``make_vectors.py`` uses them to write the expected verdicts the
Kotlin tests compare against, so the phone and the Python command answer with the same rules.
"""

from __future__ import annotations

import numpy as np

from scoligait_edge.kmap.saliency import clip_saliency as _clip_saliency
from scoligait_edge.screen.quality import (  # noqa: F401  (re-exported for make_vectors.py)
    CHECKS,
    JUMP_TORSOS,
    MAX_MULTI_PERSON_FRACTION,
    MAX_TRACK_JUMPS,
    MIN_CONFIDENCE,
    MIN_FRAMES,
    MIN_GAIT_CYCLES,
    MIN_PERSON_HEIGHT_PX,
    MIN_PROGRESSION,
    MIN_SOURCE_FPS,
    MIN_TRACKED_FRACTION,
    MIN_VIEW_RATIO,
    PROGRESSION_FRAMES,
    STEP_HYSTERESIS,
    Check,
    Quality,
    quality,
)
from scoligait_edge.screen.quality import clip_verdict as verdict  # noqa: F401


def clip_saliency(window_ends: list[int], saliency: np.ndarray, n_frames: int) -> np.ndarray:
    """Overlap-add window saliency ``[N, 96, 238]`` onto the clip's frames (windows given by their end)."""
    starts = [int(e) - saliency.shape[1] for e in window_ends]
    return _clip_saliency(starts, saliency, n_frames)
