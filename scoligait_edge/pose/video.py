"""Pose from video with MediaPipe Tasks ``PoseLandmarker`` (offline): COCO-17 clips at 30 Hz.

Pipeline: OpenCV decodes frames → (``crop="auto"``: a window around a small / distant person,
see :mod:`scoligait_edge.pose.autocrop`) → ``PoseLandmarker`` (VIDEO mode, monotonically
increasing timestamps, up to ``num_poses`` people, segmentation masks on) → :class:`PersonTracker`
keeps one walking person → MediaPipe-33 landmarks mapped to COCO-17 in pixels
(visibility as confidence; heels and foot index kept as ``extra``) → silhouette from the
tracked person's segmentation mask (OpenGait/Scoliosis1K-style 64×44 crop) → resampled to
30 Hz (linear for pose, nearest for silhouettes) → short gaps interpolated, long gaps split
the clip with the reason in its metadata.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.errors import InputFileError, PoseError, ShapeError
from scoligait_edge.fileio import sha256_file
from scoligait_edge.pose.autocrop import proposal_window
from scoligait_edge.pose.clip import SIL_H, SIL_W, Clip
from scoligait_edge.pose.coco import EXTRA_JOINTS, MEDIAPIPE_EXTRA, MEDIAPIPE_TO_COCO
from scoligait_edge.pose.gaps import split_on_gaps

TARGET_FPS = 30.0
DEFAULT_MAX_GAP = 15  # frames at 30 Hz (0.5 s): longer person losses split the clip
DEFAULT_NUM_POSES = 4
MASK_THRESHOLD = 0.5
#: A landmark counts for the person's bounding box when its visibility is at least this.
BBOX_MIN_VISIBILITY = 0.3
#: Frames without a match before the tracker may take another person (reported as a jump).
REACQUIRE_AFTER = 5
#: ``--crop``: ``auto`` localises small people and landmarks a window around them; ``off``: full frame.
CROP_MODES = ("auto", "off")
#: ``crop="auto"``: the landmarker that follows the person's window tracks this many poses. With
#: ``num_poses`` (4) above the people in view, MediaPipe re-runs its person detector on every frame;
#: with one pose it runs it only when its track is lost (on the window: 34 → 23 ms median per frame,
#: docs/bench.md). Every :data:`CENSUS_PERIOD_S` of following, a ``num_poses`` landmarker also sees
#: the window, only to count the people in it (the count is held until the next one); proposal
#: windows use it too. Measured alternatives (docs/bench.md): using the census's poses for tracking
#: on census frames cost 2–4 points of detection rate on the 1080p vtest video; following with the
#: ``num_poses`` landmarker while it sees several people counted even fewer of them.
CROP_TRACK_POSES = 1
CENSUS_PERIOD_S = 1 / 3
#: While the window follows a tracked person the motion model (MOG2) is updated only every this
#: many frames: its proposals are needed only once the track is lost (then it runs every frame).
MOTION_EVERY_WHILE_FOLLOWING = 5


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV reports about a video before decoding."""

    path: str
    fps: float
    frame_count: int  # from the container header; 0 when unknown
    width: int
    height: int
    fourcc: str


@dataclass(frozen=True)
class Thresholds:
    """``PoseLandmarker`` confidence thresholds."""

    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def __post_init__(self) -> None:
        for name, v in self.__dict__.items():
            if not (0.0 <= float(v) <= 1.0):
                raise InputFileError(f"{name}={v} is outside [0, 1]", "give a confidence between 0 and 1")


@dataclass
class FramePose:
    """The tracked person in one source frame (``detected=False``: NaN pose, confidence 0)."""

    index: int
    time_s: float
    pose: np.ndarray  # [17, 3] pixels + confidence
    extra: np.ndarray  # [4, 3] heels, foot index
    silhouette: np.ndarray  # [64, 44] uint8 (zeros when not detected)
    detected: bool
    n_people: int = 0
    bbox: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 pixels
    window: tuple[int, int, int, int] | None = None  # automatic crop window x, y, w, h (None: full frame/ROI)


@dataclass
class TrackJump:
    """The tracker switched to another person (or re-acquired one after losing the track)."""

    source_frame: int
    time_s: float
    reason: str


# ----------------------------------------------------------------------------- video input


