"""ScoliGait-Synth: a deterministic generator of walking subjects with scoliosis-like asymmetries.

Each subject gets a Cobb angle (about half below 10°, a tail past 40°), a body
(height, proportions, clothing bulk), a gait (cadence, stride, arm swing) and a
set of static frontal-plane asymmetries whose strength grows with the Cobb angle
(shoulder-line tilt, pelvic tilt, trunk lateral shift and lean, arm-swing and
arm-to-trunk asymmetry, head offset), each with its own subject-level gain so the
mapping from Cobb angle to appearance is noisy. Confounders that mimic those signs
without scoliosis (antalgic limp, leg-length difference, a bag carried on one side,
habitual lean, camera roll) hit negatives more often than positives.

A clip is a 3-D walk projected by a pinhole camera placed on the walking line
(Scoliosis1K views): view ``"000"`` — the subject walks *toward* the camera (front
view, grows in the image); view ``"180"`` — walks *away* (back view, shrinks). So
lateral (x) and vertical (y) image motion carry the asymmetries. The 2-D pose then
gets pose-estimator noise (jitter scaled to the person's size, confidences, single
joint dropouts and short full-frame losses); silhouettes are rendered from the
clean projection.

Determinism: subject ``i`` of seed ``s`` is drawn from ``default_rng([s, i])`` and
its clip ``k`` from ``default_rng([s, i, k + 1])``, so the same seed gives
byte-identical arrays and a larger dataset extends a smaller one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.contract import FPS, REFERRAL_COBB_DEG
from scoligait_edge.data.render import BodyShape, render_silhouettes
from scoligait_edge.errors import DatasetError
from scoligait_edge.pose.clip import Clip

GENERATOR_VERSION = "scoligait-synth/2"
VIEWS = ("000", "180")  #: "000": walking toward the camera (front); "180": walking away (back)
IMAGE_W, IMAGE_H = 1280, 720

_L, _R = +1.0, -1.0  # lateral sign of the subject's left / right side (X points to the subject's left)


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator (defaults are the calibrated difficulty; see ``data.difficulty``)."""

    frames: int = 192
    fps: float = FPS
    asym_gain: float = 1.0  #: scales every Cobb-driven asymmetry
    noise_gain: float = 1.0  #: scales pose-estimator jitter
    confounder_gain: float = 1.0  #: scales confounder probabilities
    positive_rate: float = 0.5  #: share of subjects with Cobb >= 10°

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise DatasetError(f"frames must be >= 1, got {self.frames}", "ask for at least one frame")
        if not 0.0 <= self.positive_rate <= 1.0:
            raise DatasetError(f"positive_rate {self.positive_rate} is not in [0, 1]", "give a fraction")


@dataclass
class Subject:
    """One synthetic child: Cobb angle, body, gait and asymmetry parameters."""

    index: int
    subject_id: str
    cobb_angle: float
    label: int
    height: float  # metres
    body: dict[str, float]
    gait: dict[str, float]
    asym: dict[str, float]  # static asymmetries (radians / metres / fractions), scoliosis + natural
    confounders: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Subjects
# ---------------------------------------------------------------------------------------------


def sample_cobb(rng: np.random.Generator, positive_rate: float = 0.5) -> float:
    """Cobb angle in degrees: negatives spread over [0, 10), positives 10 + a long gamma tail."""
    if rng.random() < positive_rate:
        return float(min(10.0 + rng.gamma(1.4, 8.0), 70.0))
    # Below threshold: many near-straight spines, some 5-10° asymmetries that do not reach referral.
    return float(min(rng.gamma(2.0, 2.4), 9.95))


def subject_id_for(index: int) -> str:
    """Stable subject id of subject ``index``."""
    return f"s{index:05d}"


