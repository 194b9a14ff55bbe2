"""The knowledge-map state machine shared by the offline and the streaming map.

:meth:`KmapState.process` advances the state over a chunk of consecutive frames with
vectorised NumPy and returns their rows. Feeding a clip in one chunk (offline) or in
many small chunks (streaming) performs the same float64 operations in the same order:
running sums are sequential ``cumsum`` continuations of the carried sums, recurrences
(body scale) are the same scalar Python loop, and held values are forward fills from
the carried value. Hence the two paths agree to float32 rounding.
"""

from __future__ import annotations

import math

import numpy as np

from scoligait_edge.kmap import signals as S
from scoligait_edge.kmap.catalog import N_FEATURES, SIGNAL_PAIRS, SIGNALS

N_STATIC = 82  # positions 34 + pair features 16 + self-skeleton 32
N_PAIRS = len(SIGNAL_PAIRS)
_PI = np.array([p[0] for p in SIGNAL_PAIRS])
_PJ = np.array([p[1] for p in SIGNAL_PAIRS])
_PIJ = np.concatenate((_PI, _PJ))
_SIGNAL_COLS = np.arange(len(SIGNALS))
_ASYM_L = np.array([9, 15])  # left wrist, left ankle
_ASYM_R = np.array([10, 16])
_FLIP = np.array([1.0, -1.0])
_ROWS = np.arange(4097)[:, None]  # row numbers for forward fills of chunks up to 4096 frames


def _scale_step(log_scale: float, count: int, torso: float) -> float:
    """One update of the robust log body-scale EMA (shared scalar code, hence bit-identical)."""
    x = math.log(torso)
    if count == 0:
        return x
    innov = x - log_scale
    if count >= S.SCALE_WARMUP:
        innov = min(max(innov, -S.SCALE_CLIP), S.SCALE_CLIP)
    return log_scale + max(1.0 / (count + 1), S.SCALE_MIN_ALPHA) * innov


