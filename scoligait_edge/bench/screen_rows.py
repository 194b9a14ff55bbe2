"""``screen`` speed and the device footprint, stage by stage: a profiler and the ``bench`` rows.

Two things live here:

- :func:`profile_screen` runs the real ``screen_video`` path (``extract_pose`` → ``Screener``)
  on a video with timers wrapped around each stage — decode, BGR→RGB + ``mp.Image``, the
  MediaPipe landmarker on the full frame and on the automatic-crop window, the automatic crop's
  proposals (MOG2 motion, HOG people while searching), tracking + mask paste, the 64×44
  silhouette, the streaming knowledge map, the model per window and the clip's ``finish`` —
  and returns per-stage calls, medians and totals plus the real-time factor (video duration /
  processing time). Nothing in the product is changed; the wrappers are removed afterwards.
  ``python -m scoligait_edge.bench.screen_rows VIDEO [--bundle DIR]`` prints the table.
- :func:`screen_cases` builds the ``pipeline/screen-*`` and ``pipeline/device-*`` rows that
  ``scoligait-edge bench`` (full run) times with the same interleaved machinery as the other
  pipeline rows (ratios to the reference workload of the same run, medians). They are not
  gate rows (``bench.gate.GATE_ROWS``): reported, never gated.

The 1080p input is made here from ``vtest.avi`` (:func:`make_1080p`): the 768×432 band
``y = 100 … 531`` (the walkers' path) upscaled 2.5× to 1920×1080 (``INTER_LINEAR``), every
source frame written once at 30 fps with OpenCV's ``VideoWriter`` (``mp4v``, MPEG-4 Part 2:
this OpenCV build has no H.264 encoder). The walkers keep their size *relative to the frame*
(≈ 250 px of 1080), so MediaPipe's letterboxed detector sees them as small as in vtest.avi.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.bench.cases import Case, failed, one_line, unavailable

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
#: The band of vtest.avi that becomes the 1080p video (rows), and the 1080p video's parameters.
BAND_Y = (100, 532)
SIZE_1080P = (1920, 1080)
FPS_1080P = 30.0
FOURCC_1080P = "mp4v"
#: The automatic-crop window the ``mediapipe-crop`` rows landmark: a square on the walkers' path
#: (vtest.avi pixels; ``bench.sources.VTEST_ROI`` made square), scaled for the 1080p video.
CROP_VTEST = (440, 150, 300, 300)
#: Frames each row decodes up front (pose rows step through them in order, VIDEO mode).
ROW_FRAMES = 48
#: The device child: torch made impossible to import, then ``load_bundle`` and one window.
DEVICE_CHILD = r"""
import sys, time, resource, json
t0 = time.perf_counter()
sys.modules['torch'] = None  # any `import torch` now raises ImportError
import numpy as np
from scoligait_edge.export import load_bundle
t1 = time.perf_counter()
r = load_bundle(sys.argv[1])
t2 = time.perf_counter()
x = {'kmap': np.zeros((1, 96, 238), np.float32), 'silhouette': np.zeros((1, 96, 64, 44), np.float32),
     'prompt_id': np.zeros(1, np.int64)}
out = r.run(x)
assert np.isfinite(out['referral_prob']).all()
t3 = time.perf_counter()
video = sys.argv[2] if len(sys.argv) > 2 else ''
t4 = t3
if video:  # the video path too: OpenCV + MediaPipe, one FramePoser on one decoded frame
    import cv2
    from scoligait_edge.pose.video import FramePoser
    cap = cv2.VideoCapture(video)
    ok, frame = cap.read()
    with FramePoser() as p:
        p.process(frame, 0, 0.0)
    t4 = time.perf_counter()
hwm = None
try:  # this process image's own peak RSS (ru_maxrss can carry the parent's peak across exec)
    with open('/proc/self/status') as f:
        hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith('VmHWM:'))
except (OSError, StopIteration):
    pass
print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1, 'first_window_s': t3 - t2, 'video_s': t4 - t3,
                  'ru_maxrss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  'vmhwm_bytes': hwm,
                  'torch_loaded': any(k == 'torch' or k.startswith('torch.') for k in sys.modules
                                      if sys.modules[k] is not None)}))
"""


# ------------------------------------------------------------------------------- inputs


def bench_cache() -> Path:
    """``$SCOLIGAIT_CACHE/bench`` (default ``~/.cache/scoligait-edge/bench``): the generated 1080p video."""
    root = os.environ.get("SCOLIGAIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "scoligait-edge"
    )
    return Path(root) / "bench"


def make_1080p(
    out: Path | None = None, source: Path = VTEST, frames: int | None = None, fourcc: str = FOURCC_1080P
) -> Path:
    """vtest.avi's walkers' band upscaled to 1920×1080 at 30 fps (see the module docstring); cached.

    ``frames``: only the first N source frames (None: all 795). Written to a temporary name and
    renamed, so a half-written file is never reused.
    """
    import cv2

    suffix = "avi" if fourcc == "MJPG" else "mp4"
    n_tag = "all" if frames is None else str(int(frames))
    out = out or bench_cache() / f"vtest_1080p30_{fourcc}_{n_tag}.{suffix}"
    if out.is_file() and out.stat().st_size > 0:
        return out
    if not source.is_file():
        from scoligait_edge.errors import InputFileError

        raise InputFileError(f"no video at {source}", "apt-get install opencv-doc")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.{suffix}")
    cap = cv2.VideoCapture(str(source))
    w = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), FPS_1080P, SIZE_1080P)
    try:
        if not w.isOpened():
            raise RuntimeError(f"OpenCV's VideoWriter cannot write {fourcc} here")
        n = 0
        while frames is None or n < frames:
            ok, f = cap.read()
            if not ok:
                break
            w.write(cv2.resize(f[BAND_Y[0] : BAND_Y[1]], SIZE_1080P, interpolation=cv2.INTER_LINEAR))
            n += 1
    finally:
        w.release()
        cap.release()
    os.replace(tmp, out)
    return out


def crop_1080p() -> tuple[int, int, int, int]:
    """:data:`CROP_VTEST` in the 1080p video's pixels."""
    s = SIZE_1080P[0] / 768.0
    x, y, w, h = CROP_VTEST
    return round(x * s), round((y - BAND_Y[0]) * s), round(w * s), round(h * s)