def sample_subject(seed: int, index: int, cfg: SynthConfig = SynthConfig()) -> Subject:
    """Draw subject ``index`` of dataset ``seed`` (independent of how many subjects are drawn)."""
    rng = np.random.default_rng([seed, index])
    cobb = sample_cobb(rng, cfg.positive_rate)
    label = int(cobb >= REFERRAL_COBB_DEG)
    height = float(np.clip(rng.normal(1.56, 0.10), 1.25, 1.90))
    prop = lambda mean, sd: float(mean * (1.0 + rng.normal(0.0, sd)))  # noqa: E731
    body = {
        "shoulder_w": prop(0.235, 0.06) * height,
        "hip_w": prop(0.165, 0.06) * height,
        "torso": prop(0.295, 0.04) * height,  # mid-hip to mid-shoulder
        "thigh": prop(0.245, 0.03) * height,
        "shank": prop(0.245, 0.03) * height,
        "upper_arm": prop(0.186, 0.04) * height,
        "forearm": prop(0.150, 0.04) * height,
        "neck": prop(0.055, 0.10) * height,
        "head": prop(0.075, 0.08) * height,  # neck top to head centre
        "bulk": float(np.clip(rng.normal(1.0, 0.12), 0.75, 1.35)),  # clothing / body width factor
    }
    cadence = float(np.clip(rng.normal(1.85, 0.12), 1.5, 2.2))  # steps per second
    gait = {
        "cadence": cadence,
        "stride": prop(0.78, 0.07) * height,  # metres per gait cycle
        "hip_amp": math.radians(float(np.clip(rng.normal(21.0, 2.5), 14.0, 28.0))),
        "hip_off": math.radians(rng.normal(5.0, 1.5)),
        "knee_amp": math.radians(float(np.clip(rng.normal(55.0, 5.0), 40.0, 68.0))),
        "knee_off": math.radians(rng.normal(6.0, 2.0)),
        "arm_amp": math.radians(float(np.clip(rng.normal(20.0, 5.0), 8.0, 35.0))),
        "arm_off": math.radians(rng.normal(3.0, 2.0)),
        "arm_abd": math.radians(float(np.clip(rng.normal(8.0, 2.0), 3.0, 14.0))),
        "elbow_off": math.radians(float(np.clip(rng.normal(18.0, 5.0), 5.0, 35.0))),
        "elbow_amp": math.radians(float(np.clip(rng.normal(22.0, 6.0), 5.0, 40.0))),
        "bob": prop(0.022, 0.2) * height / 1.56,
        "sway": prop(0.025, 0.25) * height / 1.56,
        "pelvis_obl": math.radians(float(np.clip(rng.normal(4.0, 1.0), 1.5, 7.0))),
        "pelvis_rot": math.radians(float(np.clip(rng.normal(5.0, 1.5), 1.0, 9.0))),
        "trunk_rot": math.radians(float(np.clip(rng.normal(6.0, 2.0), 1.0, 11.0))),
        "trunk_sway": math.radians(float(np.clip(rng.normal(1.5, 0.6), 0.2, 3.5))),
        "cadence_jitter": float(np.clip(rng.normal(0.025, 0.01), 0.005, 0.06)),
    }
    asym = _sample_asymmetry(rng, cobb, height, cfg)
    confounders = _sample_confounders(rng, label, cfg)
    asym["rib_hump"] = _sample_rib_hump(np.random.default_rng([seed, index, _HUMP_STREAM]), cobb, asym, cfg)
    return Subject(index, subject_id_for(index), cobb, label, height, body, gait, asym, confounders)


