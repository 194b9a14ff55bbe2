"""Automatic person localisation for small / distant walkers: crop windows and person proposals.

MediaPipe's pose detector sees the frame letterboxed to 224×224, so a person ≈ 100 px tall
in a 768×576 frame shrinks to ≈ 30 px and is mostly missed at the default thresholds. The
fix is the one the MediaPipe docs give for distant subjects: run the landmarker on a region
around the person. This module supplies

- :class:`CropWindow`: a square window in frame pixels, its crop (always a plain slice of
  the frame) and the exact mapping of normalised crop coordinates back to frame pixels;
- :func:`window_around`: a window ``factor`` × a person box's height, centred on it and
  shifted inside the frame;
- :class:`PersonLocator`: person proposals from OpenCV — moving blobs from
  ``createBackgroundSubtractorMOG2`` on a downscaled frame (updated every frame, ≈ 2 ms) and
  the HOG people detector (``HOGDescriptor_getDefaultPeopleDetector``; costly, so only every
  few frames while searching);
- :class:`CropFollower`: the window that follows the tracked person, smoothed over time, and
  the rule for giving the full frame back when the person is large.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 pixels

#: Window side = this × the height of the landmarks' bounding box (nose → heels ≈ 0.9 of
#: the person), i.e. ≈ 1.8 person heights.
CROP_FACTOR = 2.0
#: Window side for a proposal box = this × its height: HOG boxes carry ≈ 30 % margin already;
#: motion blobs often cover only the moving part of the person (legs, arms).
PROPOSAL_FACTOR = {"hog": 1.7, "motion": 2.5}
#: Smallest window side (pixels): MediaPipe upsamples the crop to 224 px anyway.
MIN_SIDE = 96
#: The person counts as small (crop) when the window is below this fraction of the frame's
#: shorter side, and as large again (full frame) above :data:`LEAVE_CROP_FRACTION`.
ENTER_CROP_FRACTION = 0.75
LEAVE_CROP_FRACTION = 0.9
#: Exponential smoothing weights of the newest measurement (window centre, window side).
CENTRE_ALPHA = 0.6
SIDE_ALPHA = 0.3
#: Motion model input width (pixels) and HOG cadence while searching (every N-th search).
MOTION_WIDTH = 384
HOG_EVERY = 5
#: HOG runs on the frame scaled so that its longer side is at most this (bounds its cost).
HOG_MAX_SIDE = 800
#: A proposal on which the landmarker found nobody is skipped for this many searches.
REJECT_FOR = 5


@dataclass(frozen=True)
class CropWindow:
    """A window ``(x, y, w, h)`` in frame pixels, inside the frame."""

    x: int
    y: int
    w: int
    h: int

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """The window's pixels (a view of ``frame``)."""
        return frame[self.y : self.y + self.h, self.x : self.x + self.w]

    def to_frame(self, xy_norm: np.ndarray) -> np.ndarray:
        """Normalised crop coordinates (``[..., 2]`` in [0, 1] units of the crop) → frame pixels."""
        xy = np.asarray(xy_norm, dtype=np.float64)
        return np.stack([self.x + xy[..., 0] * self.w, self.y + xy[..., 1] * self.h], axis=-1)

    def paste(self, mask: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """A crop-sized mask placed into a zero mask of the frame's size."""
        out = np.zeros(frame_shape[:2], dtype=np.asarray(mask).dtype)
        out[self.y : self.y + self.h, self.x : self.x + self.w] = mask
        return out

    @property
    def offset(self) -> tuple[int, int]:
        return self.x, self.y

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h


def window_around(centre: tuple[float, float], side: float, frame_shape: tuple[int, ...]) -> CropWindow:
    """Square window of ``side`` pixels centred on ``centre``, shifted (not cut) to lie in the frame."""
    fh, fw = frame_shape[:2]
    s = round(min(max(side, MIN_SIDE), fw, fh))
    x = round(centre[0] - s / 2)
    y = round(centre[1] - s / 2)
    return CropWindow(min(max(x, 0), fw - s), min(max(y, 0), fh - s), s, s)


def box_centre(b: Box) -> tuple[float, float]:
    return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0


def box_height(b: Box) -> float:
    return max(0.0, b[3] - b[1])


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Proposal:
    """A person-shaped region: its box (frame pixels), where it came from, and whether it moves."""

    box: Box
    source: str  # "hog" | "motion"
    moving: bool
    weight: float = 0.0


@dataclass
class PersonLocator:
    """Person proposals from OpenCV: MOG2 motion blobs every frame, HOG people every few searches."""

    hog_every: int = HOG_EVERY
    motion_width: int = MOTION_WIDTH
    _mog: Any = None
    _hog: Any = None
    _motion: list[Box] = field(default_factory=list)
    _searches: int = 0
    _seen: int = 0
    _rejected: list[tuple[Box, int]] = field(default_factory=list)

    def observe(self, frame: np.ndarray) -> None:
        """Update the background model with ``frame`` (call on every processed frame)."""
        import cv2

        if self._mog is None:
            # No shadow detection: while the model is young it labels whole people "shadow".
            self._mog = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=16, detectShadows=False)
        fh, fw = frame.shape[:2]
        scale = min(1.0, self.motion_width / fw)
        small = cv2.resize(frame, (round(fw * scale), round(fh * scale)), interpolation=cv2.INTER_AREA)
        fg = self._mog.apply(small)
        self._seen += 1
        if self._seen == 1:  # the first frame is all foreground
            self._motion = []
            return
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((9, 5), np.uint8))  # join head, torso, legs
        n, _, stats, _ = cv2.connectedComponentsWithStats(fg)
        min_h = max(6, 0.04 * fg.shape[0])
        boxes: list[Box] = []
        for x, y, w, h, area in stats[1:n]:
            if h >= min_h and h >= 0.8 * w and area >= 0.25 * w * h:  # upright, reasonably solid
                boxes.append((x / scale, y / scale, (x + w) / scale, (y + h) / scale))
        self._motion = boxes

    def _hog_people(self, frame: np.ndarray) -> list[Proposal]:
        import cv2

        if self._hog is None:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        fh, fw = frame.shape[:2]
        scale = min(1.0, HOG_MAX_SIDE / max(fh, fw))
        img = frame if scale == 1.0 else cv2.resize(frame, (round(fw * scale), round(fh * scale)))
        rects, weights = self._hog.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.1)
        out = []
        for (x, y, w, h), wt in zip(rects, np.ravel(weights), strict=False):
            if wt < 0.3:
                continue
            box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
            moving = any(_iou(box, m) > 0.1 for m in self._motion)
            out.append(Proposal(box, "hog", moving, float(wt)))
        return out

    def propose(self, frame: np.ndarray, frame_no: int, near: Box | None = None) -> Proposal | None:
        """The best person proposal: nearest to ``near`` (the last tracked box) if one is close,
        else a moving HOG person, else the largest HOG person, else the largest moving blob."""
        self._searches += 1
        self._rejected = [(b, until) for b, until in self._rejected if until > frame_no]
        cands = [Proposal(b, "motion", True) for b in self._motion]
        if (self._searches - 1) % self.hog_every == 0:
            cands += self._hog_people(frame)
        cands = [c for c in cands if not any(_iou(c.box, r) > 0.3 for r, _ in self._rejected)]
        if not cands:
            return None
        if near is not None:
            nc, nh = box_centre(near), max(1.0, box_height(near))
            dist = [math.dist(box_centre(c.box), nc) / nh for c in cands]
            i = int(np.argmin(dist))
            if dist[i] <= 1.5:
                return cands[i]

        def rank(c: Proposal) -> tuple[int, int, float]:
            area = (c.box[2] - c.box[0]) * (c.box[3] - c.box[1])
            return (int(c.source == "hog" and c.moving), int(c.source == "hog"), area)

        return max(cands, key=rank)

    def reject(self, box: Box, frame_no: int) -> None:
        """The landmarker found nobody in this proposal: skip it for a few searches."""
        self._rejected.append((box, frame_no + REJECT_FOR))