def decode_frames(video: Path, n: int = ROW_FRAMES, start: int = 0) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    out = []
    try:
        for _ in range(start):
            cap.grab()
        while len(out) < n:
            ok, img = cap.read()
            if not ok:
                break
            out.append(img)
    finally:
        cap.release()
    return out


# ------------------------------------------------------------------------------- profiler


@dataclass
class StageTimes:
    """Per-stage call durations (seconds) collected by the profiler's wrappers."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, dt: float) -> None:
        self.samples.setdefault(stage, []).append(dt)

    def note(self, key: str, v: float) -> None:
        self.extra.setdefault(key, []).append(v)

    def total(self, stage: str) -> float:
        return float(sum(self.samples.get(stage, ())))


class _TimedLandmarker:
    """A PoseLandmarker proxy that times ``detect_for_video`` (the MediaPipe graph itself)."""

    def __init__(self, lm: Any, rec: StageTimes) -> None:
        self._lm, self._rec, self.last = lm, rec, 0.0

    def detect_for_video(self, image: Any, ts: int) -> Any:
        t0 = time.perf_counter()
        try:
            return self._lm.detect_for_video(image, ts)
        finally:
            self.last = time.perf_counter() - t0

    def close(self) -> None:
        self._lm.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lm, name)


@contextlib.contextmanager
def instrument(rec: StageTimes) -> Iterator[StageTimes]:
    """Wrap the pose pipeline's stage functions with timers for the block (restored afterwards)."""
    import scoligait_edge.pose.video as V
    from scoligait_edge.pose import autocrop as A

    clock = time.perf_counter
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, new: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    orig_iter = V.iter_frames

    def iter_frames(cap: Any, info: Any, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        it = orig_iter(cap, info, every)
        while True:
            t0 = clock()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                rec.add("decode", clock() - t0)
            yield item

    orig_create = V.create_landmarker

    def create_landmarker(*a: Any, **k: Any) -> Any:
        t0 = clock()
        lm = _TimedLandmarker(orig_create(*a, **k), rec)
        rec.add("landmarker set-up", clock() - t0)
        return lm

    orig_landmark = V.FramePoser._landmark

    def _landmark(self: Any, landmarker: Any, img: np.ndarray, ts: int, offset: Any) -> Any:
        census = getattr(self, "_window_lms", {}).get(self.num_poses)
        tracking = [lm for n, lm in getattr(self, "_window_lms", {}).items() if n != self.num_poses]
        if landmarker is self._landmarker:
            where = "full frame"
        elif tracking and landmarker is census:
            where = "crop window, num_poses census"
        else:
            where = "crop window"
        t0 = clock()
        out = orig_landmark(self, landmarker, img, ts, offset)
        dt = clock() - t0
        mp_s = getattr(landmarker, "last", 0.0)
        rec.add(f"MediaPipe landmarker ({where})", mp_s)
        rec.add("BGR→RGB + mp.Image + landmark mapping", dt - mp_s)
        rec.note(f"{where.split(',')[0]} side px", float(max(img.shape[:2])))
        return out

    orig_track = V.FramePoser._track

    def _track(self: Any, *a: Any, **k: Any) -> Any:
        t0 = clock()
        out = orig_track(self, *a, **k)
        rec.add("_track", clock() - t0)
        return out

    orig_sil = V.silhouette_64x44

    def silhouette_64x44(*a: Any, **k: Any) -> Any:
        t0 = clock()
        out = orig_sil(*a, **k)
        rec.add("silhouette 64×44", clock() - t0)
        return out

    orig_process = V.FramePoser.process

    def process(self: Any, *a: Any, **k: Any) -> Any:
        t0 = clock()
        out = orig_process(self, *a, **k)
        rec.add("FramePoser.process", clock() - t0)
        return out

    def timed_method(cls: Any, name: str, stage: str) -> None:
        orig = getattr(cls, name)

        def wrapper(self: Any, *a: Any, **k: Any) -> Any:
            t0 = clock()
            try:
                return orig(self, *a, **k)
            finally:
                rec.add(stage, clock() - t0)

        patch(cls, name, wrapper)

    patch(V, "iter_frames", iter_frames)
    patch(V, "create_landmarker", create_landmarker)
    patch(V.FramePoser, "_landmark", _landmark)
    patch(V.FramePoser, "_track", _track)
    patch(V, "silhouette_64x44", silhouette_64x44)
    patch(V.FramePoser, "process", process)
    timed_method(A.PersonLocator, "observe", "auto-crop: MOG2 motion")
    timed_method(A.PersonLocator, "_hog_people", "auto-crop: HOG people")
    timed_method(A.PersonLocator, "propose", "auto-crop: propose")
    try:
        yield rec
    finally:
        for owner, name, orig in reversed(saved):
            setattr(owner, name, orig)


def _stage_row(name: str, xs: list[float], frames: int) -> dict[str, Any]:
    a = np.asarray(xs, np.float64) * 1e3
    return {
        "stage": name,
        "calls": len(a),
        "median_ms": float(np.median(a)) if len(a) else 0.0,
        "p90_ms": float(np.percentile(a, 90)) if len(a) else 0.0,
        "total_s": float(a.sum() / 1e3),
        "ms_per_frame": float(a.sum() / max(1, frames)),
    }


def profile_screen(
    video: str | Path,
    bundle: str | Path | None = None,
    *,
    report: bool = False,
    **pose_kw: Any,
) -> dict[str, Any]:
    """Screen ``video`` once through ``screen_video`` with every stage timed; per-stage split + RTF.

    Returns ``{"video", "frames", "duration_s", "wall_s", "rtf_wall", "rtf_result", "stages":
    [{"stage", "calls", "median_ms", "p90_ms", "total_s", "ms_per_frame"}], "detection_rate",
    "crop_frames", "verdict", "timing"}``; ``ms_per_frame`` = stage total / source frames
    processed. ``rtf_wall`` = video duration / wall time of ``screen_video`` (decode, pose,
    resampling, kmap, model, quality gate); ``rtf_result`` is what ``result.json`` reports.
    ``report=True`` also times ``ScreenResult.save`` (``result.json`` + ``report.html``).
    ``pose_kw`` go to ``extract_pose`` (e.g. ``max_frames``, ``crop``).
    """
    from scoligait_edge.screen.pipeline import Screener
    from scoligait_edge.screen.sources import screen_video

    rec = StageTimes()
    clock = time.perf_counter
    t0 = clock()
    screener = Screener(bundle)
    rec.add("Screener(bundle) (load + self-test)", clock() - t0)
    orig_run = screener.runner.run
    orig_push = screener.push
    orig_window = screener._run_window
    orig_finish = screener.finish

    def run(inputs: Any) -> Any:
        t = clock()
        try:
            return orig_run(inputs)
        finally:
            rec.add("model (bundle runner, per window)", clock() - t)

    def wrap(fn: Callable[..., Any], stage: str) -> Callable[..., Any]:
        def w(*a: Any, **k: Any) -> Any:
            t = clock()
            try:
                return fn(*a, **k)
            finally:
                rec.add(stage, clock() - t)

        return w

    screener.runner.run = run  # type: ignore[method-assign]
    screener.push = wrap(orig_push, "Screener.push")  # type: ignore[method-assign]
    screener._run_window = wrap(orig_window, "window")  # type: ignore[method-assign]
    screener.finish = wrap(orig_finish, "finish (quality gate, offline kmap, saliency)")  # type: ignore[method-assign]
    with instrument(rec):
        t0 = clock()
        res = screen_video(video, screener, progress=False, **pose_kw)
        wall = clock() - t0
    d = res.data
    src = d["source"]
    frames = len(rec.samples.get("FramePoser.process", ())) or 1
    fps = float(src.get("fps") or 30.0)
    duration = frames / fps
    if report:
        with tempfile.TemporaryDirectory(prefix="scoligait-profile-") as tmp:
            t0 = clock()
            res.save(tmp)
            rec.add("report (result.json + report.html)", clock() - t0)
    s = rec.samples
    # Derived stages: what a wrapper's total holds beyond the stages wrapped inside it.
    lm = [k for k in s if k.startswith("MediaPipe landmarker") or k.startswith("BGR")]
    inner = sum(rec.total(k) for k in lm) + rec.total("_track") + rec.total("auto-crop: MOG2 motion")
    inner += rec.total("auto-crop: propose")
    setup_in_process = sum(s.get("landmarker set-up", [])[1:])  # the crop landmarker is made lazily
    derived = {
        "tracking + mask paste": [rec.total("_track") - rec.total("silhouette 64×44")],
        "auto-crop: propose (ranking, excl. HOG)": [
            rec.total("auto-crop: propose") - rec.total("auto-crop: HOG people")
        ],
        "FramePoser.process, rest (window/follow logic)": [
            rec.total("FramePoser.process") - inner - setup_in_process
        ],
        "kmap push (streaming)": [max(0.0, rec.total("Screener.push") - rec.total("window"))],
        "window: prompt id + silhouette stack": [
            rec.total("window") - rec.total("model (bundle runner, per window)")
        ],
        "extract_pose rest (open, resample 30 Hz, gaps)": [
            d["timing"]["pose_s"]
            - rec.total("decode")
            - rec.total("FramePoser.process")
            - rec.total("landmarker set-up")
            + setup_in_process
        ],
    }
    order = [
        "decode",
        "BGR→RGB + mp.Image + landmark mapping",
        "MediaPipe landmarker (full frame)",
        "MediaPipe landmarker (crop window)",
        "MediaPipe landmarker (crop window, num_poses census)",
        "auto-crop: MOG2 motion",
        "auto-crop: HOG people",
        "auto-crop: propose (ranking, excl. HOG)",
        "tracking + mask paste",
        "silhouette 64×44",
        "FramePoser.process, rest (window/follow logic)",
        "landmarker set-up",
        "extract_pose rest (open, resample 30 Hz, gaps)",
        "kmap push (streaming)",
        "model (bundle runner, per window)",
        "window: prompt id + silhouette stack",
        "finish (quality gate, offline kmap, saliency)",
        "Screener(bundle) (load + self-test)",
        "report (result.json + report.html)",
    ]
    stages = []
    for name in order:
        xs = derived.get(name, s.get(name))
        if xs:
            row = _stage_row(name, xs, frames)
            if name in derived and len(xs) == 1:  # a remainder: only its total is meaningful
                row.update(calls=None, median_ms=None, p90_ms=None)
            stages.append(row)
    accounted = sum(r["total_s"] for r in stages if not r["stage"].startswith(("Screener(", "report")))
    return {
        "video": str(video),
        "size": src.get("size"),
        "fps": fps,
        "frames": frames,
        "duration_s": duration,
        "wall_s": wall,
        "accounted_s": accounted,
        "rtf_wall": duration / wall if wall > 0 else None,
        "rtf_result": d["timing"].get("realtime_factor"),
        "timing": d["timing"],
        "detection_rate": src.get("detection_rate"),
        "verdict": d["verdict"],
        "failed_checks": [r["check"] for r in d["reasons"]],
        "quality": {c["name"]: [c["value"], c["passed"]] for c in d["quality"]["checks"]},
        "segments": src.get("segments"),
        "windows": len(d["windows"]),
        "crop_side_px": float(np.median(rec.extra["crop window side px"]))
        if rec.extra.get("crop window side px")
        else None,
        "stages": stages,
        "load_average": list(os.getloadavg()),
    }


def format_profile(p: dict[str, Any]) -> str:
    """The profile as a Markdown table (stage, calls, median ms/call, ms/frame, share)."""
    lines = [
        f"{Path(p['video']).name}: {p['size'][0]}×{p['size'][1]} @ {p['fps']:g} fps, {p['frames']} frames "
        f"({p['duration_s']:.1f} s) — screen_video wall {p['wall_s']:.1f} s → real-time factor "
        f"{p['rtf_wall']:.2f} (result.json: {p['rtf_result']}); detection rate {p['detection_rate']}; "
        f"verdict {p['verdict']} ({', '.join(p['failed_checks'])}); "
        f"load average {', '.join(f'{x:.1f}' for x in p['load_average'])}",
        "",
        "| stage | calls | median ms/call | ms/frame | share |",
        "|---|---:|---:|---:|---:|",
    ]
    tot = p["wall_s"]
    for r in p["stages"]:
        med = "—" if r["median_ms"] is None else f"{r['median_ms']:.2f}"
        calls = "—" if r["calls"] is None else str(r["calls"])
        share = f"{r['total_s'] / tot:.1%}" if tot > 0 else "—"
        lines.append(f"| {r['stage']} | {calls} | {med} | {r['ms_per_frame']:.2f} | {share} |")
    lines.append(f"| **total (screen_video wall)** | | | **{1e3 * p['wall_s'] / p['frames']:.2f}** | 100% |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- bench rows

_POSE_WHY = "MediaPipe runs its own thread pool; reported, not gated"


def _inputs_or_reason(need_1080p: bool = False) -> tuple[Path | None, Path | None, str | None, str | None]:
    """(vtest, 1080p video, why vtest rows are ⏭, why 1080p rows are ⏭): no vtest.avi, no pose model."""
    if not VTEST.is_file():
        why = f"no video at {VTEST} (apt-get install opencv-doc)"
        return None, None, why, why
    try:
        from scoligait_edge.pose.assets import pose_bundle

        pose_bundle()
    except Exception as e:
        why = f"pose model bundle not set up ({one_line(e, 100)}; run `scoligait-edge setup-assets`)"
        return None, None, why, why
    if not need_1080p:
        return VTEST, None, None, "1080p rows not asked for"
    try:
        return VTEST, make_1080p(frames=ROW_FRAMES * 4), None, None
    except Exception as e:
        return VTEST, None, None, f"could not make the 1080p video: {one_line(e, 100)}"


def _frame_case(cid: str, label: str, target: str, setup: Callable[[int], Any], note: str, **kw: Any) -> Case:
    kw.setdefault("unit", "frame")
    return Case(
        id=cid,
        kind="pipeline",
        label=label,
        target=target,
        setup=setup,
        notes=[note],
        gate_latency=False,
        gate_why=kw.pop("gate_why", "a screen-speed row: reported, not gated"),
        **kw,
    )


def decode_case(video: Path | None, tag: str, reason: str | None) -> Case:
    """Decode the next frame (``cv2.VideoCapture.read``), reopening at the end of the file."""
    cid, label = f"pipeline/screen-decode-{tag}", f"screen: decode ({tag})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")

    def setup(_threads: int) -> Callable[[], object]:
        import cv2

        st: dict[str, Any] = {"cap": cv2.VideoCapture(str(video))}

        def step() -> object:
            ok, img = st["cap"].read()
            if not ok:
                st["cap"].release()
                st["cap"] = cv2.VideoCapture(str(video))
                ok, img = st["cap"].read()
            return img

        return step

    return _frame_case(cid, label, "opencv", setup, f"{video.name}: cv2.VideoCapture.read per frame")


def convert_case(video: Path | None, tag: str, reason: str | None) -> Case:
    """BGR→RGB + ``mp.Image`` of a full decoded frame: what the full-frame landmarker path pays first."""
    cid, label = f"pipeline/screen-convert-{tag}", f"screen: BGR→RGB + mp.Image ({tag})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")

    def setup(_threads: int) -> Callable[[], object]:
        import cv2
        import mediapipe as mp

        frames = decode_frames(video, 8)
        st = {"i": 0}

        def step() -> object:
            st["i"] += 1
            rgb = np.ascontiguousarray(cv2.cvtColor(frames[st["i"] % len(frames)], cv2.COLOR_BGR2RGB))
            return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)

        return step

    return _frame_case(cid, label, "opencv", setup, f"{video.name}: cvtColor + mp.Image on the whole frame")