def _sample_asymmetry(
    rng: np.random.Generator, cobb: float, height: float, cfg: SynthConfig
) -> dict[str, float]:
    """Static frontal-plane asymmetries: Cobb-driven part with subject-level gains + natural asymmetry."""
    # Curve direction: right-convex thoracic curves dominate (~85 %): right shoulder up, trunk to the right.
    d = 1.0 if rng.random() < 0.85 else -1.0
    expr = float(rng.lognormal(0.0, 0.35))  # how visibly this spine shows on the surface

    def g() -> float:  # subject-level gain of one sign, bounded so no sign becomes grotesque
        return float(np.clip(expr * rng.lognormal(0.0, 0.35), 0.15, 2.5)) * cfg.asym_gain

    # Cobb-driven magnitudes per degree of (saturating) Cobb angle, then subject gains; signs follow d.
    # Magnitudes are calibrated for difficulty (see data.difficulty), larger than clinical surface
    # topography would suggest, because 2-D pose noise and confounders hide most of them.
    cobb = 30.0 * math.tanh(cobb / 30.0)
    sc = {
        "shoulder_tilt": -d * math.radians(0.35) * cobb * g(),  # +: left shoulder higher
        "pelvic_tilt": d * math.radians(0.18) * cobb * g(),  # +: left hip higher
        "trunk_shift": -d * 0.0026 * cobb * g() * height / 1.56,  # metres, +: shoulders over the left
        "trunk_lean": -d * math.radians(0.18) * cobb * g(),  # +: trunk leans to the left
        "arm_swing": -d * 0.032 * cobb * g(),  # relative amplitude difference (left − right)
        "arm_abd": d * math.radians(0.32) * cobb * g(),  # waist triangle: left arm further out (+)
        "head_offset": d * 0.0019 * cobb * g() * height / 1.56,  # metres, +: head to the left
        "trunk_rot": 0.029 * cobb * g(),  # fractional loss of trunk counter-rotation
    }
    natural = {
        "shoulder_tilt": math.radians(rng.normal(0.0, 1.2)),
        "pelvic_tilt": math.radians(rng.normal(0.0, 0.9)),
        "trunk_shift": rng.normal(0.0, 0.007) * height / 1.56,
        "trunk_lean": math.radians(rng.normal(0.0, 0.8)),
        "arm_swing": rng.normal(0.0, 0.08),
        "arm_abd": math.radians(rng.normal(0.0, 1.0)),
        "head_offset": rng.normal(0.0, 0.006) * height / 1.56,
        "trunk_rot": 0.0,
    }
    out = {k: float(sc[k] + natural[k]) for k in sc}
    out["direction"] = d
    out["expression"] = expr
    return out


_HUMP_STREAM = 0x68756D70  #: own random stream, so the pose of generator /1 is unchanged


def _sample_rib_hump(
    rng: np.random.Generator, cobb: float, asym: dict[str, float], cfg: SynthConfig
) -> float:
    """Signed rib-hump size (fraction of height; + left flank, − right) seen only in silhouettes.

    Vertebral rotation pushes the ribs out on the curve's convex side (the right for a
    right-convex curve, ``direction`` +1). It grows with the (saturating) Cobb angle with a
    gain of its own, independent of how the curve shows in the keypoints, so the silhouette
    carries evidence the 17 joints lack; clothing and build add a small natural bulge on
    either side.
    """
    c = 30.0 * math.tanh(cobb / 30.0)
    gain = float(np.clip(rng.lognormal(0.0, 0.4), 0.2, 2.5)) * cfg.asym_gain
    return float(-asym["direction"] * 0.0011 * c * gain + rng.normal(0.0, 0.006))


#: How much of the rib hump each view shows (it is posterior: clearer from behind).
HUMP_VIEW = {"000": 0.6, "180": 1.0}

#: Per-subject probability of each confounder, for (negatives, positives).
CONFOUNDER_RATES: dict[str, tuple[float, float]] = {
    "limp": (0.14, 0.06),  # antalgic gait: short stance, reduced knee flexion, lean over the sore leg
    "leg_length": (0.12, 0.06),  # leg-length difference: static pelvic tilt, compensating trunk shift
    "carrier": (0.25, 0.15),  # often carries a bag on one side (per-clip)
    "habitual_lean": (0.16, 0.08),  # leans / holds the head to one side out of habit
}


def _sample_confounders(rng: np.random.Generator, label: int, cfg: SynthConfig) -> dict[str, float]:
    conf: dict[str, float] = {}
    u = rng.random(len(CONFOUNDER_RATES))
    side = rng.choice([-1.0, 1.0], size=len(CONFOUNDER_RATES))
    strength = rng.uniform(0.4, 1.0, size=len(CONFOUNDER_RATES))
    for i, (name, rates) in enumerate(CONFOUNDER_RATES.items()):
        if u[i] < rates[label] * cfg.confounder_gain:
            conf[f"{name}_side"] = float(side[i])
            conf[f"{name}_strength"] = float(strength[i])
    return conf


