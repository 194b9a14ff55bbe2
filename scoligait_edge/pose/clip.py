"""The project's clip format: one ``.npz`` per clip (pose, silhouettes, fps, metadata).

Keys (all loadable with ``allow_pickle=False``):

- ``pose``        float32 ``[T, 17, 3]`` COCO-17 (x, y, confidence), pixels or any unit
- ``fps``         float64 scalar, frames per second of ``pose`` (30 after resampling)
- ``silhouettes`` optional uint8 ``[T, 64, 44]`` person masks (0/255)
- ``extra``       optional float32 ``[T, K, 3]`` extra landmarks (heels, foot index)
- ``metadata``    JSON text (0-d unicode array)
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.errors import InputFileError, ShapeError
from scoligait_edge.fileio import atomic_path

SIL_H, SIL_W = 64, 44
CLIP_FORMAT_VERSION = 1


@dataclass
class Clip:
    """A pose clip: COCO-17 pose plus optional silhouettes and free-form metadata."""

    pose: np.ndarray
    fps: float = 30.0
    silhouettes: np.ndarray | None = None
    extra: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pose = validate_pose(self.pose)
        if self.silhouettes is not None:
            sil = np.asarray(self.silhouettes)
            if sil.ndim != 3 or sil.shape[1:] != (SIL_H, SIL_W) or sil.shape[0] != len(self.pose):
                raise ShapeError(
                    f"silhouettes have shape {sil.shape}, expected ({len(self.pose)}, {SIL_H}, {SIL_W})",
                    "resize masks to 64x44 and keep one per pose frame",
                )
            self.silhouettes = sil.astype(np.uint8, copy=False)
        if self.extra is not None:
            ex = np.asarray(self.extra, dtype=np.float32)
            if ex.ndim != 3 or ex.shape[0] != len(self.pose) or ex.shape[2] != 3:
                raise ShapeError(f"extra landmarks have shape {ex.shape}", "expected [T, K, 3]")
            self.extra = ex
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise InputFileError(f"fps must be positive, got {self.fps}", "store the clip's real frame rate")

    def __len__(self) -> int:
        return int(self.pose.shape[0])

    @property
    def duration_s(self) -> float:
        return len(self) / float(self.fps)


def validate_pose(pose: Any, name: str = "pose") -> np.ndarray:
    """Return ``pose`` as float32 ``[T, 17, 3]`` or raise :class:`ShapeError`."""
    arr = np.asarray(pose)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ShapeError(f"{name} has dtype {arr.dtype}", "pose must be a numeric [T, 17, 3] array")
    if arr.ndim != 3 or arr.shape[1:] != (17, 3):
        raise ShapeError(
            f"{name} has shape {arr.shape}, expected [T, 17, 3] (COCO-17 x, y, confidence)",
            "convert the skeleton to COCO-17 with a confidence channel",
        )
    if arr.shape[0] == 0:
        raise ShapeError(f"{name} has no frames", "give a clip with at least one frame")
    return arr.astype(np.float32, copy=False)


def save_clip(path: str | os.PathLike, clip: Clip, force: bool = False) -> Path:
    """Write ``clip`` as ``.npz`` atomically (refuses to overwrite unless ``force``)."""
    arrays: dict[str, np.ndarray] = {
        "pose": clip.pose.astype(np.float32),
        "fps": np.asarray(float(clip.fps)),
        "format_version": np.asarray(CLIP_FORMAT_VERSION),
        "metadata": np.asarray(json.dumps(clip.metadata, default=_json_default)),
    }
    if clip.silhouettes is not None:
        arrays["silhouettes"] = clip.silhouettes
    if clip.extra is not None:
        arrays["extra"] = clip.extra
    with atomic_path(path, force=force) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


def load_clip(path: str | os.PathLike) -> Clip:
    """Read a clip ``.npz`` (never unpickles); raise :class:`InputFileError` on bad files."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such clip file", "check the path")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
            if "pose" not in keys:
                raise InputFileError(f"{p}: not a clip file (no 'pose' array)", "write clips with save_clip")
            pose = z["pose"]
            fps = float(z["fps"]) if "fps" in keys else 30.0
            sil = z["silhouettes"] if "silhouettes" in keys else None
            extra = z["extra"] if "extra" in keys else None
            meta = json.loads(str(z["metadata"])) if "metadata" in keys else {}
    except InputFileError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise InputFileError(
                f"{p}: contains pickled objects, which are never loaded", "store plain numeric arrays"
            ) from None
        raise InputFileError(f"{p}: unreadable clip ({e})", "re-create the clip file") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, json.JSONDecodeError) as e:
        raise InputFileError(
            f"{p}: corrupt or truncated clip ({type(e).__name__})", "re-create the clip file"
        ) from None
    try:
        meta = meta if isinstance(meta, dict) else {}
        return Clip(pose=pose, fps=fps, silhouettes=sil, extra=extra, metadata=meta)
    except ShapeError as e:
        raise ShapeError(f"{p}: {e.cause}", e.remedy) from None


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