def mediapipe_case(
    video: Path | None, tag: str, reason: str | None, window: tuple[int, int, int, int] | None
) -> Case:
    """``PoseLandmarker.detect_for_video`` alone (VIDEO mode, consecutive frames) on the frame or a window."""
    where = "crop" if window is not None else "full"
    cid = f"pipeline/screen-mediapipe-{where}-{tag}"
    from scoligait_edge.pose import video as V

    poses = min(V.DEFAULT_NUM_POSES, V.CROP_TRACK_POSES) if window is not None else V.DEFAULT_NUM_POSES
    label = (
        f"screen: MediaPipe landmarker, {'auto-crop window' if window else 'full frame'}, "
        f"num_poses={poses} ({tag})"
    )
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")
    case = _frame_case(
        cid,
        label,
        "mediapipe",
        lambda _t: None,
        f"{video.name}, {'window ' + str(window) if window else 'full frame'}; VIDEO mode on "
        f"{ROW_FRAMES} consecutive frames, RGB converted up front; num_poses={poses} (what FramePoser uses)",
        gate_why=_POSE_WHY,
    )

    def setup(_threads: int) -> Callable[[], object]:
        import cv2
        import mediapipe as mp

        from scoligait_edge.pose.video import Thresholds, create_landmarker, quiet_native_logs

        imgs = []
        for f in decode_frames(video, ROW_FRAMES):
            if window is not None:
                x, y, w, h = window
                f = f[y : y + h, x : x + w]
            rgb = np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
            imgs.append(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        with quiet_native_logs():
            lm = create_landmarker(Thresholds(), poses)
        case.cleanups.append(lm.close)
        st = {"i": 0}

        def step() -> object:
            i = st["i"]
            st["i"] += 1
            return lm.detect_for_video(imgs[i % len(imgs)], 100 * i)

        return step

    case.setup = setup
    return case


def motion_case(video: Path | None, tag: str, reason: str | None) -> Case:
    """The automatic crop's motion step: ``PersonLocator.observe`` (MOG2 on a 384-wide copy)."""
    cid, label = f"pipeline/screen-autocrop-motion-{tag}", f"screen: auto-crop MOG2 proposals ({tag})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")

    def setup(_threads: int) -> Callable[[], object]:
        from scoligait_edge.pose.autocrop import PersonLocator

        frames = decode_frames(video, ROW_FRAMES)
        loc = PersonLocator()
        for f in frames[:10]:
            loc.observe(f)
        st = {"i": 10}

        def step() -> object:
            st["i"] += 1
            loc.observe(frames[st["i"] % len(frames)])
            return loc._motion

        return step

    return _frame_case(
        cid, label, "opencv", setup, f"{video.name}: resize to 384 wide + MOG2 + blobs, per frame"
    )


