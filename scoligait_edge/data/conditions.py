"""Synthetic clips filmed in each condition the screening input-quality gate must catch.

Every condition films the *same* ScoliGait-Synth child (subject 0 of ``seed``, clip 0: the
subject, gait, camera and estimator-noise draws of :func:`~scoligait_edge.data.synth.simulate_clip`)
and changes only what the condition is about, by physics rather than by targeting a threshold:
where the camera stands (side, 45°, far away), how long or how fast it records, whether the
child walks at all, who else walks through the picture and how often the detector loses the
child. The generator in :mod:`scoligait_edge.data.synth` is used by composition only: its world
pose (metres) is projected by a general pinhole :class:`Camera` (same image size, focal, height,
roll and pixel convention as ``synth.project``) and then gets the same ``add_estimator_noise``.

What a pose source would hand the gate, and how it is modelled here:

- joints outside the 1280×720 image get a low confidence (× 0.1, as MediaPipe's visibility);
  a person with fewer than 9 of 17 joints in the image is not detected in that frame;
- a frame where the child is not detected is NaN with confidence 0 (``pose.video``'s convention;
  the synth's own short full-frame losses, zeros there, are converted to it);
- ``people[t]`` counts the people a multi-person landmarker would return: each person in the
  image and not mostly hidden (≥ 60 % of the box) behind a nearer one;
- with a second person, the project's own :class:`~scoligait_edge.pose.video.PersonTracker`
  picks which person's pose the clip holds, frame by frame, as in ``extract_pose``;
- a 10 fps camera keeps every third frame of the 30 Hz scene and estimator output (a detector
  miss lasts as long in seconds as at 30 fps), resampled back to 30 Hz with
  ``pose.video.resample_pose`` / ``resample_nearest``, as the video pipeline does.

Silhouettes are rendered from the clean projection (``render.render_silhouettes``) and scaled to
float32 [0, 1] (the model-input convention); zeros where the child is not detected.

Determinism: the child uses ``simulate_clip``'s generators; everything a condition adds comes from
``default_rng([seed, 0, 1, 7, crc32(name)])``, so a (name, seed, frames) triple gives identical
arrays.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoligait_edge.contract import FPS, WINDOW
from scoligait_edge.data.render import render_silhouettes
from scoligait_edge.data.synth import (
    IMAGE_H,
    IMAGE_W,
    ClipParams,
    Subject,
    SynthConfig,
    add_estimator_noise,
    body_shape,
    project,
    sample_clip_params,
    sample_subject,
    simulate_world_pose,
)
from scoligait_edge.errors import DatasetError

#: condition name -> one-line description (what is filmed, and what the gate must answer).
CONDITIONS: dict[str, str] = {
    "ok": "protocol clip: synth view 000/180, child walks toward/away from the camera — nothing fails",
    "side_view": "camera beside the walking line (90°, tripod far enough to see the whole walk), "
    "child walks across the image — camera_view fails, and walking (no progression toward/away) fails",
    "oblique_45": "camera 45° off the walking line at mid-walk (line of sight sweeps ~25°→80° along the "
    "walk); physics: shoulder+hip x-width ≈ cos 45° × frontal ≈ 0.41–0.53 torso, straddling the 0.45 "
    "threshold (≈ 41–53° for these bodies) — nothing must fail; camera_view fails for narrow builds "
    "(may_fail, 4 of 30 seeds)",
    "small_person": "camera 20–33 m away (across a schoolyard), child 35–46 px tall, 1 px landmark-error "
    "floor — person_size fails; walking may fail (5 m of walk at 20–33 m changes the size little)",
    "short_clip": "recording stopped after 1.5–3 s (45–90 frames < 96) — duration fails; gait_cycles "
    "and walking may fail too (2 gait cycles take ~2.2 s; little progression in 1.5 s)",
    "low_fps": "protocol walk filmed at 10 fps (vtest.avi's rate), resampled to 30 Hz like the video "
    "pipeline — frame_rate fails",
    "two_people": "a second child walks across the background (10–15 m away, behind the far end of the walk) "
    "— several_people fails; if PersonTracker, after losing the child > 5 frames, takes the other child "
    "(info tracker_jumps > 0), pose checks may fail on that part (may_fail)",
    "standing_still": "child stands 5–8 m from the camera facing it (or back to it), postural sway only, "
    "no steps — walking (no progression toward/away) fails; gait_cycles may fail too (pose jitter can "
    "fake ankle alternations, which is why the gate has the walking check)",
    "lost_tracking": "detector loses the child in 0.2–1 s runs covering 40 % of frames (occlusion, "
    "dim light) — tracking fails; gait_cycles may fail too (steps hidden in the gaps)",
}

#: condition -> checks that must fail.
_EXPECTED: dict[str, set[str]] = {
    "ok": set(),
    "side_view": {"camera_view", "walking"},
    "oblique_45": set(),
    "small_person": {"person_size"},
    "short_clip": {"duration"},
    "low_fps": {"frame_rate"},
    "two_people": {"several_people"},
    "standing_still": {"walking"},
    "lost_tracking": {"tracking"},
}
#: condition -> checks that may fail as well (legitimately, see CONDITIONS).
_MAY_FAIL: dict[str, set[str]] = {
    "short_clip": {"gait_cycles", "walking"},
    "small_person": {"walking"},
    "standing_still": {"gait_cycles"},
    "oblique_45": {"camera_view"},
    "lost_tracking": {"gait_cycles"},
}
#: two_people, where the PersonTracker switched to the crosser (after missing the child for more than
#: ``REACQUIRE_AFTER`` frames): the clip then holds part of the other child's walk (side-on, farther
#: away), so the pose checks may fail on it; track_jumps may rightly fail in a gate that sees the
#: switch (the pose-only check cannot: it restarts after untracked frames, where such a switch happens).
_SWITCHED_MAY_FAIL = {"track_jumps", "camera_view", "person_size", "gait_cycles", "tracking"}

MISSING_CONF = 0.0  #: confidence of an undetected frame (x, y are NaN)
OUT_OF_IMAGE_CONF_FACTOR = 0.1  #: confidence factor of a joint outside the image
MIN_JOINTS_IN_IMAGE = 9  #: a person with fewer joints inside the image is not detected
OCCLUDED_COVER = 0.6  #: a person whose box is this much covered by a nearer person's is not detected


@dataclass
class ConditionClip:
    """One synthetic clip in a condition, as a pose source would hand it to the quality gate."""

    name: str
    seed: int
    pose: np.ndarray  #: float32 [T, 17, 3] pixels + confidence at 30 Hz; undetected frames NaN, conf 0
    silhouette: np.ndarray | None  #: float32 [T, 64, 44] in [0, 1] or None
    source_fps: float  #: the camera's frame rate (the pose is already at 30 Hz)
    people: np.ndarray  #: int [T]: people a multi-person pose estimator would see per frame
    expected_failures: set[str]  #: gate checks that must fail
    may_fail: set[str] = field(default_factory=set)  #: checks that may fail too (documented)
    info: dict[str, Any] = field(default_factory=dict)  #: physical facts of the shot (metres, degrees, px)


# ---------------------------------------------------------------------------------------------
# Camera
# ---------------------------------------------------------------------------------------------

_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """Level pinhole camera in the synth world frame (X: child's left, Y up, Z: walking direction)."""

    position: np.ndarray  #: (3,) metres
    forward: np.ndarray  #: (3,) horizontal unit vector of the optical axis
    focal: float  #: pixels
    roll: float = 0.0  #: radians

    @property
    def right(self) -> np.ndarray:
        return np.cross(self.forward, _UP)

    def depth(self, world: np.ndarray) -> np.ndarray:
        return (world - self.position) @ self.forward

    def project(self, world: np.ndarray) -> np.ndarray:
        """``[..., 3]`` metres → ``[..., 2]`` pixels, exactly ``synth.project``'s formula."""
        d = world - self.position
        depth = np.maximum(d @ self.forward, 0.5)
        cx, cy = IMAGE_W / 2, IMAGE_H / 2
        u = cx + self.focal * (d @ self.right) / depth
        v = cy - self.focal * (d @ _UP) / depth
        cr, sr = math.cos(self.roll), math.sin(self.roll)
        du, dv = u - cx, v - cy
        return np.stack([cx + cr * du - sr * dv, cy + sr * du + cr * dv], -1)


def _mid_hip(world: np.ndarray) -> np.ndarray:
    return world[:, 11:13].mean(axis=1)


def synth_camera(world: np.ndarray, cp: ClipParams) -> Camera:
    """The camera ``synth.project`` uses for views 000 / 180 (same pixels, as a :class:`Camera`)."""
    hips = _mid_hip(world)
    if cp.view == "000":
        pos = np.array([cp.cam_lateral, cp.cam_height, hips[-1, 2] + cp.end_distance])
        fwd = np.array([0.0, 0.0, -1.0])
    else:
        pos = np.array([cp.cam_lateral, cp.cam_height, hips[0, 2] - cp.end_distance])
        fwd = np.array([0.0, 0.0, 1.0])
    return Camera(pos, fwd, cp.focal, cp.roll)


def view_camera(world: np.ndarray, cp: ClipParams, angle_deg: float, distance: float) -> Camera:
    """Camera at ``distance`` m from the mid-walk point, ``angle_deg`` off the walking line.

    Scoliosis1K / CASIA-B convention: 0 = the child walks toward the camera, 90 = across the
    image (camera on the child's left; -90 on the right), 180 = away. The camera keeps the clip's
    height, focal, roll and lateral offset and looks at the mid-walk point on the walking line.
    """
    z_mid = float(_mid_hip(world)[[0, -1], 2].mean())
    a = math.radians(angle_deg)
    out = np.array([math.sin(a), 0.0, math.cos(a)])
    pos = np.array([0.0, cp.cam_height, z_mid]) + distance * out
    cam = Camera(pos, -out, cp.focal, cp.roll)
    return dataclasses.replace(cam, position=pos + cp.cam_lateral * cam.right)


def _fit_view_camera(
    world: np.ndarray, cp: ClipParams, angle_deg: float, distance: float, margin: float = 0.03
) -> Camera:
    """Move the camera back (0.25 m steps) until every joint of the walk is in the image."""
    for _ in range(200):
        cam = view_camera(world, cp, angle_deg, distance)
        xy = cam.project(world)
        mx, my = margin * IMAGE_W, margin * IMAGE_H
        if (
            (cam.depth(world) > 0.5).all()
            and (xy[..., 0] > mx).all()
            and (xy[..., 0] < IMAGE_W - mx).all()
            and (xy[..., 1] > my).all()
            and (xy[..., 1] < IMAGE_H - my).all()
        ):
            return cam
        distance += 0.25
    raise DatasetError(f"no camera distance fits a {angle_deg}° view of the walk", "shorten the clip")


def view_angle_deg(world: np.ndarray, cam: Camera) -> np.ndarray:
    """Per-frame angle between the child's walking direction (+Z) and the direction to the camera."""
    to_cam = cam.position[None, [0, 2]] - _mid_hip(world)[:, [0, 2]]
    return np.degrees(np.abs(np.arctan2(to_cam[:, 0], to_cam[:, 1])))


# ---------------------------------------------------------------------------------------------
# What a pose source would see
# ---------------------------------------------------------------------------------------------


def _in_image(xy: np.ndarray) -> np.ndarray:
    return (xy[..., 0] >= 0) & (xy[..., 0] < IMAGE_W) & (xy[..., 1] >= 0) & (xy[..., 1] < IMAGE_H)


def _bbox(points: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _cover(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Fraction of box ``a`` covered by box ``b``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = max(1e-9, (a[2] - a[0]) * (a[3] - a[1]))
    return ix * iy / area


def _as_estimated(pose: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimator output → (pose with out-of-image joints damped and lost frames NaN, detected [T])."""
    out = np.array(pose, dtype=np.float32)
    inside = _in_image(xy)
    out[..., 2] = np.where(inside, out[..., 2], out[..., 2] * OUT_OF_IMAGE_CONF_FACTOR)
    lost = (pose[..., 2] <= 0).all(axis=1)  # the synth's full-frame losses (zeros)
    detected = ~lost & (inside.sum(axis=1) >= MIN_JOINTS_IN_IMAGE)
    out[~detected, :, :2] = np.nan
    out[~detected, :, 2] = MISSING_CONF
    return out, detected


def _silhouettes(xy: np.ndarray, subject: Subject, detected: np.ndarray) -> np.ndarray:
    sil = render_silhouettes(xy, body_shape(subject)).astype(np.float32) / np.float32(255.0)
    sil[~detected] = 0.0
    return sil


# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------


@dataclass
class _Child:
    subject: Subject
    cp: ClipParams
    rng: np.random.Generator  # simulate_clip's generator (world pose, then estimator noise)
    cond: np.random.Generator  # the condition's own draws


def _child(name: str, seed: int) -> _Child:
    cfg = SynthConfig()
    subject = sample_subject(seed, 0, cfg)
    cp = sample_clip_params(subject, seed, 0, cfg)
    rng = np.random.default_rng([seed, subject.index, 1, 7])  # = simulate_clip(subject, seed, 0)
    cond = np.random.default_rng([seed, 0, 1, 7, zlib.crc32(name.encode())])
    return _Child(subject, cp, rng, cond)


def _finish(
    name: str,
    seed: int,
    subject: Subject,
    xy: np.ndarray,
    pose: np.ndarray,
    silhouettes: bool,
    source_fps: float = FPS,
    info: dict[str, Any] | None = None,
) -> ConditionClip:
    est, detected = _as_estimated(pose, xy)
    return ConditionClip(
        name=name,
        seed=seed,
        pose=est,
        silhouette=_silhouettes(xy, subject, detected) if silhouettes else None,
        source_fps=float(source_fps),
        people=detected.astype(np.int64),
        expected_failures=set(_EXPECTED[name]),
        may_fail=set(_MAY_FAIL.get(name, set())),
        info=dict(info or {}),
    )


def _ok(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    world = simulate_world_pose(c.subject, c.cp, frames, FPS, c.rng)
    xy = project(world, c.subject, c.cp)
    pose = add_estimator_noise(xy, c.cp, c.rng)
    return _finish(name, seed, c.subject, xy, pose, sil, info={"view": c.cp.view})


def _angled(
    c: _Child, name: str, seed: int, frames: int, sil: bool, angle: float, d0: tuple[float, float]
) -> ConditionClip:
    world = simulate_world_pose(c.subject, c.cp, frames, FPS, c.rng)
    side = float(c.cond.choice([-1.0, 1.0]))
    cam = _fit_view_camera(world, c.cp, side * angle, float(c.cond.uniform(*d0)))
    xy = cam.project(world)
    pose = add_estimator_noise(xy, c.cp, c.rng)
    ang = view_angle_deg(world, cam)
    dist = float(np.linalg.norm((cam.position - _mid_hip(world).mean(0))[[0, 2]]))
    info = {
        "view_angle_deg": round(side * angle, 1),
        "camera_distance_m": round(dist, 2),
        "line_of_sight_deg": (round(float(ang.min()), 1), round(float(ang.max()), 1)),
    }
    return _finish(name, seed, c.subject, xy, pose, sil, info=info)


def _side_view(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    return _angled(c, name, seed, frames, sil, 90.0, (4.5, 6.5))


def _oblique_45(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    return _angled(c, name, seed, frames, sil, 45.0, (5.0, 7.0))


def _small_person(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    world = simulate_world_pose(c.subject, c.cp, frames, FPS, c.rng)
    target_px = float(c.cond.uniform(34.0, 46.0))
    walk = float(abs(_mid_hip(world)[-1, 2] - _mid_hip(world)[0, 2]))
    extent = float(np.median(world[..., 1].max(1) - world[..., 1].min(1)))  # eyes/ears to ankles, m
    end_distance = c.cp.focal * extent / target_px - walk / 2
    cp = dataclasses.replace(c.cp, end_distance=end_distance)
    xy = project(world, c.subject, cp)
    pose = add_estimator_noise(xy, cp, c.rng)
    # A ~40 px person covers a few dozen pixels: landmark error has a floor of about a pixel.
    pose[..., :2] += c.cond.normal(0.0, 1.0, size=pose[..., :2].shape).astype(np.float32)
    pose = np.where((pose[..., 2:] <= 0), 0.0, pose).astype(np.float32)  # keep lost frames lost
    out = _finish(
        name,
        seed,
        c.subject,
        xy,
        pose,
        sil,
        info={"target_height_px": round(target_px, 1), "camera_distance_m": round(end_distance, 1)},
    )
    if out.silhouette is not None:  # a mask of a 40 px person is blocky once scaled to 64 px
        out.silhouette = _coarsen(out.silhouette, target_px / 64.0)
    return out


def _coarsen(sil: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    h, w = sil.shape[1:]
    small = (max(2, round(w * factor)), max(2, round(h * factor)))
    out = np.empty_like(sil)
    for t in range(len(sil)):
        lo = cv2.resize(sil[t], small, interpolation=cv2.INTER_AREA)
        out[t] = (cv2.resize(lo, (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5).astype(np.float32)
    return out


def _short_clip(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    """The protocol walk, but the recording stopped after ``n`` < 96 frames (the first ``n`` of it)."""
    n = min(frames, int(c.cond.integers(45, 91)))
    full = _ok(c, name, seed, frames, sil)
    return dataclasses.replace(
        full,
        pose=full.pose[:n].copy(),
        silhouette=None if full.silhouette is None else full.silhouette[:n].copy(),
        people=full.people[:n].copy(),
        info={**full.info, "frames": n},
    )


def _low_fps(c: _Child, name: str, seed: int, frames: int, sil: bool, fps: float = 10.0) -> ConditionClip:
    """The protocol walk through a 10 fps camera, resampled to 30 Hz as ``pose.video`` does.

    The scene and the estimator's errors are simulated at 30 Hz (so a detector miss lasts as long
    in seconds as at 30 fps) and every third frame is what the 10 fps camera delivers.
    """
    from scoligait_edge.pose.video import resample_nearest, resample_pose, resample_times

    step = round(FPS / fps)
    n_src = math.ceil((frames - 1) / step) + 1
    world = simulate_world_pose(c.subject, c.cp, (n_src - 1) * step + 1, FPS, c.rng)
    xy = project(world, c.subject, c.cp)
    pose = add_estimator_noise(xy, c.cp, c.rng)
    est, detected = _as_estimated(pose[::step], xy[::step])
    times = np.arange(n_src) / fps
    target = resample_times(n_src, fps, FPS)[:frames]
    pose30 = resample_pose(times, est, target)
    present = np.isfinite(pose30[..., :2]).all(-1).any(-1)
    sil30 = None
    if sil:
        sil30 = resample_nearest(times, _silhouettes(xy[::step], c.subject, detected), target)
    return ConditionClip(
        name=name,
        seed=seed,
        pose=pose30,
        silhouette=sil30,
        source_fps=fps,
        people=present.astype(np.int64),
        expected_failures=set(_EXPECTED[name]),
        may_fail=set(_MAY_FAIL.get(name, set())),
        info={"view": c.cp.view, "source_frames": n_src},
    )


def _standing_still(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    g = dict(c.subject.gait)
    r = c.cond
    g.update(
        cadence=float(r.uniform(0.4, 0.8)),  # postural sway at 0.2–0.4 Hz instead of steps
        stride=0.0,
        hip_amp=0.0,
        knee_amp=0.0,
        arm_amp=math.radians(float(r.uniform(0.5, 2.0))),
        elbow_amp=math.radians(float(r.uniform(1.0, 4.0))),
        bob=0.0,
        sway=float(r.uniform(0.003, 0.010)),
        pelvis_obl=math.radians(float(r.uniform(0.3, 1.0))),
        pelvis_rot=math.radians(float(r.uniform(0.5, 2.0))),
        trunk_rot=math.radians(float(r.uniform(0.5, 2.0))),
        trunk_sway=math.radians(float(r.uniform(0.2, 0.8))),
    )
    still = dataclasses.replace(c.subject, gait=g)
    # Standing on the walkway, 2–5 m beyond the protocol's closest point (feet in the image).
    cp = dataclasses.replace(c.cp, end_distance=c.cp.end_distance + float(r.uniform(2.0, 5.0)))
    world = simulate_world_pose(still, cp, frames, FPS, c.rng)
    xy = project(world, still, cp)
    pose = add_estimator_noise(xy, cp, c.rng)
    info = {"view": cp.view, "camera_distance_m": round(cp.end_distance, 2)}
    return _finish(name, seed, still, xy, pose, sil, info=info)


def _lost_tracking(
    c: _Child, name: str, seed: int, frames: int, sil: bool, fraction: float = 0.40
) -> ConditionClip:
    out = _ok(c, name, seed, frames, sil)
    lost = np.zeros(frames, bool)
    target = math.ceil(fraction * frames)
    while lost.sum() < target:
        n = int(c.cond.integers(6, 31))  # 0.2–1 s
        t0 = int(c.cond.integers(0, frames - n + 1))
        while n > 1 and (lost | _span(frames, t0, n)).sum() > target:
            n -= 1  # the last run ends where the lost share reaches the fraction
        lost[t0 : t0 + n] = True
    out.pose[lost, :, :2] = np.nan
    out.pose[lost, :, 2] = MISSING_CONF
    out.people[lost] = 0
    if out.silhouette is not None:
        out.silhouette[lost] = 0.0
    out.info = {**out.info, "lost_fraction": round(float(lost.mean()), 3)}
    return out


def _span(frames: int, t0: int, n: int) -> np.ndarray:
    m = np.zeros(frames, bool)
    m[t0 : t0 + n] = True
    return m


def _crosser_world(
    child_world: np.ndarray, cam: Camera, cp: ClipParams, seed: int, cond: np.random.Generator
) -> tuple[np.ndarray, float]:
    """A second child (subject 1 of ``seed``) walking across the image behind the walk."""
    other = sample_subject(seed, 1)
    ocp = sample_clip_params(other, seed, 0, SynthConfig())
    w_local = simulate_world_pose(other, ocp, len(child_world), FPS, np.random.default_rng([seed, 1, 1, 7]))
    far = float(cam.depth(_mid_hip(child_world)).max())
    d2 = far + float(cond.uniform(1.5, 4.0))
    walk = cam.right * float(cond.choice([-1.0, 1.0]))  # across the image, either way
    left = np.cross(_UP, walk)
    hips = _mid_hip(w_local)
    v = float(hips[-1, 2] - hips[0, 2]) / ((len(w_local) - 1) / FPS)
    half_width = (IMAGE_W / 2) / cp.focal * d2
    t_enter = float(cond.uniform(0.0, len(w_local) / FPS / 3))
    s0 = -half_width - 0.3 - v * t_enter  # enters from the image edge at t_enter
    ground = cam.position * np.array([1.0, 0.0, 1.0]) + cam.forward * d2
    z = w_local[..., 2:3] - hips[0, 2]
    world = ground + walk * (s0 + z) + left * w_local[..., 0:1] + _UP * w_local[..., 1:2]
    return world, d2


def _two_people(c: _Child, name: str, seed: int, frames: int, sil: bool) -> ConditionClip:
    from scoligait_edge.pose.video import PersonTracker

    world = simulate_world_pose(c.subject, c.cp, frames, FPS, c.rng)
    xy = project(world, c.subject, c.cp)
    pose = add_estimator_noise(xy, c.cp, c.rng)
    est, child_det = _as_estimated(pose, xy)
    cam = synth_camera(world, c.cp)
    o_world, d2 = _crosser_world(world, cam, c.cp, seed, c.cond)
    o_xy = cam.project(o_world)
    o_pose = add_estimator_noise(o_xy, c.cp, c.cond)
    o_est, o_det = _as_estimated(o_pose, o_xy)
    child_d = cam.depth(_mid_hip(world))
    o_d = cam.depth(_mid_hip(o_world))
    tracker = PersonTracker()
    out = np.full_like(est, np.nan)
    out[..., 2] = MISSING_CONF
    people = np.zeros(frames, np.int64)
    on_child = np.zeros(frames, bool)
    for t in range(frames):
        cands: list[tuple[np.ndarray, float, bool]] = []
        if child_det[t]:
            cands.append((est[t], float(child_d[t]), True))
        if o_det[t]:
            cands.append((o_est[t], float(o_d[t]), False))
        clean = [_bbox((xy if is_child else o_xy)[t]) for _, _, is_child in cands]
        seen = [
            i
            for i, (_, d, _) in enumerate(cands)
            if not any(
                cands[j][1] < d and _cover(clean[i], clean[j]) >= OCCLUDED_COVER for j in range(len(cands))
            )
        ]
        people[t] = len(seen)
        boxes = [_pose_box(cands[i][0]) for i in seen]
        k = tracker.choose(boxes, t, t / FPS)
        if k is not None:
            out[t] = cands[seen[k]][0]
            on_child[t] = cands[seen[k]][2]
    detected = np.isfinite(out[..., :2]).all(-1).any(-1)
    silh = None
    if sil:
        silh = _silhouettes(xy, c.subject, detected & on_child)
        if (detected & ~on_child).any():
            other = sample_subject(seed, 1)
            silh[detected & ~on_child] = _silhouettes(o_xy, other, detected & ~on_child)[detected & ~on_child]
    return ConditionClip(
        name=name,
        seed=seed,
        pose=out,
        silhouette=silh,
        source_fps=FPS,
        people=people,
        expected_failures=set(_EXPECTED[name]),
        may_fail=set(_SWITCHED_MAY_FAIL) if tracker.jumps else set(),
        info={
            "view": c.cp.view,
            "crosser_distance_m": round(d2, 1),
            "frames_with_two": int((people >= 2).sum()),
            "frames_on_other_person": int((detected & ~on_child).sum()),
            "tracker_jumps": len(tracker.jumps),
        },
    )


def _pose_box(p: np.ndarray) -> tuple[float, float, float, float]:
    from scoligait_edge.pose.video import pose_bbox

    return pose_bbox(p)


_MAKERS = {
    "ok": _ok,
    "side_view": _side_view,
    "oblique_45": _oblique_45,
    "small_person": _small_person,
    "short_clip": _short_clip,
    "low_fps": _low_fps,
    "two_people": _two_people,
    "standing_still": _standing_still,
    "lost_tracking": _lost_tracking,
}


def render_condition(name: str, seed: int = 0, frames: int = 192, silhouettes: bool = True) -> ConditionClip:
    """Render condition ``name`` (a key of :data:`CONDITIONS`) for ``seed``: ``frames`` frames at 30 Hz.

    ``short_clip`` is shorter than 96 frames whatever ``frames`` is; every other condition needs
    ``frames >= 96`` (one knowledge-map window) so that only the condition itself is out of protocol.
    """
    if name not in _MAKERS:
        raise DatasetError(f"unknown condition {name!r}", f"use one of {', '.join(CONDITIONS)}")
    if frames < WINDOW:
        raise DatasetError(f"{frames} frames is shorter than one {WINDOW}-frame window", "ask for more")
    return _MAKERS[name](_child(name, seed), name, int(seed), int(frames), silhouettes)
