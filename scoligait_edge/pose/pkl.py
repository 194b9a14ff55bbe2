"""Scoliosis1K-Pose ``.pkl`` reader through a restricted unpickler.

The unpickler resolves only the numpy globals needed to rebuild arrays (and
``collections.OrderedDict``); any other global — the way a malicious pickle runs
code — is refused with :class:`UnsafeFileError`.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.errors import InputFileError, UnsafeFileError

_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
    }
)
MAX_PKL_BYTES = 512 * 1024 * 1024


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafeFileError(
            f"pickle refers to global '{module}.{name}', which is not a numpy array",
            "only pose pickles holding numpy arrays and plain containers are read; convert it to .npz",
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeFileError("pickle uses persistent ids", "convert the pose file to .npz")


def safe_unpickle(data: bytes) -> Any:
    """Unpickle ``data`` admitting numpy arrays and plain containers only."""
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except UnsafeFileError:
        raise
    except Exception as e:  # corrupt pickles raise many types
        raise InputFileError(f"corrupt pickle ({type(e).__name__}: {e})", "re-export the pose file") from None


def read_pkl_pose(path: str | os.PathLike) -> np.ndarray:
    """Read a Scoliosis1K-Pose pickle and return its ``[T, 17, 3]`` array (not yet validated)."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such pose file", "check the path")
    if p.stat().st_size > MAX_PKL_BYTES:
        raise InputFileError(f"{p}: {p.stat().st_size} bytes is too large for a pose file", "split the clip")
    try:
        obj = safe_unpickle(p.read_bytes())
    except UnsafeFileError as e:
        raise UnsafeFileError(f"{p}: {e.cause}", e.remedy) from None
    except InputFileError as e:
        raise InputFileError(f"{p}: {e.cause}", e.remedy) from None
    arr = _find_pose_array(obj)
    if arr is None:
        raise InputFileError(f"{p}: no [T, 17, 3] numeric array inside the pickle", "check it is a pose file")
    return arr


def _find_pose_array(obj: Any, depth: int = 0) -> np.ndarray | None:
    """Locate the pose array in a pickle payload (bare array, or inside a dict/list)."""
    if depth > 4:
        return None
    if isinstance(obj, np.ndarray):
        if obj.dtype != object and obj.ndim == 3 and obj.shape[1:] == (17, 3):
            return obj
        if obj.dtype != object and obj.ndim == 2 and obj.shape[1] == 51:
            return obj.reshape(-1, 17, 3)
        if obj.dtype != object and obj.ndim == 4 and obj.shape[0] == 1 and obj.shape[2:] == (17, 3):
            return obj[0]
        return None
    if isinstance(obj, dict):
        for key in ("pose", "keypoints", "kpts", "data"):
            if key in obj:
                found = _find_pose_array(obj[key], depth + 1)
                if found is not None:
                    return found
        values = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        values = list(obj)
        if values and all(isinstance(v, np.ndarray) and v.shape == (17, 3) for v in values):
            return np.stack(values)
    else:
        return None
    for v in values:
        found = _find_pose_array(v, depth + 1)
        if found is not None:
            return found
    return None