def hog_case(video: Path | None, tag: str, reason: str | None) -> Case:
    """One HOG people search (run every 5th search, only while nobody is tracked)."""
    cid, label = f"pipeline/screen-autocrop-hog-{tag}", f"screen: auto-crop HOG people, per search ({tag})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="call")

    def setup(_threads: int) -> Callable[[], object]:
        from scoligait_edge.pose.autocrop import PersonLocator

        frame = decode_frames(video, 1, start=30)[0]
        loc = PersonLocator()
        return lambda: loc._hog_people(frame)

    return _frame_case(
        cid, label, "opencv", setup, f"{video.name}: frame scaled to ≤ 800 px, detectMultiScale", unit="call"
    )


def silhouette_case(
    video: Path | None, tag: str, reason: str | None, window: tuple[int, int, int, int]
) -> Case:
    """A crop-window mask pasted into a frame-sized mask, then ``silhouette_64x44`` (what ``_track`` does)."""
    cid, label = f"pipeline/screen-silhouette-{tag}", f"screen: mask paste + silhouette 64×44 ({tag})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")

    def setup(_threads: int) -> Callable[[], object]:
        import cv2

        from scoligait_edge.pose.autocrop import CropWindow
        from scoligait_edge.pose.video import silhouette_64x44

        f = decode_frames(video, 1)[0]
        x, y, w, h = window
        win = CropWindow(x, y, w, h)
        mask = np.zeros((h, w), np.float32)  # a person-shaped ellipse in the window
        cv2.ellipse(mask, (w // 2, h // 2), (w // 8, int(h * 0.4)), 0, 0, 360, 1.0, -1)
        shape = f.shape[:2]
        return lambda: silhouette_64x44(win.paste(mask, shape))

    return _frame_case(
        cid, label, "opencv", setup, f"{video.name}: window {window} mask → frame-sized mask → 64×44"
    )


def pose_case(video: Path | None, tag: str, reason: str | None) -> Case:
    """``FramePoser.process`` with the automatic crop (screen's default) on consecutive decoded frames."""
    cid, label = f"pipeline/screen-pose-{tag}", f"screen: pose per frame, auto crop ({tag})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")
    case = _frame_case(
        cid,
        label,
        "mediapipe",
        lambda _t: None,
        f"{video.name}: FramePoser(crop='auto').process on {ROW_FRAMES} frames decoded up front, cycled",
        gate_why=_POSE_WHY,
    )

    def setup(_threads: int) -> Callable[[], object]:
        from scoligait_edge.pose.video import FramePoser

        frames = decode_frames(video, ROW_FRAMES)
        poser = FramePoser()
        case.cleanups.append(poser.close)
        st = {"i": 0}

        def step() -> object:
            i = st["i"]
            st["i"] += 1
            return poser.process(frames[i % len(frames)], i, i / 30.0)

        return step

    case.setup = setup
    return case


def kmap_model_case(bundle: Path | None, why: str | None) -> Case:
    """``Screener.push`` per 30 Hz frame: streaming kmap, prompt id, silhouette stack, bundle per window."""
    cid, label = "pipeline/screen-kmap+model", "screen: Screener.push per frame (kmap + model)"
    if bundle is None:
        return unavailable(cid, "pipeline", label, why or "no INT8 ONNX bundle", unit="frame")
    from scoligait_edge.bench.sources import synth_pose

    pose = synth_pose()
    hop = 16
    sil = np.zeros((64, 44), np.float32)

    def setup(_threads: int) -> Callable[[], object]:
        from scoligait_edge.screen.pipeline import Screener

        s = Screener(bundle)
        st = {"i": 0}
        for i in range(120):
            s.push(pose[i % len(pose)], sil, 1)

        def call() -> object:
            out = None
            for _ in range(hop):
                i = st["i"]
                st["i"] = (i + 1) % len(pose)
                if len(s._pose) > 4096:  # a long session: start a new clip, keep memory bounded
                    s.reset()
                out = s.push(pose[i], sil, 1) or out
            return out

        return call

    return Case(
        id=cid,
        kind="pipeline",
        label=label,
        target="onnxruntime",
        precision="int8",
        unit="frame",
        setup=setup,
        items_per_call=hop,
        gate_latency=False,
        gate_why="a screen-speed row: reported, not gated",
        notes=[f"{hop} pushes per call (one window through {bundle.name}), reported per frame"],
    )


def rtf_case(video: Path | None, tag: str, reason: str | None, bundle: Path | None, fps: float) -> Case:
    """One source frame through the whole screen path: decode → FramePoser (auto crop) → Screener.push.

    The table's ``per s`` (1 / median) divided by the source fps is the median-frame real-time
    factor; the mean-based one over a whole video is :func:`profile_screen`'s.
    """
    cid = f"pipeline/screen-rtf-{tag}"
    label = f"screen: decode + pose + kmap + model per frame ({tag}; RTF = per s ÷ {fps:g})"
    if reason or video is None:
        return unavailable(cid, "pipeline", label, reason or "no video", unit="frame")
    if bundle is None:
        return unavailable(cid, "pipeline", label, "needs the student/onnx/int8 bundle", unit="frame")
    per = max(1, round(30.0 / fps))  # 30 Hz pushes per source frame
    case = _frame_case(
        cid,
        label,
        "mediapipe",
        lambda _t: None,
        f"{video.name} decoded live from frame 0 (reopened at the end); {per} Screener.push per "
        f"source frame (30 Hz); model {bundle.name}",
        gate_why=_POSE_WHY,
    )

    def setup(_threads: int) -> Callable[[], object]:
        import cv2

        from scoligait_edge.pose.video import FramePoser
        from scoligait_edge.screen.pipeline import Screener

        s = Screener(bundle)
        st: dict[str, Any] = {"i": 0, "cap": cv2.VideoCapture(str(video)), "poser": FramePoser()}
        case.cleanups.append(lambda: st["poser"].close())
        case.cleanups.append(lambda: st["cap"].release())

        def step() -> object:
            ok, img = st["cap"].read()
            if not ok:  # end of the file: a new clip from frame 0
                st["cap"].release()
                st["poser"].close()
                st["cap"], st["poser"], st["i"] = cv2.VideoCapture(str(video)), FramePoser(), 0
                s.reset()
                ok, img = st["cap"].read()
            i = st["i"]
            st["i"] += 1
            fp = st["poser"].process(img, i, i / fps)
            out = None
            for _ in range(per):
                out = s.push(fp.pose, fp.silhouette, fp.n_people) or out
            return out

        return step

    case.setup = setup
    return case


def device_probe(bundle: Path, video: Path | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """Run the device child once (torch blocked) and return its JSON: ``import_s``, ``load_s``,
    ``first_window_s``, ``video_s``, ``wall_s``, ``ru_maxrss_bytes``, ``vmhwm_bytes`` and
    ``peak_rss_bytes`` (``VmHWM`` where Linux has it: ``ru_maxrss`` of a child spawned by a big
    process reports the parent's peak when it is larger — measured 110 MiB here vs 67 MiB VmHWM)."""
    args = [sys.executable, "-c", DEVICE_CHILD, str(bundle)] + ([str(video)] if video else [])
    t0 = time.perf_counter()
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"device child exited {res.returncode}: {tail}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    out["peak_rss_bytes"] = out.get("vmhwm_bytes") or out["ru_maxrss_bytes"]
    out["peak_rss_source"] = "VmHWM" if out.get("vmhwm_bytes") else "ru_maxrss"
    return out


def device_cases(
    bundle: Path | None, why: str | None, video_reason: str | None, video: bool = True
) -> list[Case]:
    """Start-up time (timed child processes) and peak RSS of a device-side process, torch blocked.

    ``pipeline/device-startup``: one child per timed call — interpreter start, ``import
    scoligait_edge.export`` with ``sys.modules['torch'] = None``, ``load_bundle(path)``, the first
    window. ``pipeline/device-load+first-window``: ``load_bundle`` + one window in this process
    (imports already paid). ``pipeline/device-rss`` / ``-rss-video``: one probe child's peak RSS
    (the table's size column; see :func:`device_probe`), model path only / plus OpenCV + MediaPipe
    and one ``FramePoser`` frame. Goal (issue 10): load + first window < 0.5 s, model-path RSS < 150 MB.
    """
    ids = (
        "pipeline/device-startup",
        "pipeline/device-load+first-window",
        "pipeline/device-rss",
        "pipeline/device-rss-video",
    )
    labels = (
        "device: process start-up (import, load_bundle, 1st window; no torch)",
        "device: load_bundle + first window (in process)",
        "device: peak RSS, model path (size column)",
        "device: peak RSS, + OpenCV/MediaPipe, 1 video frame (size column)",
    )
    units = ("start", "call", "process", "process")
    if bundle is None:
        return [
            unavailable(i, "pipeline", lab, why or "no bundle", unit=u)
            for i, lab, u in zip(ids, labels, units, strict=True)
        ]
    try:
        probe = device_probe(bundle)
    except Exception as e:
        return [
            failed(i, "pipeline", lab, one_line(e), unit=u)
            for i, lab, u in zip(ids, labels, units, strict=True)
        ]
    if probe.get("torch_loaded"):
        return [
            failed(i, "pipeline", lab, "the device child imported torch", unit=u)
            for i, lab, u in zip(ids, labels, units, strict=True)
        ]
    split = (
        f"probe: import {probe['import_s'] * 1e3:.0f} ms, load_bundle {probe['load_s'] * 1e3:.0f} ms, "
        f"first window {probe['first_window_s'] * 1e3:.1f} ms, wall {probe['wall_s'] * 1e3:.0f} ms, "
        f"peak RSS {probe['peak_rss_bytes'] / 2**20:.0f} MiB ({probe['peak_rss_source']}; ru_maxrss "
        f"{probe['ru_maxrss_bytes'] / 2**20:.0f} MiB); torch blocked"
    )

    def startup(_threads: int) -> Callable[[], object]:
        args = [sys.executable, "-c", DEVICE_CHILD, str(bundle)]

        def call() -> object:
            return subprocess.run(args, capture_output=True, check=True)

        return call

    def in_process(_threads: int) -> Callable[[], object]:
        from scoligait_edge.export import load_bundle

        x = {
            "kmap": np.zeros((1, 96, 238), np.float32),
            "silhouette": np.zeros((1, 96, 64, 44), np.float32),
            "prompt_id": np.zeros(1, np.int64),
        }
        return lambda: load_bundle(bundle).run(x)

    why_not = "start-up and RSS: reported, not gated"
    cases = [
        Case(
            id=ids[0],
            kind="pipeline",
            label=labels[0],
            target="onnxruntime",
            precision="int8",
            unit=units[0],
            setup=startup,
            notes=[split],
            gate_latency=False,
            gate_why=why_not,
        ),
        Case(
            id=ids[1],
            kind="pipeline",
            label=labels[1],
            target="onnxruntime",
            precision="int8",
            unit=units[1],
            setup=in_process,
            notes=[f"{bundle.name}; no self-test"],
            gate_latency=False,
            gate_why=why_not,
        ),
        Case(
            id=ids[2],
            kind="pipeline",
            label=labels[2],
            target="onnxruntime",
            precision="int8",
            unit=units[2],
            status="passed",
            size_bytes=int(probe["peak_rss_bytes"]),
            notes=[split],
        ),
    ]
    if not video:  # the video probe (OpenCV + MediaPipe, ≈ 1.5 s) was not asked for
        return cases
    if video_reason:
        cases.append(unavailable(ids[3], "pipeline", labels[3], video_reason, unit=units[3]))
    else:
        try:
            pv = device_probe(bundle, VTEST)
            cases.append(
                Case(
                    id=ids[3],
                    kind="pipeline",
                    label=labels[3],
                    target="mediapipe",
                    unit=units[3],
                    status="passed",
                    size_bytes=int(pv["peak_rss_bytes"]),
                    notes=[
                        f"probe: {pv['wall_s'] * 1e3:.0f} ms wall, FramePoser + 1 frame "
                        f"{pv['video_s'] * 1e3:.0f} ms, peak RSS {pv['peak_rss_bytes'] / 2**20:.0f} MiB "
                        f"({pv['peak_rss_source']})"
                    ],
                )
            )
        except Exception as e:
            cases.append(failed(ids[3], "pipeline", labels[3], one_line(e), unit=units[3]))
    return cases


#: Every row :func:`screen_cases` builds, in table order.
SCREEN_ROW_IDS = (
    "pipeline/screen-decode-vtest",
    "pipeline/screen-decode-1080p",
    "pipeline/screen-convert-1080p",
    "pipeline/screen-mediapipe-full-1080p",
    "pipeline/screen-mediapipe-crop-1080p",
    "pipeline/screen-autocrop-motion-1080p",
    "pipeline/screen-autocrop-hog-1080p",
    "pipeline/screen-silhouette-1080p",
    "pipeline/screen-pose-vtest",
    "pipeline/screen-pose-1080p",
    "pipeline/screen-kmap+model",
    "pipeline/screen-rtf-vtest",
    "pipeline/screen-rtf-1080p",
    "pipeline/device-startup",
    "pipeline/device-load+first-window",
    "pipeline/device-rss",
    "pipeline/device-rss-video",
)


def screen_cases(bundle_case: Case | None, only: set[str] | None = None) -> list[Case]:
    """The screen-speed and device-footprint rows (``only``: just these ids; nothing else is built).

    ``bundle_case``: the ``student/onnx/int8`` row (its bundle is screen's default model path);
    without it the model rows are ⏭ with the reason.
    """
    want = (lambda cid: cid in only) if only is not None else (lambda _cid: True)
    if not any(want(c) for c in SCREEN_ROW_IDS):
        return []
    bundle: Path | None = None
    why = None
    if bundle_case is None:
        why = "needs the student/onnx/int8 row (not exported in this run)"
    elif not bundle_case.runnable or bundle_case.artifact is None:
        why = f"needs the student/onnx/int8 row: {bundle_case.reason or 'not runnable'}"
    else:
        bundle = bundle_case.artifact
    need_1080p = any(want(c) for c in SCREEN_ROW_IDS if "1080p" in c)
    vtest, v1080, reason, r1080 = _inputs_or_reason(need_1080p)
    build: dict[str, Callable[[], Case | list[Case]]] = {
        "pipeline/screen-decode-vtest": lambda: decode_case(vtest, "vtest", reason),
        "pipeline/screen-decode-1080p": lambda: decode_case(v1080, "1080p", r1080),
        "pipeline/screen-convert-1080p": lambda: convert_case(v1080, "1080p", r1080),
        "pipeline/screen-mediapipe-full-1080p": lambda: mediapipe_case(v1080, "1080p", r1080, None),
        "pipeline/screen-mediapipe-crop-1080p": lambda: mediapipe_case(v1080, "1080p", r1080, crop_1080p()),
        "pipeline/screen-autocrop-motion-1080p": lambda: motion_case(v1080, "1080p", r1080),
        "pipeline/screen-autocrop-hog-1080p": lambda: hog_case(v1080, "1080p", r1080),
        "pipeline/screen-silhouette-1080p": lambda: silhouette_case(v1080, "1080p", r1080, crop_1080p()),
        "pipeline/screen-pose-vtest": lambda: pose_case(vtest, "vtest", reason),
        "pipeline/screen-pose-1080p": lambda: pose_case(v1080, "1080p", r1080),
        "pipeline/screen-kmap+model": lambda: kmap_model_case(bundle, why),
        "pipeline/screen-rtf-vtest": lambda: rtf_case(vtest, "vtest", reason, bundle, 10.0),
        "pipeline/screen-rtf-1080p": lambda: rtf_case(v1080, "1080p", r1080, bundle, FPS_1080P),
    }
    out: list[Case] = [build[c]() for c in SCREEN_ROW_IDS if c in build and want(c)]  # type: ignore[misc]
    dev_ids = [c for c in SCREEN_ROW_IDS if c.startswith("pipeline/device-") and want(c)]
    if dev_ids:
        video = "pipeline/device-rss-video" in dev_ids
        out += [c for c in device_cases(bundle, why, reason, video=video) if c.id in dev_ids]
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m scoligait_edge.bench.screen_rows", description=__doc__.split("\n")[0]
    )
    ap.add_argument("video", nargs="*", help="videos to profile (default: vtest.avi and its 1080p version)")
    ap.add_argument("--bundle", help="bundle directory (default: screen's default INT8 ONNX bundle)")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--crop", default="auto")
    ap.add_argument("--report", action="store_true", help="also time writing result.json + report.html")
    ap.add_argument("--json", help="write the profiles here")
    a = ap.parse_args(argv)
    videos = a.video or [str(VTEST), str(make_1080p())]
    profiles = []
    for v in videos:
        p = profile_screen(v, a.bundle, report=a.report, max_frames=a.max_frames, crop=a.crop)
        profiles.append(p)
        print(format_profile(p), flush=True)
        print()
    if a.json:
        Path(a.json).write_text(json.dumps(profiles, indent=2) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