def parse_roi(text: str | None) -> tuple[int, int, int, int] | None:
    """Parse ``"x,y,w,h"`` (pixels) into a tuple, or ``None``."""
    if text is None or str(text).strip() == "":
        return None
    parts = str(text).replace(" ", "").split(",")
    try:
        x, y, w, h = (int(float(p)) for p in parts)
    except ValueError:
        raise InputFileError(
            f"--roi '{text}' is not x,y,w,h", "give four integers, e.g. --roi 300,100,250,300"
        ) from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise InputFileError(
            f"--roi '{text}' has a negative origin or empty size", "give x,y >= 0 and w,h > 0"
        )
    return x, y, w, h


_CONTAINER_MAGIC = (
    (b"RIFF", "AVI/RIFF"),
    (b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (b"OggS", "Ogg"),
    (b"FLV", "FLV"),
)


def _container(head: bytes) -> str | None:
    for magic, name in _CONTAINER_MAGIC:
        if head.startswith(magic):
            return name
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
        return "MP4/QuickTime"
    return None


def _capture(cv2: Any, path: str | int) -> Any:
    """``cv2.VideoCapture(path)`` with OpenCV's own error logging silenced (we raise typed errors)."""
    if os.environ.get("SCOLIGAIT_DEBUG") == "1":
        return cv2.VideoCapture(path)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(path)
    finally:
        cv2.utils.logging.setLogLevel(level)


def _avi_fourcc(head: bytes) -> str | None:
    """The video stream's codec tag from an AVI header (``strh`` fccHandler after ``vids``)."""
    if not head.startswith(b"RIFF"):
        return None
    i = head.find(b"vids")
    if i < 0 or i + 8 > len(head):
        return None
    tag = head[i + 4 : i + 8]
    return tag.decode("ascii", "replace").strip("\x00 ") or None


def open_video(path: str | os.PathLike) -> tuple[Any, VideoInfo]:
    """Open ``path`` with OpenCV and check one frame decodes; typed errors name the file."""
    import cv2

    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: no such video file", "check the path")
    if not p.is_file():
        raise InputFileError(f"{p}: is not a file", "give a video file")
    if p.stat().st_size == 0:
        raise InputFileError(f"{p}: empty file (0 bytes)", "re-record or re-copy the video")
    with open(p, "rb") as f:
        head = f.read(4096)
    kind = _container(head)
    if os.environ.get("SCOLIGAIT_DEBUG") != "1":
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # typed errors instead of FFmpeg chatter
    cap = _capture(cv2, str(p))
    if not cap.isOpened():
        cap.release()
        if kind is None:
            raise InputFileError(f"{p}: not a video OpenCV can read", "give an .avi/.mp4/.mkv/.webm video")
        codec = _avi_fourcc(head)
        if codec:
            raise InputFileError(
                f"{p}: unsupported codec '{codec}' (or a corrupt file)",
                "re-encode it, e.g. `ffmpeg -i IN -c:v mjpeg OUT.avi`",
            )
        raise InputFileError(
            f"{p}: {kind} container could not be opened (corrupt, truncated or unsupported codec)",
            "re-encode it, e.g. `ffmpeg -i IN -c:v mjpeg OUT.avi`",
        )
    fourcc_code = int(cap.get(cv2.CAP_PROP_FOURCC))
    fourcc = "".join(chr((fourcc_code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "?"
    info = VideoInfo(
        path=str(p),
        fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
        frame_count=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        fourcc=fourcc,
    )
    if info.frame_count == 0 and (info.width == 0 or info.height == 0):
        cap.release()
        raise InputFileError(f"{p}: video has zero frames", "record a video with at least one frame")
    if not math.isfinite(info.fps) or info.fps <= 0 or info.fps > 1000:
        cap.release()
        raise InputFileError(f"{p}: invalid frame rate {info.fps}", "re-encode the video with a real fps")
    return cap, info


def iter_frames(cap: Any, info: VideoInfo, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, BGR frame)`` for every ``every``-th frame; typed errors for decode failures."""
    if every < 1:
        raise InputFileError(f"--every {every} must be >= 1", "give a positive frame step")
    i = 0
    decoded = 0
    while True:
        if i % every == 0:
            ok, frame = cap.read()
            if ok and frame is not None:
                decoded += 1
                yield i, frame
        else:
            ok = cap.grab()
        if not ok:
            break
        i += 1
    if i == 0 and info.frame_count == 0:
        raise InputFileError(f"{info.path}: video has zero frames", "record a video with at least one frame")
    if i == 0:
        raise InputFileError(
            f"{info.path}: no frame could be decoded "
            f"(codec '{info.fourcc}' unsupported, or the file is corrupt)",
            "re-encode it, e.g. `ffmpeg -i IN -c:v mjpeg OUT.avi`",
        )
    # Containers with an index (AVI, MP4) state their length; stopping well short means truncation.
    if info.frame_count and i < info.frame_count - max(2, int(0.01 * info.frame_count)):
        raise InputFileError(
            f"{info.path}: truncated or corrupt — decoded {i} of {info.frame_count} frames",
            "re-copy or re-encode the video",
        )


# ----------------------------------------------------------------------------- landmarker


def create_landmarker(thresholds: Thresholds, num_poses: int = DEFAULT_NUM_POSES, bundle: Path | None = None):
    """A ``PoseLandmarker`` in VIDEO mode from the cached bundle (never downloads)."""
    from mediapipe.tasks.python import BaseOptions, vision

    from scoligait_edge.pose.assets import pose_bundle

    model = bundle or pose_bundle()
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=int(num_poses),
        min_pose_detection_confidence=float(thresholds.min_detection_confidence),
        min_pose_presence_confidence=float(thresholds.min_presence_confidence),
        min_tracking_confidence=float(thresholds.min_tracking_confidence),
        output_segmentation_masks=True,
    )
    return vision.PoseLandmarker.create_from_options(options)


def landmarks_to_array(
    landmarks: Any, width: int, height: int, offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """MediaPipe's 33 normalised landmarks → ``[33, 3]`` (x px, y px, visibility in [0, 1])."""
    out = np.empty((len(landmarks), 3), dtype=np.float32)
    for i, lm in enumerate(landmarks):
        vis = lm.visibility if lm.visibility is not None else (lm.presence or 0.0)
        out[i] = (offset[0] + lm.x * width, offset[1] + lm.y * height, vis)
    out[:, 2] = np.clip(np.nan_to_num(out[:, 2], nan=0.0), 0.0, 1.0)
    return out


def to_coco(mp33: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[33, 3]`` MediaPipe → (COCO-17 ``[17, 3]``, extra ``[4, 3]`` heels/foot index)."""
    return mp33[list(MEDIAPIPE_TO_COCO)].copy(), mp33[list(MEDIAPIPE_EXTRA)].copy()


def pose_bbox(mp33: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box of the visible landmarks (all of them if too few are visible)."""
    pts = mp33[mp33[:, 2] >= BBOX_MIN_VISIBILITY, :2]
    if len(pts) < 4:
        pts = mp33[:, :2]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def silhouette_64x44(mask: np.ndarray | None, threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """OpenGait/Scoliosis1K-style silhouette from a person mask (float in [0, 1] or uint8).

    Crop to the mask's rows, resize to height 64 keeping the aspect ratio, centre a
    64-wide window on the column-mass median, then cut 10 columns each side → 64×44.
    """
    import cv2

    out = np.zeros((SIL_H, SIL_W), dtype=np.uint8)
    if mask is None:
        return out
    m = np.asarray(mask)
    binary = (m >= threshold * (255 if m.dtype == np.uint8 else 1)).astype(np.uint8) * 255
    rows = np.flatnonzero(binary.any(axis=1))
    if len(rows) < 2:
        return out
    crop = binary[rows[0] : rows[-1] + 1]
    h, w = crop.shape
    new_w = max(1, round(w * SIL_H / h))
    crop = cv2.resize(crop, (new_w, SIL_H), interpolation=cv2.INTER_CUBIC)
    col_mass = crop.sum(axis=0).astype(np.float64).cumsum()
    if col_mass[-1] <= 0:
        return out
    x_center = int(np.searchsorted(col_mass, col_mass[-1] / 2.0))
    half = SIL_H // 2
    padded = np.pad(crop, ((0, 0), (half, half)))
    window = padded[:, x_center : x_center + SIL_H]  # 64 wide, centred on x_center
    cut = (SIL_H - SIL_W) // 2
    out[:] = window[:, cut : cut + SIL_W]
    return out


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _area(b: tuple[float, ...]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


@dataclass
class PersonTracker:
    """Keep one person across frames: the largest at first, then the best-overlapping box.

    Rule: with no track, take the largest bounding box. With a track, take the candidate
    whose box overlaps the last tracked box most (IoU ≥ ``min_iou``) or whose centre is
    within ``max_shift`` box heights of it, preferring overlap then size. When no candidate
    matches for more than :data:`REACQUIRE_AFTER` frames, take the largest again and record
    a :class:`TrackJump`; a match far from the last box also counts as a jump.
    """

    min_iou: float = 0.1
    max_shift: float = 0.5
    jumps: list[TrackJump] = field(default_factory=list)
    _last: tuple[float, float, float, float] | None = None
    _missed: int = 0
    _had_track: bool = False

    @property
    def last_box(self) -> tuple[float, float, float, float] | None:
        """The tracked person's last bounding box (``None`` before the first)."""
        return self._last

    def choose(self, boxes: list[tuple[float, float, float, float]], frame: int, time_s: float) -> int | None:
        """Index of the tracked person among ``boxes`` (or ``None``)."""
        if not boxes:
            self._missed += 1
            return None
        if self._last is None:
            return self._take(
                boxes, max(range(len(boxes)), key=lambda i: _area(boxes[i])), frame, time_s, None
            )
        last = self._last
        lh = max(1.0, last[3] - last[1])
        lc = ((last[0] + last[2]) / 2, (last[1] + last[3]) / 2)
        best, best_key = None, None
        for i, b in enumerate(boxes):
            iou = _iou(last, b)
            shift = math.hypot((b[0] + b[2]) / 2 - lc[0], (b[1] + b[3]) / 2 - lc[1]) / lh
            if iou >= self.min_iou or shift <= self.max_shift:
                key = (iou, -shift, _area(b))
                if best_key is None or key > best_key:
                    best, best_key = i, key
        if best is not None:
            self._last, self._missed = boxes[best], 0
            return best
        self._missed += 1
        if self._missed > REACQUIRE_AFTER:
            i = max(range(len(boxes)), key=lambda k: _area(boxes[k]))
            reason = f"track lost for {self._missed - 1} frames; switched to the largest person in view"
            return self._take(boxes, i, frame, time_s, reason)
        return None

    def _take(self, boxes, i: int, frame: int, time_s: float, reason: str | None) -> int:
        if self._had_track and reason is None:
            reason = f"track lost for {self._missed} frames; re-acquired the largest person in view"
        if self._had_track and reason:
            self.jumps.append(TrackJump(source_frame=frame, time_s=round(time_s, 3), reason=reason))
        self._last, self._missed, self._had_track = boxes[i], 0, True
        return i


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence MediaPipe/TFLite's native set-up chatter on fd 2 (kept with ``SCOLIGAIT_DEBUG=1``)."""
    if os.environ.get("SCOLIGAIT_DEBUG") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def check_crop(crop: str) -> None:
    """``crop`` must be one of :data:`CROP_MODES` (typed error otherwise)."""
    if crop not in CROP_MODES:
        raise InputFileError(
            f"--crop {crop!r} is not one of {', '.join(CROP_MODES)}", "use --crop auto or off"
        )


class FramePoser:
    """Run the landmarker on BGR frames and return the tracked person as :class:`FramePose`.

    ``crop="auto"`` (default, ignored when ``roi`` is given) adds automatic person
    localisation for small / distant walkers: while the tracked person is small relative to
    the frame, a second ``PoseLandmarker`` (VIDEO mode, same timestamps) sees a smoothed
    square window ≈ 1.8 person heights around them; when the full frame finds nobody, an
    OpenCV person proposal (MOG2 motion blob or HOG person) gives the window to try. When
    the person is large, or nothing is proposed, the full frame is used exactly as with
    ``crop="off"``. Landmarks are mapped back to full-frame pixels. While following, the window's
    landmarker tracks :data:`CROP_TRACK_POSES` pose(s) (MediaPipe's detector then runs only when
    that track is lost), a ``num_poses`` landmarker counts the people in the window every
    :data:`CENSUS_PERIOD_S`, and the motion model is updated every
    :data:`MOTION_EVERY_WHILE_FOLLOWING`-th frame.
    """

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        *,
        roi: tuple[int, int, int, int] | None = None,
        num_poses: int = DEFAULT_NUM_POSES,
        bundle: Path | None = None,
        crop: str = "auto",
    ) -> None:
        from scoligait_edge.pose.autocrop import CropFollower, PersonLocator

        check_crop(crop)
        self.thresholds = thresholds or Thresholds()
        self.roi = roi
        self.crop = crop if roi is None else "off"
        self.num_poses = num_poses
        self.bundle = bundle
        self.tracker = PersonTracker()
        with quiet_native_logs():
            self._landmarker = create_landmarker(self.thresholds, num_poses, bundle)
        self._window_lms: dict[int, Any] = {}  # window landmarkers by num_poses (see _window_lm)
        self._census_t = -math.inf  # when the people in the following window were last counted (s)
        self._census_people = 0  # people that count saw (held until the next one)
        self._since_observe = 0  # frames since the motion model last saw one
        self._locator = PersonLocator()
        self._follower = CropFollower()
        self._crop_misses = 0
        self._frame_shape: tuple[int, ...] | None = None
        self._last_ts = -1
        self._quiet: set[int] = set()  # landmarkers that have landmarked someone (set-up logs over)
        self.crop_frames = 0  # frames landmarked on an automatic crop window

    def close(self) -> None:
        self._landmarker.close()
        for lm in self._window_lms.values():
            lm.close()

    def __enter__(self) -> FramePoser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def process(self, frame_bgr: np.ndarray, index: int, time_s: float) -> FramePose:
        """Landmark one frame at ``time_s`` (timestamps are forced strictly increasing)."""
        ts = max(self._last_ts + 1, round(time_s * 1000.0))
        self._last_ts = ts
        if self.crop == "auto":
            return self._process_auto(frame_bgr, index, time_s, ts)
        img, (ox, oy) = self._crop(frame_bgr)
        people, masks = self._landmark(self._landmarker, img, ts, (ox, oy))
        return self._track(index, time_s, people, masks)

    # -- automatic crop ---------------------------------------------------------------

    def _process_auto(self, frame: np.ndarray, index: int, time_s: float, ts: int) -> FramePose:
        self._frame_shape = frame.shape[:2]
        window = self._follower.window(frame.shape)
        if window is None or self._since_observe + 1 >= MOTION_EVERY_WHILE_FOLLOWING:
            self._locator.observe(frame)
            self._since_observe = 0
        else:
            self._since_observe += 1
        if window is not None:  # following a small person
            crop, track_lm, census_lm = window.crop(frame), self._window_lm(), self._window_lm(census=True)
            people, masks = self._landmark(track_lm, crop, ts, window.offset)
            if census_lm is track_lm:  # num_poses == CROP_TRACK_POSES: every frame counts itself
                self._census_people = len(people)
            elif time_s - self._census_t >= CENSUS_PERIOD_S - 1e-6:  # count the people in the window
                self._census_people = len(self._landmark(census_lm, crop, ts, window.offset)[0])
                self._census_t = time_s
            seen = max(len(people), self._census_people)
            fp = self._track(index, time_s, people, masks, window, n_people=seen)
            if fp.detected:
                self._crop_misses = 0
                self._follower.follow(fp.bbox, frame.shape)
            else:
                self._crop_misses += 1
                if self._crop_misses > REACQUIRE_AFTER:  # lost: search the full frame again
                    self._follower.reset()
            if not self._follower.active:
                self._census_t, self._census_people = -math.inf, 0
            return fp
        people, masks = self._landmark(self._landmarker, frame, ts, (0, 0))
        if not people:  # nobody in the full frame: try a crop around a person proposal
            prop = self._locator.propose(frame, index, near=self.tracker.last_box)
            window = proposal_window(prop, frame.shape) if prop is not None else None
            if window is not None:
                people, masks = self._landmark(
                    self._window_lm(census=True), window.crop(frame), ts, window.offset
                )
                if not people:
                    self._locator.reject(prop.box, index)
        fp = self._track(index, time_s, people, masks, window)
        if fp.detected:
            self._crop_misses = 0
            self._follower.follow(fp.bbox, frame.shape)
        return fp

    def _window_lm(self, census: bool = False) -> Any:
        """A window landmarker: ``num_poses`` poses for a census / proposal window, else the
        following one (:data:`CROP_TRACK_POSES`, at most ``num_poses``); made on first use."""
        n = self.num_poses if census else min(self.num_poses, max(1, CROP_TRACK_POSES))
        if n not in self._window_lms:
            with quiet_native_logs():
                self._window_lms[n] = create_landmarker(self.thresholds, n, self.bundle)
        return self._window_lms[n]

    # -- shared steps -----------------------------------------------------------------

    def _landmark(
        self, landmarker: Any, img_bgr: np.ndarray, ts: int, offset: tuple[int, int]
    ) -> tuple[list[np.ndarray], list[Any]]:
        """People (``[33, 3]`` frame pixels) and their masks (``mp.Image``, image-sized) in one image."""
        import cv2
        import mediapipe as mp

        h, w = img_bgr.shape[:2]
        rgb = np.ascontiguousarray(cv2.cvtColor(img_bgr, cv2.COLOR_BGR2RGB))
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if id(landmarker) not in self._quiet:  # the graph logs its set-up until it first sees someone
            with quiet_native_logs():
                result = landmarker.detect_for_video(image, ts)
            if result.pose_landmarks:
                self._quiet.add(id(landmarker))
        else:
            result = landmarker.detect_for_video(image, ts)
        people = [landmarks_to_array(p, w, h, offset) for p in (result.pose_landmarks or [])]
        raw = result.segmentation_masks or []
        # The mp.Image objects own the mask memory: keep them, view them only while in use.
        return people, [raw[i] if i < len(raw) else None for i in range(len(people))]

    def _track(
        self,
        index: int,
        time_s: float,
        people: list[np.ndarray],
        masks: list[Any],
        window: Any = None,
        n_people: int | None = None,
    ) -> FramePose:
        """The tracked person's :class:`FramePose`; ``n_people``: people seen (default ``len(people)``)."""
        boxes = [pose_bbox(p) for p in people]
        seen = len(people) if n_people is None else int(n_people)
        k = self.tracker.choose(boxes, index, time_s)
        if k is None:
            nan17 = np.full((17, 3), np.nan, dtype=np.float32)
            nan17[:, 2] = 0.0
            nan4 = np.full((4, 3), np.nan, dtype=np.float32)
            nan4[:, 2] = 0.0
            return FramePose(
                index, time_s, nan17, nan4, np.zeros((SIL_H, SIL_W), np.uint8), False, seen, None
            )
        if window is not None:
            self.crop_frames += 1
        coco, extra = to_coco(people[k])
        m = masks[k]
        mask = None if m is None else np.asarray(m.numpy_view()).reshape(m.height, m.width)
        if window is not None and mask is not None and self._frame_shape is not None:
            mask = window.paste(mask, self._frame_shape)  # frame coordinates, as a full-frame mask
        sil = silhouette_64x44(mask)
        return FramePose(
            index,
            time_s,
            coco,
            extra,
            sil,
            True,
            seen,
            boxes[k],
            window.as_tuple() if window is not None else None,
        )

    def _crop(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        if self.roi is None:
            return frame, (0, 0)
        x, y, w, h = self.roi
        fh, fw = frame.shape[:2]
        x0, y0, x1, y1 = min(x, fw), min(y, fh), min(x + w, fw), min(y + h, fh)
        if x1 - x0 < 16 or y1 - y0 < 16:
            raise InputFileError(
                f"--roi {x},{y},{w},{h} lies outside the {fw}x{fh} frame", "give a region inside the video"
            )
        return frame[y0:y1, x0:x1], (x0, y0)


# ----------------------------------------------------------------------------- resampling


def resample_times(n_source: int, source_fps: float, target_fps: float = TARGET_FPS) -> np.ndarray:
    """Target sample times (s) covering source frames ``0 … n_source-1`` at ``target_fps``."""
    if n_source <= 0:
        return np.zeros(0)
    duration = (n_source - 1) / source_fps
    n = math.floor(duration * target_fps + 1e-6) + 1
    return np.arange(n) / target_fps


def resample_pose(times: np.ndarray, values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Linear resampling of ``[N, J, 3]`` keypoints at ``target`` times.

    A joint is interpolated only between two samples where it is present (finite x, y);
    otherwise the target sample is missing (NaN, confidence 0) unless it coincides with
    a present source sample.
    """
    if values.ndim != 3 or values.shape[-1] != 3 or len(times) != len(values):
        raise ShapeError(f"cannot resample keypoints of shape {values.shape}", "expected [N, J, 3]")
    n, j, _ = values.shape
    out = np.full((len(target), j, 3), np.nan, dtype=np.float32)
    out[..., 2] = 0.0
    if n == 0:
        return out
    idx = np.clip(np.searchsorted(times, target, side="right") - 1, 0, n - 1)
    nxt = np.minimum(idx + 1, n - 1)
    t0, t1 = times[idx], times[nxt]
    span = np.where(t1 > t0, t1 - t0, 1.0)
    w = np.clip((target - t0) / span, 0.0, 1.0)
    w = np.where(nxt == idx, 0.0, w)
    a, b = values[idx], values[nxt]
    present_a = np.isfinite(a[..., :2]).all(-1)
    present_b = np.isfinite(b[..., :2]).all(-1)
    exact_a = (w <= 1e-9)[:, None] & present_a
    exact_b = (w >= 1 - 1e-9)[:, None] & present_b
    both = present_a & present_b
    ww = w[:, None, None]
    lerp = (1 - ww) * np.nan_to_num(a) + ww * np.nan_to_num(b)
    out[both] = lerp[both]
    out[exact_a & ~both] = a[exact_a & ~both]
    out[exact_b & ~both & ~exact_a] = b[exact_b & ~both & ~exact_a]
    return out.astype(np.float32)


def resample_nearest(times: np.ndarray, values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Nearest-sample resampling along axis 0 (for masks)."""
    if len(values) == 0:
        return values[:0]
    idx = np.clip(np.searchsorted(times, target), 0, len(times) - 1)
    prev = np.clip(idx - 1, 0, len(times) - 1)
    take_prev = np.abs(target - times[prev]) <= np.abs(times[idx] - target)
    return values[np.where(take_prev, prev, idx)]


# ----------------------------------------------------------------------------- extract_pose


def extract_pose(
    video_path: str | os.PathLike,
    *,
    every: int = 1,
    roi: tuple[int, int, int, int] | str | None = None,
    crop: str = "auto",
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    min_presence_confidence: float = 0.5,
    max_gap: int = DEFAULT_MAX_GAP,
    num_poses: int = DEFAULT_NUM_POSES,
    max_frames: int | None = None,
    progress: bool = True,
    bundle: Path | None = None,
) -> list[Clip]:
    """Pose clips (COCO-17 pixels, 30 Hz, 64×44 silhouettes) of the walking person in a video.

    Returns one clip, or several when the person is lost for more than ``max_gap`` frames
    (at 30 Hz); each clip's metadata gives the reason it starts where it does. ``every``
    processes every N-th frame (the gaps are interpolated by the 30 Hz resampling);
    ``roi`` (x, y, w, h pixels) restricts the landmarker to that region; ``crop="auto"``
    (without ``roi``) finds small people and landmarks a window around them (see
    :class:`FramePoser`), ``crop="off"`` always uses the full frame; ``max_frames``
    stops after that many source frames (quick looks, tests). Raises
    :class:`InputFileError` for missing, unreadable, truncated or unsupported videos and
    :class:`PoseError` when no person is found; writes nothing.
    """
    from scoligait_edge.pose.assets import MODEL_VARIANT, pose_bundle

    roi_t = parse_roi(roi) if isinstance(roi, str) else roi
    check_crop(crop)
    thresholds = Thresholds(min_detection_confidence, min_presence_confidence, min_tracking_confidence)
    if max_gap < 0:
        raise InputFileError(f"max_gap={max_gap} is negative", "give a gap length in frames >= 0")
    model = bundle or pose_bundle()  # fail before decoding if set-up was not run
    cap, info = open_video(video_path)
    frames: list[FramePose] = []
    try:
        with FramePoser(thresholds, roi=roi_t, num_poses=num_poses, bundle=model, crop=crop) as poser:
            total = (
                info.frame_count if max_frames is None else min(info.frame_count or max_frames, max_frames)
            )
            with _progress(progress, total, Path(info.path).name) as advance:
                for idx, frame in iter_frames(cap, info, every):
                    if max_frames is not None and idx >= max_frames:
                        break
                    frames.append(poser.process(frame, idx, idx / info.fps))
                    advance(idx + 1)
                else:
                    advance(total or (frames[-1].index + 1 if frames else 0))  # skipped tail (--every)
            jumps = list(poser.tracker.jumps)
            crop_frames = poser.crop_frames
            crop_used = poser.crop
    finally:
        cap.release()
    n_source = (frames[-1].index + 1) if frames else 0
    if not frames:
        raise InputFileError(f"{info.path}: video has zero frames", "record a video with at least one frame")
    detected = sum(f.detected for f in frames)
    if detected == 0:
        raise PoseError(
            f"{info.path}: no person detected in {len(frames)} processed frames",
            "make sure the whole body is visible; try --roi around the walker or a lower --min-confidence",
        )
    times = np.array([f.time_s for f in frames])
    target = resample_times(n_source, info.fps)
    # The last processed frame may come before the last source frame when every > 1.
    target = target[target <= times[-1] + 1e-9]
    pose30 = resample_pose(times, np.stack([f.pose for f in frames]), target)
    extra30 = resample_pose(times, np.stack([f.extra for f in frames]), target)
    sil30 = resample_nearest(times, np.stack([f.silhouette for f in frames]), target)
    people30 = resample_nearest(times, np.array([f.n_people for f in frames], np.int64), target)
    segments = split_on_gaps(pose30, max_gap=max_gap, min_length=2)
    if not segments:
        raise PoseError(
            f"{info.path}: the person was seen in {detected} frames but never long enough for a clip",
            "use a video where the walker's shoulders and hips stay visible",
        )
    sha = sha256_file(model)
    base_meta: dict[str, Any] = {
        "source": str(Path(info.path).resolve()),
        "source_fps": info.fps,
        "source_frames": n_source,
        "source_frame_count_header": info.frame_count,
        "source_size": [info.width, info.height],
        "source_fourcc": info.fourcc,
        "every": every,
        "roi": list(roi_t) if roi_t else None,
        "crop": crop_used,
        "crop_frames": crop_frames,
        "processed_frames": len(frames),
        "detected_frames": detected,
        "detection_rate": round(detected / len(frames), 4),
        "fps": TARGET_FPS,
        "resampling": "linear (pose, extra); nearest (silhouettes)",
        "coordinates": "pixels (x, y) in the source frame; confidence = MediaPipe visibility",
        "extra_joints": list(EXTRA_JOINTS),
        "model": {
            "api": "mediapipe Tasks PoseLandmarker (VIDEO mode)",
            "mediapipe_version": _mediapipe_version(),
            "bundle_sha256": sha,
            "variant": MODEL_VARIANT,
            "num_poses": num_poses,
        },
        "thresholds": {
            "min_detection_confidence": thresholds.min_detection_confidence,
            "min_presence_confidence": thresholds.min_presence_confidence,
            "min_tracking_confidence": thresholds.min_tracking_confidence,
        },
        "silhouette": "PoseLandmarker segmentation mask of the tracked person, threshold 0.5, "
        "OpenGait crop (rows of the mask, height 64, centred 64 wide, 10 px cut each side) → 64x44",
        "max_gap": max_gap,
        "track_jumps": [j.__dict__ for j in jumps],
        "track_jumps_total": len(jumps),
    }
    clips = []
    for k, seg in enumerate(segments):
        meta = dict(base_meta)
        meta.update(
            part=k + 1,
            n_parts=len(segments),
            start_frame=seg.start,
            start_s=round(seg.start / TARGET_FPS, 4),
            split_reason=_split_reason(k, seg),
            track_jumps=[j for j in base_meta["track_jumps"] if _in_segment(j["time_s"], seg)],
            people=[int(n) for n in people30[seg.start : seg.stop]],  # people the landmarker saw, per frame
        )
        clips.append(
            Clip(
                pose=seg.pose,
                fps=TARGET_FPS,
                silhouettes=sil30[seg.start : seg.stop],
                extra=extra30[seg.start : seg.stop],
                metadata=meta,
            )
        )
    return clips


def _split_reason(k: int, seg: Any) -> str | None:
    """Why the clip starts where it does (``None`` for a clip starting at frame 0)."""
    if k == 0:
        return (
            f"person first tracked at {seg.start / TARGET_FPS:.2f} s (frame {seg.start} at 30 Hz)"
            if seg.start
            else None
        )
    return f"{seg.reason_before} [30 Hz frames; clip starts at {seg.start / TARGET_FPS:.2f} s]"


def _in_segment(time_s: float, seg: Any) -> bool:
    return seg.start / TARGET_FPS - 1e-6 <= time_s < seg.stop / TARGET_FPS + 1e-6


def _mediapipe_version() -> str:
    try:
        from importlib.metadata import version

        return version("mediapipe")
    except Exception:  # pragma: no cover
        return "unknown"


class _progress:
    """Rich progress bar with frames/s (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled, self.total, self.label = enabled, total, label
        self._p = None

    def __enter__(self):
        if not self.enabled:
            return lambda _done: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(
            TextColumn("pose {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._p.start()
        task = self._p.add_task(self.label, total=self.total or None, rate="")

        def advance(done: int) -> None:
            speed = self._p.tasks[0].speed
            self._p.update(task, completed=done, rate=f"{speed:.1f} frames/s" if speed else "")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()
