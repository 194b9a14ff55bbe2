"""Pose input: COCO-17 ``[T, 17, 3]`` float32 at 30 Hz from clip ``.npz``, Scoliosis1K ``.pkl``, video."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from scoligait_edge.errors import InputFileError
from scoligait_edge.pose.clip import Clip, load_clip, save_clip, validate_pose
from scoligait_edge.pose.coco import COCO_JOINTS, MEDIAPIPE_TO_COCO
from scoligait_edge.pose.gaps import Segment, interpolate_gaps, split_on_gaps
from scoligait_edge.pose.pkl import read_pkl_pose

POSE_SUFFIXES = (".npz", ".pkl")

__all__ = [
    "COCO_JOINTS",
    "MEDIAPIPE_TO_COCO",
    "Clip",
    "Segment",
    "interpolate_gaps",
    "load_clip",
    "read_clip",
    "read_pose",
    "save_clip",
    "split_on_gaps",
    "validate_pose",
]


def read_clip(path: str | os.PathLike) -> Clip:
    """Read any supported pose file as a :class:`Clip` (``.npz`` clip or Scoliosis1K ``.pkl``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return load_clip(p)
    if suffix == ".pkl":
        pose = validate_pose(read_pkl_pose(p), name=str(p))
        return Clip(pose=pose, fps=30.0, metadata={"source": str(p), "source_format": "scoliosis1k-pkl"})
    raise InputFileError(
        f"{p}: unsupported pose file type '{p.suffix}'",
        f"give one of {', '.join(POSE_SUFFIXES)} (videos go through `scoligait-edge pose` first)",
    )


def read_pose(path: str | os.PathLike) -> np.ndarray:
    """Read any supported pose file and return COCO-17 ``[T, 17, 3]`` float32."""
    return read_clip(path).pose