# ---------------------------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------------------------


@dataclass
class ClipParams:
    """Per-clip conditions: view, camera, walking speed, posture of the day."""

    view: str
    focal: float
    cam_height: float
    cam_lateral: float
    roll: float  # radians
    end_distance: float  # metres, closest (toward) / first (away) distance to the camera
    speed_factor: float
    arm_factor: float
    expression: float  # day-to-day expression of the static asymmetries
    carry_side: float  # 0: no bag
    noise_frac: float  # jitter sd as a fraction of the person's pixel height
    phase0: float


def sample_clip_params(subject: Subject, seed: int, clip_index: int, cfg: SynthConfig) -> ClipParams:
    """Draw the conditions of one clip."""
    rng = np.random.default_rng([seed, subject.index, clip_index + 1])
    carry = 0.0
    if "carrier_side" in subject.confounders and rng.random() < 0.7:
        carry = subject.confounders["carrier_side"]
    elif rng.random() < 0.05 * cfg.confounder_gain:  # anyone may carry something now and then
        carry = float(rng.choice([-1.0, 1.0]))
    roll_sd = math.radians(1.0)
    roll = rng.normal(0.0, roll_sd)
    if rng.random() < 0.12 * cfg.confounder_gain:  # a visibly rolled camera
        roll += float(rng.choice([-1.0, 1.0])) * math.radians(rng.uniform(2.0, 5.0))
    return ClipParams(
        view=VIEWS[int(rng.integers(0, 2))],
        focal=float(rng.uniform(760.0, 950.0)),
        cam_height=float(rng.uniform(0.85, 1.3)),
        cam_lateral=float(rng.normal(0.0, 0.2)),
        roll=float(roll),
        end_distance=float(rng.uniform(2.8, 3.6)),
        speed_factor=float(rng.normal(1.0, 0.05)),
        arm_factor=float(np.clip(rng.normal(1.0, 0.15), 0.5, 1.5)),
        expression=float(rng.lognormal(0.0, 0.2)),
        carry_side=carry,
        noise_frac=float(rng.uniform(0.006, 0.014) * cfg.noise_gain),
        phase0=float(rng.uniform(0.0, 2 * math.pi)),
    )


def _smooth_noise(rng: np.random.Generator, n: int, rho: float = 0.97) -> np.ndarray:
    """Unit-variance AR(1) noise (slowly varying)."""
    e = rng.normal(0.0, math.sqrt(1 - rho * rho), size=n)
    out = np.empty(n)
    acc = rng.normal()
    for i in range(n):
        acc = rho * acc + e[i]
        out[i] = acc
    return out