def _ffill(values: np.ndarray, ok: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """Hold each column's last valid value along axis 0 (``carry`` before the first)."""
    n, k = values.shape
    idx = ok * _ROWS[1 : n + 1] if n < len(_ROWS) else ok * np.arange(1, n + 1)[:, None]
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.concatenate((carry[None], values))[idx, np.arange(k)]


class KmapState:
    """Causal knowledge-map state: feed consecutive frames with :meth:`process`."""

    def __init__(self, fps: float = 30.0) -> None:
        self.fps = float(fps)
        self.reset()

    def reset(self) -> None:
        """Forget every frame seen so far."""
        self.frames = 0
        self.log_scale = 0.0
        self.scale_count = 0
        self.scale = 0.0  # 0 = no body scale yet
        self.prev_pos = np.zeros(34)
        self.prev_pos_ok = np.zeros(34, bool)
        self.prev_vel = np.zeros(34)
        self.prev_vel_ok = np.zeros(34, bool)
        self.prev_origin = np.zeros(2)
        self.prev_origin_ok = np.zeros(1, bool)
        self.held = np.zeros(N_STATIC)
        self.ref = np.zeros(len(SIGNALS))
        self.has_ref = np.zeros(len(SIGNALS), bool)
        self.corr_ring = np.zeros((S.CORR_WINDOW, 6 * N_PAIRS))  # contributions of the last W frames
        self.corr_sums = np.zeros(6 * N_PAIRS)

    # ------------------------------------------------------------------ steps
    def _scales(self, g: S.Geometry) -> np.ndarray:
        ok_idx = np.flatnonzero(g.torso_ok)
        n = g.torso.shape[0]
        ls, count = self.log_scale, self.scale_count
        vals = [self.scale]
        for torso in g.torso[ok_idx].tolist():
            ls = _scale_step(ls, count, torso)
            count += 1
            vals.append(math.exp(ls))
        self.log_scale, self.scale_count = ls, count
        pos = np.zeros(n, np.intp)
        pos[ok_idx] = np.arange(1, len(ok_idx) + 1)
        np.maximum.accumulate(pos, out=pos)
        scale = np.asarray(vals)[pos]
        self.scale = float(vals[-1])
        return scale

    def _derivatives(self, inst: S.Instant, g: S.Geometry) -> tuple[np.ndarray, np.ndarray]:
        """Velocities, accelerations, speeds and root motion → motion columns 34..118 and 135..139."""
        fps = self.fps
        pos = np.concatenate((self.prev_pos[None], inst.pos))
        pos_ok = np.concatenate((self.prev_pos_ok[None], inst.pos_ok))
        vel_ok = pos_ok[1:] & pos_ok[:-1]
        vel = (pos[1:] - pos[:-1]) * fps
        vel *= vel_ok
        vels = np.concatenate((self.prev_vel[None], vel))
        vels_ok = np.concatenate((self.prev_vel_ok[None], vel_ok))
        acc_ok = vels_ok[1:] & vels_ok[:-1]
        acc = (vels[1:] - vels[:-1]) * fps
        acc *= acc_ok
        v2 = vel * vel
        speed = np.sqrt(v2[:, 0::2] + v2[:, 1::2])
        speed_ok = vel_ok[:, 0::2]

        origin = np.concatenate((self.prev_origin[None], g.origin))
        origin_ok = np.concatenate((self.prev_origin_ok, g.origin_ok))
        root_ok = origin_ok[1:] & origin_ok[:-1] & inst.scale_ok
        root = np.where(
            root_ok[:, None], (origin[1:] - origin[:-1]) * (inst.inv_scale * fps)[:, None] * _FLIP, 0.0
        )
        count = speed_ok.sum(axis=1)
        mean_ok = count >= S.MIN_SPEED_JOINTS
        mean_speed = speed.sum(axis=1) / np.maximum(count, 1) * mean_ok
        asym_ok = speed_ok[:, _ASYM_L] & speed_ok[:, _ASYM_R]
        asym = (speed[:, _ASYM_L] - speed[:, _ASYM_R]) * asym_ok

        self.prev_pos, self.prev_pos_ok = pos[-1].copy(), pos_ok[-1].copy()
        self.prev_vel, self.prev_vel_ok = vels[-1].copy(), vels_ok[-1].copy()
        self.prev_origin, self.prev_origin_ok = origin[-1].copy(), origin_ok[-1:].copy()
        values = np.concatenate((vel, acc, speed, root, mean_speed[:, None], asym), axis=1)
        ok = np.concatenate(
            (vel_ok, acc_ok, speed_ok, root_ok[:, None], root_ok[:, None], mean_ok[:, None], asym_ok), 1
        )
        return values, ok

    def _correlations(self, sig: np.ndarray, sig_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sliding-window Pearson correlations of the 66 signal pairs from float64 running sums."""
        n = sig.shape[0]
        if not self.has_ref.all():  # centre each signal on its first observed value
            has_any = sig_ok.any(axis=0)
            first = sig[sig_ok.argmax(axis=0), _SIGNAL_COLS]
            self.ref = np.where(self.has_ref, self.ref, np.where(has_any, first, 0.0))
            self.has_ref = self.has_ref | has_any
        centred = np.where(sig_ok, sig - self.ref, 0.0)
        m = sig_ok[:, _PI] & sig_ok[:, _PJ]
        ab = centred[:, _PIJ] * np.concatenate((m, m), axis=1)
        contrib = np.concatenate(
            (m, ab, ab * ab, ab[:, :N_PAIRS] * ab[:, N_PAIRS:]), axis=1, dtype=np.float64
        )
        ext = np.concatenate((self.corr_ring, contrib))
        delta = contrib - ext[:n]  # add the entering frame, subtract the one leaving the window
        sums = np.cumsum(np.concatenate((self.corr_sums[None], delta)), axis=0)[1:]
        self.corr_ring = ext[-S.CORR_WINDOW :].copy()
        self.corr_sums = sums[-1].copy()

        cnt = sums[:, :N_PAIRS]
        inv = 1.0 / np.maximum(cnt, 1.0)
        mean = sums[:, N_PAIRS : 3 * N_PAIRS] * np.concatenate((inv, inv), axis=1)
        var = sums[:, 3 * N_PAIRS : 5 * N_PAIRS] * np.concatenate((inv, inv), axis=1) - mean * mean
        va, vb = var[:, :N_PAIRS], var[:, N_PAIRS:]
        cov = sums[:, 5 * N_PAIRS :] * inv - mean[:, :N_PAIRS] * mean[:, N_PAIRS:]
        ok = (cnt >= S.CORR_MIN_FRAMES) & (va > S.CORR_VAR_EPS) & (vb > S.CORR_VAR_EPS)
        r = cov / np.sqrt(np.where(ok, va * vb, 1.0))
        r = np.maximum(np.minimum(r, 1.0), -1.0)
        r *= ok
        return r, ok

    # ------------------------------------------------------------------ public
    def process(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance over ``pose`` (``[n, 17, 3]``, float32 values) → (float32 ``[n, 238]``, bool mask)."""
        n = pose.shape[0]
        if n == 0:
            return np.zeros((0, N_FEATURES), np.float32), np.zeros((0, N_FEATURES), bool)
        g = S.geometry(pose.astype(np.float64))
        inst = S.instant_features(g, self._scales(g))
        held = _ffill(inst.static, inst.static_ok, self.held)
        self.held = held[-1].copy()
        dyn, dyn_ok = self._derivatives(inst, g)
        corr, corr_ok = self._correlations(inst.signals, inst.signals_ok)
        # map layout: positions | vel, acc, speed | pairs | root, mean speed, asymmetry | skeleton | corr
        parts = (held[:, :34], dyn[:, :85], held[:, 34:50], dyn[:, 85:], held[:, 50:], corr)
        out = np.concatenate(parts, axis=1, dtype=np.float32)
        ok = inst.static_ok
        mask = np.concatenate(
            (ok[:, :34], dyn_ok[:, :85], ok[:, 34:50], dyn_ok[:, 85:], ok[:, 50:], corr_ok), axis=1
        )
        if not np.isfinite(out).all():  # defensive: inputs are bounded, so this should never trigger
            finite = np.isfinite(out)
            out[~finite] = 0.0
            mask &= finite
        self.frames += n
        return out, mask
