"""Silhouettes rendered from a 2-D COCO-17 pose, normalised Scoliosis1K / OpenGait style.

Each frame draws the body as thick limbs, a torso polygon and a head ellipse with
OpenCV, then applies OpenGait's pretreatment: crop the rows holding the person,
resize to 64 px height keeping the aspect ratio, centre horizontally on the column
that splits the mask's mass in half, take 64 columns and cut 10 px each side → 64×44.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scoligait_edge.contract import SIL_H, SIL_W

_CANVAS_H = 128  # person height in pixels on the drawing canvas (2× the output)
_MARGIN = 24
_LIMBS = (  # (joint a, joint b, BodyShape attribute)
    (5, 7, "upper_arm"),
    (7, 9, "forearm"),
    (6, 8, "upper_arm"),
    (8, 10, "forearm"),
    (11, 13, "thigh"),
    (13, 15, "shank"),
    (12, 14, "thigh"),
    (14, 16, "shank"),
)


@dataclass(frozen=True)
class BodyShape:
    """Limb thicknesses and head radius as fractions of the person's height."""

    torso: float = 0.12
    upper_arm: float = 0.055
    forearm: float = 0.045
    thigh: float = 0.085
    shank: float = 0.062
    head: float = 0.065
    #: rib hump / shoulder-blade prominence: radius of a bulge on the flank below one shoulder, as a
    #: fraction of height; its sign picks the side (+: the subject's left, −: right, 0: none). A 2-D
    #: COCO skeleton has no joint there, so only the silhouette shows it.
    hump: float = 0.0


def draw_person(xy: np.ndarray, shape: BodyShape) -> np.ndarray:
    """Draw one frame's body mask (uint8 0/255) on a canvas where the person is ~128 px tall."""
    head_c = xy[[1, 2, 3, 4]].mean(0)
    feet_y = xy[[15, 16], 1].max()
    height_px = max(float(feet_y - head_c[1]) * 1.12, 1e-3)  # eye line to feet ≈ 0.9 of the height
    s = _CANVAS_H / height_px
    lo = xy.min(0) - np.array([0.0, 0.2 * height_px])
    p = (xy - lo) * s + _MARGIN
    w = int(np.ceil((xy[:, 0].max() - lo[0]) * s)) + 2 * _MARGIN
    h = int(np.ceil((feet_y - lo[1]) * s)) + 2 * _MARGIN
    canvas = np.zeros((min(h, 4 * _CANVAS_H), min(w, 4 * _CANVAS_H)), np.uint8)
    H = _CANVAS_H

    def pt(j: np.ndarray) -> tuple[int, int]:
        return round(float(j[0])), round(float(j[1]))

    # Torso: quad through shoulders and hips, widened by the torso half thickness.
    mid_sh, mid_hip = p[[5, 6]].mean(0), p[[11, 12]].mean(0)
    quad = np.array([p[5], p[6], p[12], p[11]])
    centre = quad.mean(0)
    quad = centre + (quad - centre) * 1.12
    cv2.fillConvexPoly(canvas, np.round(quad).astype(np.int32), 255, lineType=cv2.LINE_8)
    cv2.line(canvas, pt(mid_sh), pt(mid_hip), 255, max(1, round(shape.torso * H * 1.6)), cv2.LINE_8)
    for a, b, attr in _LIMBS:
        cv2.line(canvas, pt(p[a]), pt(p[b]), 255, max(1, round(getattr(shape, attr) * H)), cv2.LINE_8)
    for j, attr in ((9, "forearm"), (10, "forearm"), (15, "shank"), (16, "shank")):
        cv2.circle(canvas, pt(p[j]), max(1, round(getattr(shape, attr) * H * 0.6)), 255, -1)
    if shape.hump:
        _draw_hump(canvas, p, shape, H)
    neck = mid_sh + (p[[3, 4]].mean(0) - mid_sh) * 0.6
    cv2.line(canvas, pt(mid_sh), pt(neck), 255, max(1, round(0.05 * H)), cv2.LINE_8)
    hc = p[[1, 2, 3, 4]].mean(0)
    r = max(1, round(shape.head * H))
    cv2.ellipse(canvas, pt(hc), (round(r * 0.85), r), 0.0, 0.0, 360.0, 255, -1)
    return canvas


def _draw_hump(canvas: np.ndarray, p: np.ndarray, shape: BodyShape, H: int) -> None:
    """Bulge on the flank a third of the way from the hump-side shoulder to its hip."""
    sh, other, hip = (5, 6, 11) if shape.hump > 0 else (6, 5, 12)
    out = p[sh] - p[other]
    out = out / max(float(np.hypot(*out)), 1e-6)
    r = abs(shape.hump) * H
    centre = p[sh] + 0.35 * (p[hip] - p[sh]) + out * (0.5 * shape.torso * H)
    axes = (max(1, round(r)), max(1, round(1.8 * r)))
    cv2.ellipse(canvas, (round(float(centre[0])), round(float(centre[1]))), axes, 0.0, 0.0, 360.0, 255, -1)


def normalise_silhouette(mask: np.ndarray) -> np.ndarray:
    """OpenGait pretreatment of one mask → ``[64, 44]`` uint8 (zeros if the mask is empty)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros((SIL_H, SIL_W), np.uint8)
    img = mask[rows[0] : rows[-1] + 1].astype(np.float32)
    ratio = img.shape[1] / img.shape[0]
    new_w = max(1, round(SIL_H * ratio))
    img = cv2.resize(img, (new_w, SIL_H), interpolation=cv2.INTER_AREA)
    col_mass = img.sum(axis=0).cumsum()
    x_center = int(np.searchsorted(col_mass, col_mass[-1] / 2.0))
    half = SIL_H // 2  # OpenGait takes a T_H-wide (64) window, then cuts 10 px each side → 44
    padded = np.zeros((SIL_H, new_w + 2 * half), np.float32)
    padded[:, half : half + new_w] = img
    win = padded[:, x_center : x_center + 2 * half]
    cut = (2 * half - SIL_W) // 2
    return np.clip(np.round(win[:, cut : cut + SIL_W]), 0, 255).astype(np.uint8)


def render_silhouettes(xy: np.ndarray, shape: BodyShape | None = None) -> np.ndarray:
    """Render ``[T, 64, 44]`` uint8 silhouettes from clean 2-D joints ``[T, 17, 2]`` (pixels)."""
    shape = BodyShape() if shape is None else shape
    xy = np.asarray(xy, dtype=np.float64)[..., :2]
    out = np.zeros((xy.shape[0], SIL_H, SIL_W), np.uint8)
    for t in range(xy.shape[0]):
        if np.isfinite(xy[t]).all():
            out[t] = normalise_silhouette(draw_person(xy[t], shape))
    return out