def simulate_world_pose(
    subject: Subject, cp: ClipParams, frames: int, fps: float, rng: np.random.Generator
) -> np.ndarray:
    """3-D COCO-17 joints ``[T, 17, 3]`` in metres: X to the subject's left, Y up, Z walking direction."""
    b, g, a, c = subject.body, subject.gait, subject.asym, subject.confounders
    T = frames
    f_gait = g["cadence"] / 2.0 * cp.speed_factor**0.5
    f_t = f_gait * (1.0 + g["cadence_jitter"] * _smooth_noise(rng, T))
    phase = cp.phase0 + 2 * math.pi * np.cumsum(f_t) / fps
    speed = g["stride"] * cp.speed_factor**0.5 * f_t
    z_root = np.cumsum(speed) / fps

    # Antalgic limp: shortened stance on the sore side (phase warp), stiff knee, lean over it.
    limp_side = c.get("limp_side", 0.0)
    limp = c.get("limp_strength", 0.0)
    phi = phase - 0.35 * limp * limp_side * np.sin(phase)
    ex = cp.expression
    lld_side, lld = c.get("leg_length_side", 0.0), c.get("leg_length_strength", 0.0)
    lean_side, lean_h = c.get("habitual_lean_side", 0.0), c.get("habitual_lean_strength", 0.0)

    stance_L = np.clip(-np.cos(phi), 0.0, None)  # left hip extending: left stance
    stance_R = np.clip(np.cos(phi), 0.0, None)
    stance_sore = stance_L if limp_side > 0 else stance_R

    J = np.zeros((T, 17, 3))
    # Pelvis
    pel = np.zeros((T, 3))
    leg_len = b["thigh"] + b["shank"]
    pel[:, 1] = leg_len * 0.985 + 0.045 * subject.height - g["bob"] * np.sin(phi) ** 2
    pel[:, 0] = g["sway"] * (-np.cos(phi)) + 0.012 * limp * limp_side * stance_sore
    pel[:, 2] = z_root
    psi = (
        g["pelvis_obl"] * (-np.cos(phi)) * 0.5
        + a["pelvic_tilt"] * ex
        + math.radians(2.5) * lld * (-lld_side)  # short leg side drops
        + math.radians(3.0) * limp * limp_side * stance_sore * -1.0  # contralateral drop over the sore leg
    )
    rho_p = g["pelvis_rot"] * np.sin(phi)
    for s, hip, knee, ank, ph in ((_L, 11, 13, 15, phi), (_R, 12, 14, 16, phi + math.pi)):
        half = b["hip_w"] / 2
        J[:, hip, 0] = pel[:, 0] + s * half * np.cos(psi) * np.cos(rho_p)
        J[:, hip, 1] = pel[:, 1] + s * half * np.sin(psi)
        J[:, hip, 2] = pel[:, 2] + s * half * np.sin(rho_p)
        theta = g["hip_off"] + g["hip_amp"] * np.sin(ph)
        swing = np.clip(np.cos(ph + 0.35), 0.0, None) ** 1.5
        kflex = g["knee_off"] + g["knee_amp"] * swing + math.radians(8.0) * np.clip(np.sin(ph - 2.2), 0, None)
        short = 1.0 - (0.03 * lld if s == lld_side else 0.0)
        if s == limp_side:
            kflex = kflex * (1.0 - 0.45 * limp)
            theta = theta * (1.0 - 0.25 * limp)
        add = 0.035  # thighs converge slightly toward the midline
        J[:, knee] = J[:, hip] + b["thigh"] * short * np.stack(
            [np.full(T, -s * add), -np.cos(theta), np.sin(theta)], -1
        )
        J[:, ank] = J[:, knee] + b["shank"] * short * np.stack(
            [np.full(T, -s * add * 0.5), -np.cos(theta - kflex), np.sin(theta - kflex)], -1
        )

    # Trunk: lean (frontal angle), lateral shift of the shoulders over the pelvis, shoulder-line tilt.
    lean = (
        a["trunk_lean"] * ex
        + g["trunk_sway"] * (-np.cos(phi))
        + math.radians(3.5) * lean_h * lean_side
        + math.radians(4.0) * limp * limp_side * stance_sore
    )
    shift = a["trunk_shift"] * ex + 0.008 * lld * lld_side
    mid_sh = np.stack(
        [
            pel[:, 0] + b["torso"] * np.sin(lean) + shift,
            pel[:, 1] + b["torso"] * np.cos(lean),
            pel[:, 2] + 0.03,
        ],
        -1,
    )
    sigma = a["shoulder_tilt"] * ex + math.radians(0.6) * lean_h * lean_side
    rot_s = -g["trunk_rot"] * (1.0 - min(a["trunk_rot"], 0.8)) * np.sin(phi)
    drop = {_L: 0.0, _R: 0.0}
    if cp.carry_side:
        drop[cp.carry_side] = -0.012 * subject.height / 1.56  # bag pulls that shoulder down
    for s, sh in ((_L, 5), (_R, 6)):
        half = b["shoulder_w"] / 2
        J[:, sh, 0] = mid_sh[:, 0] + s * half * np.cos(sigma) * np.cos(rot_s)
        J[:, sh, 1] = mid_sh[:, 1] + s * half * np.sin(sigma) + drop[s]
        J[:, sh, 2] = mid_sh[:, 2] + s * half * np.sin(rot_s)

    # Arms: swing opposite to the same-side leg; scoliosis changes amplitude and arm-to-trunk gap.
    arm_asym = a["arm_swing"] * ex
    for s, sh, el, wr, ph in ((_L, 5, 7, 9, phi + math.pi), (_R, 6, 8, 10, phi)):
        amp = g["arm_amp"] * cp.arm_factor * max(0.05, 1.0 + s * arm_asym / 2)
        abd = g["arm_abd"] + s * a["arm_abd"] * ex / 2
        elbow = g["elbow_off"] + g["elbow_amp"] * (0.5 + 0.5 * np.sin(ph))
        if cp.carry_side == s:
            amp *= 0.15
            abd = abd + math.radians(4.0)
            elbow = elbow * 0.4
        alpha = g["arm_off"] + amp * np.sin(ph)
        J[:, el] = J[:, sh] + b["upper_arm"] * np.stack(
            [np.full(T, s * math.sin(abd)), -math.cos(abd) * np.cos(alpha), math.cos(abd) * np.sin(alpha)], -1
        )
        fa = alpha + elbow
        J[:, wr] = J[:, el] + b["forearm"] * np.stack(
            [np.full(T, s * math.sin(abd) * 0.8), -math.cos(abd) * np.cos(fa), math.cos(abd) * np.sin(fa)], -1
        )

    # Head: on the neck above the shoulders, with a lateral offset (scoliosis, habit).
    head_off = a["head_offset"] * ex + 0.02 * lean_h * lean_side
    neck = mid_sh + np.stack([b["neck"] * np.sin(lean * 0.5), np.full(T, b["neck"]), np.zeros(T)], -1)
    head = neck + np.stack([np.full(T, head_off), np.full(T, b["head"]), np.full(T, 0.02)], -1)
    k = subject.height / 1.56
    offsets = {
        0: (0.0, -0.005, 0.095),
        1: (0.032, 0.022, 0.080),
        2: (-0.032, 0.022, 0.080),
        3: (0.072, 0.005, 0.0),
        4: (-0.072, 0.005, 0.0),
    }
    yaw = 0.06 * np.sin(phi * 0.5 + 1.0)  # small head turns
    for j, (ox, oy, oz) in offsets.items():
        J[:, j, 0] = head[:, 0] + k * (ox * np.cos(yaw) + oz * np.sin(yaw))
        J[:, j, 1] = head[:, 1] + k * oy
        J[:, j, 2] = head[:, 2] + k * (oz * np.cos(yaw) - ox * np.sin(yaw))
    return J


