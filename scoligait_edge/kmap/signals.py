"""Per-frame (memoryless) geometry of the knowledge map, vectorised over a leading time axis.

Everything here maps frames to values independently of other frames, so the offline map
(all frames at once) and the streaming map (a few frames at a time) run the very same code.
The recurrent parts (body scale, held values, derivatives, running correlations) live in
:mod:`scoligait_edge.kmap.state`. The code favours few, large NumPy calls: streaming cost
is dominated by per-call overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoligait_edge.kmap.catalog import ANGLES, SEGMENTS, SYM_PAIRS, TILTS

MIN_CONFIDENCE = 0.3  #: a joint is observed when finite and confidence >= this (pose.gaps default)
MIN_TORSO_FRACTION = (
    1e-3  #: torso shorter than this × the farthest joint's distance does not update the scale
)
MAX_COORD = 50.0  #: normalised joints farther than this (torso lengths) from mid-hip are unobserved
SCALE_MIN_ALPHA = 1.0 / 8.0  #: smallest EMA weight of the log body scale
SCALE_WARMUP = 4  #: accepted torso frames before log-scale updates are clipped
SCALE_CLIP = 0.2  #: max |log(torso) − log(scale)| one frame may contribute after warm-up
MIN_SEGMENT = 1e-3  #: shortest segment (torso units) an angle or tilt is computed from
MIN_HIP_WIDTH = 0.1  #: shortest hip width (torso units) the shoulder/hip width ratio is computed from
MIN_SPEED_JOINTS = 6  #: joints needed for the mean joint speed
CORR_WINDOW = 32  #: frames of the sliding cross-correlation window
CORR_MIN_FRAMES = 8  #: paired frames a correlation needs
CORR_VAR_EPS = 1e-8  #: a signal with smaller window variance counts as constant

_FLIP = np.array([1.0, -1.0])  # image y down → body y up
# Difference vectors V = P[:, _V1] − P[:, _V2]: segments 0..11, angle arms B→A 12..19 and
# B→C 20..27, symmetric pairs (left − right) 28..35.
_V1 = np.array(
    [s[2] for s in SEGMENTS] + [a[2] for a in ANGLES] + [a[4] for a in ANGLES] + [p[1] for p in SYM_PAIRS]
)
_V2 = np.array(
    [s[3] for s in SEGMENTS] + [a[3] for a in ANGLES] + [a[3] for a in ANGLES] + [p[2] for p in SYM_PAIRS]
)
_PAIR0 = 28
_PAIR_OF = {(p[1], p[2]): i for i, p in enumerate(SYM_PAIRS)}
_TILT_PAIRS = np.array([_PAIR_OF[(t[2], t[3])] for t in TILTS])
_TILT_V = _PAIR0 + _TILT_PAIRS
_SHOULDER_V = _PAIR0 + _PAIR_OF[(5, 6)]
assert [s[0] for s in SEGMENTS[8:10]] == ["shoulder_width", "hip_width"]
assert [t[0] for t in TILTS[:2]] == ["shoulder_tilt", "pelvic_tilt"]
# Signals gathered from src = [y of 17 joints | 14 angle/tilt/lean degrees | mid-shoulder x | head x];
# signals 0, 1 and 11 subtract a second column (shoulder y, shoulder y, mid-shoulder x).
_SRC_DEG, _SRC_MSX, _SRC_HEAD = 17, 31, 32
_SIG_SRC = np.array(
    [9, 10, _SRC_DEG + 0, _SRC_DEG + 1, 13, 14, 15, 16, _SRC_DEG + 8, _SRC_DEG + 9, _SRC_MSX, _SRC_HEAD]
)
_SIG_SUB = np.array([0, 1, 11])
_SIG_SUB_SRC = np.array([5, 6, _SRC_MSX])


@dataclass
class Geometry:
    """Pixel-space geometry of ``n`` frames."""

    rel: np.ndarray  # [n, 17, 2] joint − mid-hip in pixels (0 where not visible)
    visible: np.ndarray  # [n, 17] bool: joint observed and both hips observed
    origin: np.ndarray  # [n, 2] mid-hip in pixels (meaningful where origin_ok)
    origin_ok: np.ndarray  # [n] bool
    torso: np.ndarray  # [n] |mid-shoulder − mid-hip| in pixels
    torso_ok: np.ndarray  # [n] bool: this torso may update the body scale


def geometry(pose: np.ndarray) -> Geometry:
    """Observed joints, mid-hip origin and torso length of ``pose`` (float64 ``[n, 17, 3]``)."""
    obs = np.isfinite(pose).all(axis=2)
    obs &= pose[:, :, 2] >= MIN_CONFIDENCE
    xy = np.where(obs[:, :, None], pose[:, :, :2], 0.0)  # no NaN/inf past this line
    origin = (xy[:, 11] + xy[:, 12]) * 0.5
    origin_ok = obs[:, 11] & obs[:, 12]
    visible = obs & origin_ok[:, None]
    rel = (xy - origin[:, None]) * visible[:, :, None]
    twice = rel[:, 5] + rel[:, 6]
    torso = np.sqrt((twice * twice).sum(axis=1)) * 0.5
    reach = np.abs(rel).max(axis=(1, 2))
    torso_ok = visible[:, 5] & visible[:, 6] & (torso > MIN_TORSO_FRACTION * reach)
    return Geometry(rel, visible, origin, origin_ok, torso, torso_ok)


@dataclass
class Instant:
    """Memoryless features of ``n`` frames in body-centred, torso-normalised coordinates."""

    inv_scale: np.ndarray  # [n] 1 / body scale (1 where undefined)
    scale_ok: np.ndarray  # [n] bool
    pos: np.ndarray  # [n, 34] joint x, y interleaved (0 where invalid)
    pos_ok: np.ndarray  # [n, 34]
    static: np.ndarray  # [n, 82] positions (34), pair features (16), self-skeleton (32)
    static_ok: np.ndarray  # [n, 82]
    signals: np.ndarray  # [n, 12]
    signals_ok: np.ndarray  # [n, 12]


def instant_features(g: Geometry, scale: np.ndarray) -> Instant:
    """Normalise joints by ``scale`` (``[n]``, 0 = undefined) and compute the memoryless features."""
    n = scale.shape[0]
    scale_ok = scale > 0
    inv = 1.0 / np.where(scale_ok, scale, 1.0)
    P = g.rel * (inv[:, None, None] * _FLIP)  # finite: float32-range input, scale ≥ float32 tiny
    pv = g.visible & scale_ok[:, None] & (np.abs(P) <= MAX_COORD).all(axis=2)
    P *= pv[:, :, None]
    pos = P.reshape(n, 34)

    V = P[:, _V1] - P[:, _V2]
    V_ok = pv[:, _V1] & pv[:, _V2]
    norm = np.sqrt((V * V).sum(axis=2))
    long = norm > MIN_SEGMENT
    ba, bc = V[:, 12:20], V[:, 20:28]
    cross = ba[:, :, 0] * bc[:, :, 1] - ba[:, :, 1] * bc[:, :, 0]
    dot = (ba * bc).sum(axis=2)
    ang_ok = V_ok[:, 12:20] & V_ok[:, 20:28] & long[:, 12:20] & long[:, 20:28]
    tilt = V[:, _TILT_V]
    tilt_ok = V_ok[:, _TILT_V] & long[:, _TILT_V]
    ms = (P[:, 5] + P[:, 6]) * 0.5
    sh_ok = V_ok[:, _SHOULDER_V]
    lean_ok = sh_ok & ((ms * ms).sum(axis=1) > MIN_SEGMENT * MIN_SEGMENT)
    num = np.concatenate((np.abs(cross), tilt[:, :, 1], ms[:, :1]), axis=1)
    den = np.concatenate((dot, np.abs(tilt[:, :, 0]), ms[:, 1:]), axis=1)
    deg = np.arctan2(num, den) * (180.0 / np.pi)  # 8 angles, 5 tilts, trunk lean
    rot_ok = np.concatenate((ang_ok, tilt_ok, lean_ok[:, None]), axis=1)

    pair = V[:, _PAIR0:]
    pair = np.concatenate((np.abs(pair[:, :, :1]), pair[:, :, 1:]), axis=2).reshape(n, 16)
    seg, seg_ok = norm[:, :12], V_ok[:, :12]
    left, right = seg[:, 0:8:2], seg[:, 1:8:2]
    total = left + right
    sym_ok = seg_ok[:, 0:8:2] & seg_ok[:, 1:8:2] & (total > MIN_SEGMENT)
    sym = (left - right) / np.where(sym_ok, total, 1.0)
    wr_ok = seg_ok[:, 8:9] & seg_ok[:, 9:10] & (seg[:, 9:10] > MIN_HIP_WIDTH)
    wr = seg[:, 8:9] / np.where(wr_ok, seg[:, 9:10], 1.0)
    tr_ok = (g.torso_ok & scale_ok)[:, None]
    tr = (g.torso * inv)[:, None]

    pos_ok = np.repeat(pv, 2, axis=1)
    static = np.concatenate((pos, pair, seg, deg[:, :8], sym, deg[:, 8:], wr, tr), axis=1)
    static_ok = np.concatenate(
        (pos_ok, np.repeat(V_ok[:, _PAIR0:], 2, axis=1), seg_ok, ang_ok, sym_ok, rot_ok[:, 8:], wr_ok, tr_ok),
        axis=1,
    )

    ears = pv[:, 3] & pv[:, 4]
    head_x = np.where(ears, (P[:, 3, 0] + P[:, 4, 0]) * 0.5, P[:, 0, 0])
    head_ok = (ears | pv[:, 0]) & sh_ok
    src = np.concatenate((P[:, :, 1], deg, ms[:, :1], head_x[:, None]), axis=1)
    src_ok = np.concatenate((pv, rot_ok, sh_ok[:, None], head_ok[:, None]), axis=1)
    sig = src[:, _SIG_SRC]
    sig[:, _SIG_SUB] -= src[:, _SIG_SUB_SRC]
    sig_ok = src_ok[:, _SIG_SRC]
    sig_ok[:, _SIG_SUB] &= src_ok[:, _SIG_SUB_SRC]
    return Instant(inv, scale_ok, pos, pos_ok, static, static_ok, sig, sig_ok)
