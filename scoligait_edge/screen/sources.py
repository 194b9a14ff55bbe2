"""What ``screen`` accepts: a video, a pose clip, a directory or glob of them, a camera index or a URL.

Shaped like Ultralytics' ``model.predict(source, stream=True)``: one ``source`` argument, and a
generator of :class:`~scoligait_edge.screen.pipeline.ScreenResult` (``.save()``, ``.to_json()``).
Files give MediaPipe's VIDEO running mode; a camera or stream gives LIVE_STREAM (per-window
results through ``on_window`` as they happen).
"""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoligait_edge.errors import InputFileError
from scoligait_edge.screen.pipeline import Screener, ScreenResult

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
POSE_SUFFIXES = (".npz", ".pkl")


def expand(source: str | Path | int | list[Any]) -> list[str | int]:
    """Files (sorted) from a file, directory, glob or list; a camera index or URL stays as it is."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return [int(source)]
    if isinstance(source, (list, tuple)):
        return [x for s in source for x in expand(s)]
    s = str(source)
    if "://" in s:
        return [s]
    p = Path(s)
    if p.is_dir():
        files = sorted(
            f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES + POSE_SUFFIXES
        )
        if not files:
            raise InputFileError(
                f"{p}: no videos or pose clips in this directory", "pass a directory of .mp4/.avi/.npz"
            )
        return [str(f) for f in files]
    if any(c in s for c in "*?["):
        files = sorted(glob.glob(s))
        if not files:
            raise InputFileError(f"{s}: the pattern matches no file", "check the glob")
        return files
    if not p.exists():
        raise InputFileError(f"{p}: no such file", "check the path")
    return [s]


@dataclass
class PoseStage:
    """What the pose stage hands the model stage: the 30 Hz arrays and the source description.

    ``screen_clip`` / ``screen_video`` are ``screen_stage(clip_stage(…) / video_stage(…))``; the
    fleet path (:mod:`scoligait_edge.screen.fleet`) runs the two halves on different Ray workers.
    """

    pose: Any  #: [T, 17, 3] float32, COCO-17 pixels + confidence at 30 Hz
    silhouettes: Any  #: [T, 64, 44] uint8, or None
    people: Any  #: people seen per frame [T], or None
    source: dict[str, Any]
    source_fps: float
    pose_s: float = 0.0


def clip_stage(path_or_clip: Any) -> PoseStage:
    """The pose stage of a pose clip (``.npz`` / ``.pkl`` path or a :class:`~scoligait_edge.pose.Clip`)."""
    from scoligait_edge.pose import read_clip
    from scoligait_edge.pose.video import resample_pose, resample_times

    clip = read_clip(path_or_clip) if isinstance(path_or_clip, (str, Path)) else path_or_clip
    pose, sil = clip.pose, clip.silhouettes
    people = clip.metadata.get("people") if isinstance(clip.metadata, dict) else None
    src_fps = (
        float(clip.metadata.get("source_fps", clip.fps)) if isinstance(clip.metadata, dict) else clip.fps
    )
    if abs(clip.fps - 30.0) > 1e-6:  # resample to the model's 30 Hz (silhouettes/people dropped)
        import numpy as np

        times = np.arange(len(pose)) / clip.fps
        pose = resample_pose(times, pose, resample_times(len(pose), clip.fps))
        sil, people = None, None
    path = str(path_or_clip) if isinstance(path_or_clip, (str, Path)) else None
    src = {"path": path, "kind": "pose", "fps": src_fps, "frames": len(pose), "size": None}
    return PoseStage(pose, sil, people, src, src_fps)


def screen_stage(stage: PoseStage, screener: Screener) -> ScreenResult:
    """The model stage: stream the frames through ``screener`` (knowledge map, bundle windows, gate)."""
    screener.reset()
    sil, people = stage.silhouettes, stage.people
    for t in range(len(stage.pose)):
        screener.push(stage.pose[t], None if sil is None else sil[t], None if people is None else people[t])
    return screener.finish(stage.source, source_fps=stage.source_fps, pose_s=stage.pose_s)


def screen_clip(path_or_clip: Any, screener: Screener) -> ScreenResult:
    """Screen a pose clip (``.npz`` / Scoliosis1K ``.pkl`` path, or a :class:`~scoligait_edge.pose.Clip`)."""
    return screen_stage(clip_stage(path_or_clip), screener)


def video_stage(path: str | Path, *, progress: bool = True, **pose_kw: Any) -> PoseStage:
    """The pose stage of a video: offline pose (VIDEO mode, 30 Hz, silhouettes), longest segment."""
    from scoligait_edge.pose.video import extract_pose

    t0 = time.perf_counter()
    clips = extract_pose(path, progress=progress, **pose_kw)
    pose_s = time.perf_counter() - t0
    clip = max(clips, key=lambda c: len(c.pose))
    meta = clip.metadata
    src = {
        "path": str(path),
        "kind": "video",
        "fps": meta.get("source_fps"),
        "frames": len(clip.pose),
        "size": meta.get("source_size"),
        "segments": len(clips),
        "detection_rate": meta.get("detection_rate"),
        "start_s": meta.get("start_s"),
        "duration_s": (meta.get("source_frames") or 0) / float(meta.get("source_fps") or 30.0) or None,
    }
    sil = clip.silhouettes
    return PoseStage(clip.pose, sil, meta.get("people") or None, src, float(meta.get("source_fps") or 30.0),
                     pose_s)  # fmt: skip


def screen_video(
    path: str | Path,
    screener: Screener,
    *,
    progress: bool = True,
    include_frames: bool = False,
    **pose_kw: Any,
) -> ScreenResult:
    """Screen a video file: offline pose (VIDEO mode, 30 Hz, silhouettes), then the streaming model path.

    When the walker is lost for long, the pose splits into segments; the longest is screened and
    the result says how many there were.
    """
    stage = video_stage(path, progress=progress, **pose_kw)
    res = screen_stage(stage, screener)
    if include_frames:  # opt-in only: children's faces stay out of reports by default
        res.frames = grab_frames(path, res, float(stage.source.get("start_s") or 0.0), stage.source_fps)
    return res


def grab_frames(
    path: str | Path, res: ScreenResult, start_s: float, source_fps: float, n: int = 8, width: int = 320
) -> dict[int, Any]:
    """RGB thumbnails (``width`` px wide) at the top features' spans and evenly over the clip.

    Keys are the clip's 30 Hz frame indices (as in ``result.pose``).
    """
    import cv2
    import numpy as np

    T = len(res.pose)
    picks: list[int] = []
    for rows in (res.data.get("explanation") or {}).values():
        if rows:
            s, e = rows[0]["frames"]
            picks.append((s + e) // 2)
    picks += [int(t) for t in np.linspace(0, max(T - 1, 0), n)]
    picks = sorted(set(p for p in picks if 0 <= p < T))[:n]
    cap = cv2.VideoCapture(str(path))
    out: dict[int, Any] = {}
    try:
        for t in picks:
            cap.set(cv2.CAP_PROP_POS_FRAMES, round((start_s + t / 30.0) * source_fps))
            ok, bgr = cap.read()
            if not ok:
                continue
            h, w = bgr.shape[:2]
            small = cv2.resize(bgr, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
            out[t] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return out


def screen_live(source: int | str, screener: Screener, *, max_frames: int | None = None) -> ScreenResult:
    """LIVE_STREAM: a camera index or stream URL through :class:`~scoligait_edge.pose.PoseStream`."""
    from scoligait_edge.pose.stream import PoseStream

    screener.reset()
    t0 = last = time.perf_counter()
    n = 0
    stream = PoseStream(source, max_frames=max_frames)
    for frame in stream:
        screener.push(frame)
        n += 1
        now = time.perf_counter()
        screener.frame_ms.append(1000.0 * (now - last))  # capture + pose + map + model, per frame
        last = now
    elapsed = time.perf_counter() - t0
    fps = float(stream.info.fps) if stream.info is not None else 30.0
    size = [stream.info.width, stream.info.height] if stream.info is not None else None
    src = {
        "path": str(source),
        "kind": "camera",
        "fps": fps,
        "frames": n,
        "size": size,
        "duration_s": elapsed,
    }
    return screener.finish(src, source_fps=fps, pose_s=max(0.0, elapsed - sum(screener.timing.values())))


def is_pose_file(item: str | Path) -> bool:
    return Path(item).suffix.lower() in POSE_SUFFIXES


def pose_stage(item: str | Path, **pose_kw: Any) -> PoseStage:
    """The pose stage of one file input (a pose clip or a video), as :func:`screen_one` runs it."""
    if pose_kw.get("max_frames") is None:
        pose_kw.pop("max_frames", None)
    return clip_stage(item) if is_pose_file(item) else video_stage(item, **pose_kw)


def screen_one(item: str | int, screener: Screener, **kw: Any) -> ScreenResult:
    if isinstance(item, int) or "://" in str(item):
        return screen_live(item, screener, max_frames=kw.get("max_frames"))
    if kw.get("max_frames") is None:
        kw.pop("max_frames", None)
    if is_pose_file(item):
        return screen_clip(item, screener)  # a pose clip has no pixels to include
    return screen_video(item, screener, **kw)  # include_frames / pose options


def screen(
    source: str | Path | int | list[Any],
    bundle: str | Path | None = None,
    *,
    stream: bool = False,
    threshold: float | None = None,
    **kw: Any,
) -> Iterator[ScreenResult] | list[ScreenResult]:
    """Screen every input of ``source`` with one bundle; a generator with ``stream=True``."""
    items = expand(source)
    screener = Screener(bundle, threshold=threshold)

    def gen() -> Iterator[ScreenResult]:
        for item in items:
            yield screen_one(item, screener, **kw)

    return gen() if stream else list(gen())