def project(world: np.ndarray, subject: Subject, cp: ClipParams) -> np.ndarray:
    """Pinhole projection onto the image plane: ``[T, 17, 2]`` pixels (camera roll included)."""
    if cp.view == "000":  # camera ahead, subject faces it and approaches
        cam_z = world[:, 11:13, 2].mean(axis=1)[-1] + cp.end_distance
        depth = cam_z - world[..., 2]
        x_sign = 1.0
    else:  # camera behind, subject walks away
        cam_z = world[:, 11:13, 2].mean(axis=1)[0] - cp.end_distance
        depth = world[..., 2] - cam_z
        x_sign = -1.0
    depth = np.maximum(depth, 0.5)
    cx, cy = IMAGE_W / 2, IMAGE_H / 2
    u = cx + cp.focal * x_sign * (world[..., 0] - cp.cam_lateral) / depth
    v = cy - cp.focal * (world[..., 1] - cp.cam_height) / depth
    cr, sr = math.cos(cp.roll), math.sin(cp.roll)
    du, dv = u - cx, v - cy
    return np.stack([cx + cr * du - sr * dv, cy + sr * du + cr * dv], -1)


#: Pose-estimator jitter multiplier per COCO joint (hips and extremities are harder to localise).
_JOINT_NOISE = np.array([0.8, 0.7, 0.7, 0.9, 0.9, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 1.4, 1.4, 1.2, 1.2, 1.4, 1.4])
_JOINT_CONF = np.array(
    [0.92, 0.93, 0.93, 0.88, 0.88, 0.93, 0.93, 0.88, 0.88, 0.82, 0.82, 0.85, 0.85, 0.88, 0.88, 0.85, 0.85]
)