@dataclass
class CropFollower:
    """The crop window that follows the tracked person (smoothed), or ``None`` for the full frame."""

    factor: float = CROP_FACTOR
    _state: tuple[float, float, float] | None = None  # centre x, centre y, side (pixels)

    @property
    def active(self) -> bool:
        return self._state is not None

    def window(self, frame_shape: tuple[int, ...]) -> CropWindow | None:
        if self._state is None:
            return None
        cx, cy, side = self._state
        return window_around((cx, cy), side, frame_shape)

    def follow(self, box: Box, frame_shape: tuple[int, ...]) -> None:
        """Update from the tracked person's box; hand back the full frame when the person is large."""
        short = min(frame_shape[:2])
        side = max(MIN_SIDE, self.factor * box_height(box))
        limit = (LEAVE_CROP_FRACTION if self.active else ENTER_CROP_FRACTION) * short
        if side >= limit:
            self._state = None
            return
        cx, cy = box_centre(box)
        if self._state is None or math.dist((cx, cy), self._state[:2]) > 0.5 * self._state[2]:
            self._state = (cx, cy, side)  # new target: no smoothing across the jump
            return
        ox, oy, os_ = self._state
        self._state = (
            ox + CENTRE_ALPHA * (cx - ox),
            oy + CENTRE_ALPHA * (cy - oy),
            os_ + SIDE_ALPHA * (side - os_),
        )

    def reset(self) -> None:
        self._state = None


def proposal_window(p: Proposal, frame_shape: tuple[int, ...]) -> CropWindow | None:
    """The window to try for a proposal, or ``None`` when the person is large (the full frame saw it)."""
    side = max(MIN_SIDE, PROPOSAL_FACTOR[p.source] * box_height(p.box))
    if side >= ENTER_CROP_FRACTION * min(frame_shape[:2]):
        return None
    return window_around(box_centre(p.box), side, frame_shape)
