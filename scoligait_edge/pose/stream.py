"""Live pose: :class:`PoseStream` yields COCO-17 frames one at a time (file or camera), at 30 Hz.

Each yielded frame is a float32 ``[17, 3]`` array (x, y pixels, confidence), ready for a
streaming knowledge-map buffer (``push(frame)``). Frames where the person is not tracked
are NaN with confidence 0, so the consumer sees the gap. Resampling to 30 Hz is causal
(linear between the last two processed source frames) and gives the same numbers as the
offline :func:`~scoligait_edge.pose.video.resample_pose` before gap filling.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.errors import InputFileError
from scoligait_edge.pose.video import (
    DEFAULT_NUM_POSES,
    TARGET_FPS,
    FramePose,
    FramePoser,
    Thresholds,
    VideoInfo,
    _capture,
    iter_frames,
    open_video,
    parse_roi,
    resample_pose,
)


class PoseStream:
    """Iterate COCO-17 pose frames at 30 Hz from a video file or a camera index.

    ``for frame in PoseStream("walk.mp4"): kmap.push(frame)``. ``frames()`` gives the
    per-source-frame :class:`FramePose` records instead (no resampling).
    """

    def __init__(
        self,
        source: str | os.PathLike | int,
        *,
        every: int = 1,
        roi: tuple[int, int, int, int] | str | None = None,
        crop: str = "auto",
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        num_poses: int = DEFAULT_NUM_POSES,
        max_frames: int | None = None,
        bundle: Path | None = None,
    ) -> None:
        self.source = source
        self.every = int(every)
        self.roi = parse_roi(roi) if isinstance(roi, str) else roi
        self.crop = crop
        self.thresholds = Thresholds(
            min_detection_confidence, min_presence_confidence, min_tracking_confidence
        )
        self.num_poses = num_poses
        self.max_frames = max_frames
        self.bundle = bundle
        self.info: VideoInfo | None = None
        self.processed_frames = 0
        self.detected_frames = 0
        self.track_jumps: list[Any] = []

    @property
    def is_camera(self) -> bool:
        """A camera index or a stream URL (rtsp://, http://, file://): frames are read as they come."""
        return isinstance(self.source, int) or "://" in str(self.source)

    @property
    def detection_rate(self) -> float:
        return self.detected_frames / self.processed_frames if self.processed_frames else 0.0

    def frames(self) -> Iterator[FramePose]:
        """Tracked person per processed source frame (every ``every``-th), as it is decoded."""
        from scoligait_edge.pose.assets import pose_bundle

        model = self.bundle or pose_bundle()
        cap, info = _open_camera(self.source) if self.is_camera else open_video(self.source)
        self.info = info
        t_start = time.monotonic()
        try:
            with FramePoser(
                self.thresholds, roi=self.roi, num_poses=self.num_poses, bundle=model, crop=self.crop
            ) as poser:
                source = (
                    _camera_frames(cap, self.every) if self.is_camera else iter_frames(cap, info, self.every)
                )
                for idx, frame in source:
                    if self.max_frames is not None and idx >= self.max_frames:
                        break
                    # a camera: wall clock; a stream URL or file: its frame rate (reads may outpace it)
                    t = (time.monotonic() - t_start) if isinstance(self.source, int) else idx / info.fps
                    fp = poser.process(frame, idx, t)
                    self.processed_frames += 1
                    self.detected_frames += int(fp.detected)
                    self.track_jumps = poser.tracker.jumps
                    yield fp
        finally:
            cap.release()

    def __iter__(self) -> Iterator[np.ndarray]:
        """COCO-17 ``[17, 3]`` float32 frames at 30 Hz (causal linear resampling)."""
        prev: FramePose | None = None
        k = 0  # next 30 Hz sample index
        for fp in self.frames():
            lo = prev.time_s if prev is not None else fp.time_s
            times = np.array([lo, fp.time_s])
            values = np.stack([prev.pose if prev is not None else fp.pose, fp.pose])
            while k / TARGET_FPS <= fp.time_s + 1e-9:
                t = k / TARGET_FPS
                if t >= lo - 1e-9:
                    yield resample_pose(times, values, np.array([t]))[0]
                k += 1
            prev = fp


def _open_camera(index: int | str) -> tuple[Any, VideoInfo]:
    import cv2

    url = isinstance(index, str) and "://" in index
    cap = _capture(cv2, index if url else int(index))
    if not cap.isOpened():
        cap.release()
        if url:
            raise InputFileError(
                f"stream {index}: could not be opened", "check the URL and that OpenCV reads it"
            )
        raise InputFileError(f"camera {index}: could not be opened", "check the camera index and permissions")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    info = VideoInfo(
        path=str(index) if url else f"camera:{index}",
        fps=fps if 0 < fps <= 240 else TARGET_FPS,
        frame_count=0,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        fourcc="camera",
    )
    return cap, info


def _camera_frames(cap: Any, every: int) -> Iterator[tuple[int, np.ndarray]]:
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok or frame is None:
            return
        if i % every == 0:
            yield i, frame
        i += 1