def add_estimator_noise(xy: np.ndarray, cp: ClipParams, rng: np.random.Generator) -> np.ndarray:
    """Turn a clean projection into a pose-estimator output ``[T, 17, 3]`` (x, y, confidence)."""
    T = xy.shape[0]
    person_h = np.abs(xy[:, [15, 16], 1].mean(1) - xy[:, [1, 2], 1].mean(1)) * 1.08  # ~ pixel height
    scale = person_h[:, None, None] * cp.noise_frac * _JOINT_NOISE[None, :, None]
    back = cp.view == "180"
    if back:  # face keypoints are guessed from behind
        scale[:, :5] *= 2.0
    # Temporally correlated jitter (AR(1), rho 0.5) plus white noise.
    e = rng.normal(size=(T, 17, 2))
    corr = np.empty_like(e)
    corr[0] = e[0]
    for t in range(1, T):
        corr[t] = 0.5 * corr[t - 1] + math.sqrt(1 - 0.25) * e[t]
    out = np.empty((T, 17, 3))
    out[..., :2] = xy + scale * (0.7 * corr + 0.7 * rng.normal(size=(T, 17, 2)))
    base = _JOINT_CONF.copy()
    if back:
        base[:3] = 0.45
        base[3:5] = 0.7
    conf = (
        base[None, :] + rng.normal(0.0, 0.05, size=(T, 17)) - 0.3 * np.abs(corr).mean(-1) * cp.noise_frac * 50
    )
    out[..., 2] = np.clip(conf, 0.05, 0.99)

    # Single-joint dropouts: short runs where a joint is lost or misplaced with low confidence.
    n_runs = rng.poisson(T / 30.0 * 1.2)
    for _ in range(n_runs):
        j = int(rng.integers(0, 17))
        t0 = int(rng.integers(0, T))
        t1 = min(T, t0 + int(rng.integers(1, 6)))
        out[t0:t1, j, :2] += rng.normal(0.0, 0.08, size=2) * person_h[t0:t1, None]
        out[t0:t1, j, 2] = rng.uniform(0.02, 0.25, size=t1 - t0)
    # Short full-frame losses (detector misses the child): zeros with zero confidence.
    if rng.random() < 0.35:
        for _ in range(int(rng.integers(1, 3))):
            t0 = int(rng.integers(0, T))
            out[t0 : min(T, t0 + int(rng.integers(2, 9)))] = 0.0
    return out.astype(np.float32)


def body_shape(subject: Subject, view: str = "180") -> BodyShape:
    """Limb thicknesses (relative to height) and the rib hump as ``view`` shows it, for rendering."""
    k = subject.body["bulk"]
    hump = subject.asym.get("rib_hump", 0.0) * HUMP_VIEW.get(view, 1.0)
    return BodyShape(
        torso=0.12 * k,
        upper_arm=0.055 * k,
        forearm=0.045 * k,
        thigh=0.085 * k,
        shank=0.062 * k,
        head=0.065,
        hump=hump,
    )


def simulate_clip(
    subject: Subject, seed: int, clip_index: int, cfg: SynthConfig = SynthConfig(), silhouettes: bool = True
) -> Clip:
    """Simulate clip ``clip_index`` of ``subject``: noisy 2-D pose, silhouettes (unless off) and metadata."""
    cp = sample_clip_params(subject, seed, clip_index, cfg)
    rng = np.random.default_rng([seed, subject.index, clip_index + 1, 7])
    world = simulate_world_pose(subject, cp, cfg.frames, cfg.fps, rng)
    xy = project(world, subject, cp)
    pose = add_estimator_noise(xy, cp, rng)
    sil = render_silhouettes(xy, body_shape(subject, cp.view)) if silhouettes else None
    meta: dict[str, Any] = {
        "clip_id": clip_id_for(subject.subject_id, clip_index),
        "subject_id": subject.subject_id,
        "cobb_angle": round(subject.cobb_angle, 3),
        "label": subject.label,
        "view": cp.view,
        "generator": GENERATOR_VERSION,
        "seed": int(seed),
        "subject_index": subject.index,
        "clip_index": int(clip_index),
        "confounders": sorted(k[: -len("_side")] for k in subject.confounders if k.endswith("_side")),
        "carry_side": cp.carry_side,
        "camera_roll_deg": round(math.degrees(cp.roll), 3),
        "config": asdict(cfg),
    }
    return Clip(pose=pose, fps=cfg.fps, silhouettes=sil, metadata=meta)


