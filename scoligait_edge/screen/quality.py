"""The input-quality gate of ``screen``: is this footage the protocol the model was trained on?

Pose-only checks on the 30 Hz COCO-17 stream (x, y pixels, confidence), the source frame rate and,
where the pose source reports it, the number of people per frame. A clip that fails any check is
``retake`` with the reasons and how to fix them — never a referral decision. The Android core
(``android_demo/core/.../Quality.kt``) implements the same written rules and is tested against
vectors this module's rules produce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoligait_edge.contract import WINDOW

MIN_CONFIDENCE = 0.3  #: a joint is observed when x, y, confidence are finite and confidence >= this


# ---------------------------------------------------------------- thresholds (README "Quality gate")
MIN_SOURCE_FPS = 24.0  #: camera / video frame rate before resampling to 30 Hz
MIN_FRAMES = WINDOW  #: at least one full 96-frame window at 30 Hz
MIN_TRACKED_FRACTION = 0.80  #: frames with both shoulders and both hips observed
MIN_PERSON_HEIGHT_PX = 80.0  #: median height (px) of the observed joints' bounding box
MIN_VIEW_RATIO = 0.45  #: median (|Δx shoulders| + |Δx hips|) / (2 · torso): front/back ≈ 0.6, side ≈ 0.2
MIN_GAIT_CYCLES = 2.0  #: full gait cycles (two steps each) from the ankle-height alternation
STEP_HYSTERESIS = 0.10  #: |y_right_ankle − y_left_ankle| / torso that counts as a new leading foot
MAX_TRACK_JUMPS = 1  #: consecutive tracked frames whose mid-hip moves more than JUMP_TORSOS torsos
JUMP_TORSOS = 1.0
MAX_MULTI_PERSON_FRACTION = 0.25  #: frames where the pose source saw two or more people
#: Walking toward / away from the camera changes the child's apparent size: |log(median torso of
#: the last PROGRESSION_FRAMES tracked frames / of the first)| must reach this. Standing or walking
#: on the spot stays ≤ 0.05 (pose jitter alone can fake ankle alternations, i.e. "gait cycles").
MIN_PROGRESSION = 0.15
PROGRESSION_FRAMES = 24

CHECKS = (
    "frame_rate",
    "duration",
    "tracking",
    "person_size",
    "camera_view",
    "gait_cycles",
    "walking",
    "track_jumps",
    "several_people",
)


@dataclass
class Check:
    name: str
    value: float | None  #: None when it could not be measured
    threshold: float
    passed: bool
    measured: bool = True

    def to_json(self) -> dict[str, Any]:
        v = None if self.value is None or not math.isfinite(self.value) else float(self.value)
        why, remedy = WHY[self.name]
        return {
            "name": self.name,
            "value": v,
            "threshold": self.threshold,
            "passed": self.passed,
            "measured": self.measured,
            "why": why,
            "remedy": remedy,
        }


@dataclass
class Quality:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [c.to_json() for c in self.checks]}

    def reasons(self) -> list[dict[str, Any]]:
        """The failed checks as ``retake`` reasons (value, threshold, why, remedy)."""
        return [
            {
                "check": c["name"],
                "value": c["value"],
                "threshold": c["threshold"],
                "why": c["why"],
                "remedy": c["remedy"],
            }
            for c in self.to_json()["checks"]
            if not c["passed"]
        ]


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    return float(np.median(np.asarray(values, np.float64)))


def quality(pose: np.ndarray, source_fps: float, people: np.ndarray | None = None) -> Quality:
    """The pose-only quality gate of one clip (``pose [T, 17, 3]`` at 30 Hz)."""
    p = np.asarray(pose, np.float32).astype(np.float64)
    n = p.shape[0]
    obs = np.isfinite(p).all(axis=2) & (np.nan_to_num(p[:, :, 2], nan=-1.0) >= MIN_CONFIDENCE)
    tracked = obs[:, [5, 6, 11, 12]].all(axis=1)
    heights: list[float] = []
    ratios: list[float] = []
    torsos: list[float] = []
    steps = 0
    state = 0
    jumps = 0
    prev_hip: np.ndarray | None = None
    for t in range(n):
        if not tracked[t]:
            prev_hip = None
            continue
        xy = p[t, :, :2]
        ys = xy[obs[t], 1]
        heights.append(float(ys.max() - ys.min()))
        ms = (xy[5] + xy[6]) * 0.5
        mh = (xy[11] + xy[12]) * 0.5
        d = ms - mh
        torso = math.sqrt(d[0] * d[0] + d[1] * d[1])
        if torso > 0:
            torsos.append(torso)
            ratios.append((abs(xy[5, 0] - xy[6, 0]) + abs(xy[11, 0] - xy[12, 0])) / (2.0 * torso))
            if obs[t, 15] and obs[t, 16]:
                a = (xy[16, 1] - xy[15, 1]) / torso
                if a > STEP_HYSTERESIS and state != 1:
                    steps += state != 0
                    state = 1
                elif a < -STEP_HYSTERESIS and state != -1:
                    steps += state != 0
                    state = -1
            if prev_hip is not None:
                dh = mh - prev_hip
                if math.sqrt(dh[0] * dh[0] + dh[1] * dh[1]) > JUMP_TORSOS * torso:
                    jumps += 1
        prev_hip = mh
    q = Quality()
    fps_ok = math.isfinite(source_fps) and source_fps >= MIN_SOURCE_FPS
    q.checks.append(Check("frame_rate", source_fps, MIN_SOURCE_FPS, fps_ok))
    q.checks.append(Check("duration", float(n), float(MIN_FRAMES), n >= MIN_FRAMES))
    frac = float(tracked.sum()) / n if n else 0.0
    q.checks.append(Check("tracking", frac, MIN_TRACKED_FRACTION, frac >= MIN_TRACKED_FRACTION))
    h = _median(heights)
    q.checks.append(
        Check(
            "person_size", h, MIN_PERSON_HEIGHT_PX, h is not None and h >= MIN_PERSON_HEIGHT_PX, h is not None
        )
    )
    r = _median(ratios)
    q.checks.append(
        Check("camera_view", r, MIN_VIEW_RATIO, r is not None and r >= MIN_VIEW_RATIO, r is not None)
    )
    cycles = steps / 2.0
    q.checks.append(Check("gait_cycles", cycles, MIN_GAIT_CYCLES, cycles >= MIN_GAIT_CYCLES))
    k = PROGRESSION_FRAMES
    if len(torsos) >= 2 * k:
        prog = abs(math.log(float(np.median(torsos[-k:])) / float(np.median(torsos[:k]))))
        q.checks.append(Check("walking", prog, MIN_PROGRESSION, prog >= MIN_PROGRESSION))
    else:
        q.checks.append(Check("walking", None, MIN_PROGRESSION, False, False))
    q.checks.append(Check("track_jumps", float(jumps), float(MAX_TRACK_JUMPS), jumps <= MAX_TRACK_JUMPS))
    if people is None:
        q.checks.append(Check("several_people", None, MAX_MULTI_PERSON_FRACTION, True, False))
    else:
        pc = np.asarray(people)
        multi = float((pc >= 2).sum()) / len(pc) if len(pc) else 0.0
        q.checks.append(
            Check("several_people", multi, MAX_MULTI_PERSON_FRACTION, multi <= MAX_MULTI_PERSON_FRACTION)
        )
    return q


#: Why each check exists and how to fix the footage (shown with ``retake``).
WHY = {
    "frame_rate": (
        "the video's frame rate is too low to resolve a gait cycle",
        "film at 24 fps or more (30 fps)",
    ),
    "duration": ("the walk is shorter than one 96-frame window (3.2 s)", "film at least 5 s of walking"),
    "tracking": (
        "the child is not seen in enough frames",
        "keep the whole child in the frame, well lit, no occlusion",
    ),
    "person_size": (
        "the child is too small in the image for reliable joints",
        "move closer: the child should fill a third of the frame height",
    ),
    "camera_view": (
        "the camera films from the side or at an angle (the model is trained on front/back views)",
        "film from the front or back, the child walking toward or away from the camera",
    ),
    "gait_cycles": ("too few steps to measure gait", "film at least two full gait cycles (four steps)"),
    "walking": (
        "the child does not walk toward or away from the camera (standing, on the spot, or across)",
        "let the child walk 5 m or more straight toward or away from the camera",
    ),
    "track_jumps": (
        "the tracked person jumps between people",
        "film one child at a time, with nobody crossing the view",
    ),
    "several_people": ("several people are in view", "film one child at a time, others out of the frame"),
}


def clip_verdict(q: Quality, window_probs: list[float], threshold: float) -> dict[str, Any]:
    """The clip rule: ``retake`` if the gate fails or no window was emitted, else mean prob vs threshold."""
    reasons = [c.name for c in q.checks if not c.passed]
    if not window_probs and "duration" not in reasons:
        reasons.append("duration")
    if reasons:
        return {"verdict": "retake", "reasons": reasons, "referral_prob": None, "windows": len(window_probs)}
    p = float(np.mean(np.asarray(window_probs, np.float32).astype(np.float64)))
    return {
        "verdict": "refer" if p >= threshold else "no-referral",
        "reasons": [],
        "referral_prob": p,
        "windows": len(window_probs),
    }