def clip_id_for(subject_id: str, clip_index: int) -> str:
    """Stable clip id."""
    return f"{subject_id}_c{clip_index:02d}"


def iter_clips(
    subjects: int, clips_per_subject: int, seed: int, cfg: SynthConfig = SynthConfig()
) -> Iterator[tuple[Subject, Clip]]:
    """Yield ``(subject, clip)`` for every clip of the dataset, in a stable order."""
    for i in range(subjects):
        subj = sample_subject(seed, i, cfg)
        for k in range(clips_per_subject):
            yield subj, simulate_clip(subj, seed, k, cfg)


# ---------------------------------------------------------------------------------------------
# Dataset on disk
# ---------------------------------------------------------------------------------------------


def write_dataset(
    out: str | os.PathLike,
    subjects: int = 200,
    clips_per_subject: int = 2,
    seed: int = 0,
    frames: int = 192,
    force: bool = False,
    cfg: SynthConfig | None = None,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    on_clip: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate a dataset into ``out`` (atomically): ``clips/*.npz`` and ``index.csv``.

    ``on_clip(done, total)`` is called after each clip (progress reporting).
    Refuses to replace an existing ``out`` unless ``force``.
    """
    import pandas as pd

    from scoligait_edge.data.dataset import INDEX_NAME, make_splits, write_index
    from scoligait_edge.fileio import atomic_dir
    from scoligait_edge.pose.clip import save_clip

    if subjects < 3:
        raise DatasetError(f"{subjects} subjects cannot fill train/val/test", "ask for at least 3 subjects")
    if clips_per_subject < 1:
        raise DatasetError(f"clips per subject must be >= 1, got {clips_per_subject}", "ask for at least 1")
    cfg = SynthConfig(frames=frames) if cfg is None else cfg
    if cfg.frames != frames:
        cfg = SynthConfig(**{**asdict(cfg), "frames": frames})
    total = subjects * clips_per_subject
    rows: list[dict[str, Any]] = []
    with atomic_dir(out, force=force) as tmp:
        (tmp / "clips").mkdir()
        for n, (subj, clip) in enumerate(iter_clips(subjects, clips_per_subject, seed, cfg), start=1):
            cid = clip.metadata["clip_id"]
            rel = f"clips/{cid}.npz"
            save_clip(tmp / rel, clip)
            rows.append(
                {
                    "clip_id": cid,
                    "path": rel,
                    "subject_id": subj.subject_id,
                    "cobb_angle": round(subj.cobb_angle, 3),
                    "label": subj.label,
                    "n_frames": len(clip),
                    "view": clip.metadata["view"],
                }
            )
            if on_clip is not None:
                on_clip(n, total)
        df = pd.DataFrame(rows)
        by_subject = df.drop_duplicates("subject_id")
        split = make_splits(by_subject["subject_id"], by_subject["label"], fractions, seed)
        df.insert(5, "split", df["subject_id"].map(split))
        write_index(df, tmp / INDEX_NAME)
    return Path(out)


def make_dataset(
    out_dir: str | os.PathLike,
    subjects: int = 12,
    clips_per_subject: int = 2,
    frames: int = 128,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Small synthetic dataset for tests and demos (same as ``scoligait-edge synth``); returns ``out_dir``."""
    return write_dataset(out_dir, subjects, clips_per_subject, seed, frames, force=force)
