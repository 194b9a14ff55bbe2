"""Model inputs: clips → fixed-length knowledge-map / silhouette windows with prompt ids.

The knowledge map is computed once per clip (it is causal) and then sliced into
windows starting at ``0, hop, 2·hop, …`` — the same windows a
:class:`~scoligait_edge.kmap.StreamingKnowledgeMap` with that hop emits.

Short clips: a clip with fewer than ``window`` frames is **padded at the start** by
repeating its first frame (pose and silhouette) up to ``window`` frames and gives
one window whose ``start`` is negative (``-pad``: the window begins ``pad`` frames
before the clip). A screening clip of 2–3 s still gets a decision that way; the
repeated frames look like a child standing still, which the causal map handles.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoligait_edge.contract import FPS, SIL_H, SIL_W, WINDOW
from scoligait_edge.data.dataset import load_index, read_index_clip, split_frame
from scoligait_edge.data.progress import track
from scoligait_edge.errors import DatasetError, InputFileError
from scoligait_edge.fileio import atomic_path, sha256_file
from scoligait_edge.kmap import N_FEATURES, catalog_hash, knowledge_map
from scoligait_edge.pose import Clip
from scoligait_edge.pose.coco import FLIP_PERM
from scoligait_edge.prompts import PROMPTS, THRESHOLDS, describe_batch

DEFAULT_HOP = 48
CACHE_VERSION = 1
#: left/right permutation of the 4 extra foot landmarks (left/right heel, left/right foot index)
_EXTRA_FLIP = (1, 0, 3, 2)


def mirror_clip(clip: Clip) -> Clip:
    """The clip seen in a mirror: x reflected about the clip's mean x, left/right joints swapped.

    Pose x becomes ``2·c − x`` (``c`` = mean x of all confident joints, so coordinates stay in the
    same range), joints are re-indexed with `FLIP_PERM` (a left wrist becomes the right wrist),
    silhouettes are flipped left–right. A scoliotic child's mirror image is still scoliotic with
    the same Cobb angle, so labels carry over: a label-consistent augmentation.
    """
    pose = clip.pose.copy()
    xs = pose[..., 0][np.isfinite(pose[..., 0]) & (pose[..., 2] > 0)]
    c = float(xs.mean()) if xs.size else 0.0
    pose[..., 0] = 2 * c - pose[..., 0]
    pose = pose[:, list(FLIP_PERM)]
    extra = None
    if clip.extra is not None:
        extra = clip.extra.copy()
        extra[..., 0] = 2 * c - extra[..., 0]
        if extra.shape[1] == len(_EXTRA_FLIP):
            extra = extra[:, list(_EXTRA_FLIP)]
    sil = None if clip.silhouettes is None else np.ascontiguousarray(clip.silhouettes[:, :, ::-1])
    meta = {**clip.metadata, "mirrored": True}
    return Clip(pose=pose, fps=clip.fps, silhouettes=sil, extra=extra, metadata=meta)


def pad_start(clip: Clip, window: int) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pose (and silhouettes) padded at the start to ``window`` frames by repeating frame 0."""
    pad = max(0, window - len(clip))
    pose = clip.pose
    sil = clip.silhouettes
    if pad:
        pose = np.concatenate([np.repeat(pose[:1], pad, axis=0), pose])
        if sil is not None:
            sil = np.concatenate([np.repeat(sil[:1], pad, axis=0), sil])
    return pose, sil, pad


def window_starts(n_frames: int, window: int = WINDOW, hop: int = DEFAULT_HOP) -> np.ndarray:
    """Start frames of the windows of an ``n_frames`` clip (already padded to ≥ ``window``)."""
    return np.arange(0, n_frames - window + 1, hop, dtype=np.int64)


def _check_args(window: int, hop: int) -> None:
    if window < 1 or hop < 1:
        raise DatasetError(
            f"window {window} and hop {hop} must be positive", f"e.g. window {WINDOW}, hop {DEFAULT_HOP}"
        )


def _check_fps(clip: Clip) -> None:
    if abs(float(clip.fps) - FPS) > 0.5:
        raise InputFileError(
            f"clip is {clip.fps:g} fps; windows assume {FPS:g} fps", "resample the pose to 30 Hz first"
        )


def clip_kmap(clip: Clip, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray, int]:
    """Knowledge map and mask of the (start-padded) clip, and the padding used."""
    _check_fps(clip)
    pose, _, pad = pad_start(clip, window)
    kmap, mask = knowledge_map(pose, FPS, return_mask=True)
    return kmap, mask, pad


def clip_windows(clip: Clip, window: int = WINDOW, hop: int = DEFAULT_HOP) -> dict[str, np.ndarray]:
    """Windows of one clip: ``kmap [N, W, 238]`` float32, ``mask [N, W, 238]`` bool,
    ``silhouette [N, W, 64, 44]`` float32 in [0, 1] (zeros without silhouettes),
    ``prompt_id [N]`` int64, ``start [N]`` int64 (clip frame of each window's first row)."""
    _check_args(window, hop)
    kmap, mask, pad = clip_kmap(clip, window)
    starts = window_starts(len(kmap), window, hop)
    idx = starts[:, None] + np.arange(window)[None]
    k = kmap[idx]
    ids, _ = describe_batch(k)
    return {
        "kmap": k,
        "mask": mask[idx],
        "silhouette": _silhouette_windows(clip, idx, pad).astype(np.float32) / np.float32(255.0),
        "prompt_id": ids,
        "start": starts - pad,
    }


def _silhouette_windows(clip: Clip, idx: np.ndarray, pad: int) -> np.ndarray:
    """uint8 ``[N, W, 64, 44]`` silhouettes for the padded-frame indices ``idx``."""
    if clip.silhouettes is None:
        return np.zeros((*idx.shape, SIL_H, SIL_W), np.uint8)
    return clip.silhouettes[np.maximum(idx - pad, 0)]


@dataclass
class WindowSet:
    """All windows of one split, ready for training or calibration.

    ``silhouette`` is kept as uint8 0–255 to save memory; :meth:`batch` returns the
    model inputs exactly as the exported graph takes them (float32 in [0, 1]).
    """

    kmap: np.ndarray  # [N, W, 238] float32, raw (unnormalised)
    mask: np.ndarray  # [N, W, 238] bool
    silhouette: np.ndarray  # [N, W, 64, 44] uint8 (zeros where the clip has none)
    prompt_id: np.ndarray  # [N] int64 into text.PROMPTS
    start: np.ndarray  # [N] int64
    label: np.ndarray  # [N] float32 (1 = refer)
    cobb: np.ndarray  # [N] float32 degrees (NaN where unknown)
    subject_id: np.ndarray  # [N] str
    clip_id: np.ndarray  # [N] str
    split: str = ""
    window: int = WINDOW
    hop: int = DEFAULT_HOP
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.kmap.shape[0])

    def batch(self, idx: Any = slice(None)) -> dict[str, np.ndarray]:
        """Model inputs for windows ``idx``: ``kmap``, ``silhouette`` (float32 [0, 1]), ``prompt_id``."""
        return {
            "kmap": self.kmap[idx],
            "silhouette": self.silhouette[idx].astype(np.float32) / np.float32(255.0),
            "prompt_id": self.prompt_id[idx],
        }


def load_windows(
    data_dir: str | os.PathLike,
    split: str,
    window: int = WINDOW,
    hop: int = DEFAULT_HOP,
    cache: bool = True,
    silhouettes: bool = True,
    progress: bool | None = None,
    mirror: bool = False,
) -> WindowSet:
    """Windows of every clip of ``split`` in the dataset at ``data_dir``.

    Knowledge maps, masks and prompt ids are cached in ``<dataset>/cache/`` under a
    key hashing the clip files' sha256, labels, window/hop, the catalog hash and the
    prompt thresholds; a later call with the same content loads them instead of
    recomputing. Silhouettes are sliced from the clips (``silhouettes=False`` gives
    zeros without reading them). ``progress=None`` shows a bar when stderr is a terminal.
    ``mirror=True`` (training augmentation) adds every clip's :func:`mirror_clip` windows
    after its own, with the knowledge map recomputed from the mirrored pose;
    ``info["mirrored"]`` flags them.
    """
    _check_args(window, hop)
    df = split_frame(load_index(data_dir), split)
    root = Path(df.attrs.get("root", Path(data_dir)))
    key = _cache_key(df, split, window, hop, mirror)
    tag = "-mirror" if mirror else ""
    cache_file = root / "cache" / f"windows-{split}-w{window}-h{hop}{tag}-{key[:16]}.npz"
    cached = _read_cache(cache_file, key) if cache else None
    kmaps, masks, ids, starts, rows, sils, flags = [], [], [], [], [], [], []
    for r, (_, row) in enumerate(track(df.iterrows(), len(df), f"{split} windows", progress)):
        need_clip = cached is None or silhouettes
        clip = read_index_clip(row) if need_clip else None
        views = [] if clip is None else ([clip, mirror_clip(clip)] if mirror else [clip])
        if cached is None:
            for v, view in enumerate(views):
                w = clip_windows(view, window, hop)
                kmaps.append(w["kmap"])
                masks.append(w["mask"])
                ids.append(w["prompt_id"])
                starts.append(w["start"])
                rows.append(np.full(len(w["start"]), r, np.int64))
                flags.append(np.full(len(w["start"]), v == 1))
            n = sum(len(a) for a in rows[-len(views) :])
        else:
            n = int((cached["row"] == r).sum())
        if silhouettes and clip is not None:
            pad = max(0, window - len(clip))
            st = window_starts(len(clip) + pad, window, hop)
            if len(st) * len(views) != n:
                raise DatasetError(
                    f"{row['path']}: changed since the window cache was made", "delete the cache"
                )
            for view in views:
                sils.append(_silhouette_windows(view, st[:, None] + np.arange(window)[None], pad))
    if cached is None:
        arrays = {
            "kmap": np.concatenate(kmaps),
            "mask": np.concatenate(masks),
            "prompt_id": np.concatenate(ids),
            "start": np.concatenate(starts),
            "row": np.concatenate(rows),
            "mirrored": np.concatenate(flags),
        }
        if cache:
            _write_cache(cache_file, key, arrays)
    else:
        arrays = cached
    row_ix = arrays["row"]
    n = len(row_ix)
    sil = np.concatenate(sils) if silhouettes else np.zeros((n, window, SIL_H, SIL_W), np.uint8)
    cobb = (
        df["cobb_angle"].to_numpy(np.float32) if "cobb_angle" in df else np.full(len(df), np.nan, np.float32)
    )
    return WindowSet(
        kmap=arrays["kmap"],
        mask=arrays["mask"],
        silhouette=sil,
        prompt_id=arrays["prompt_id"],
        start=arrays["start"],
        label=df["label"].to_numpy(np.float32)[row_ix],
        cobb=cobb[row_ix],
        subject_id=df["subject_id"].to_numpy(str)[row_ix],
        clip_id=df["clip_id"].to_numpy(str)[row_ix],
        split=split,
        window=window,
        hop=hop,
        info={
            "cache": str(cache_file) if cache else None,
            "cache_hit": cached is not None,
            "key": key,
            "mirrored": arrays["mirrored"],
        },
    )


def _cache_key(df: pd.DataFrame, split: str, window: int, hop: int, mirror: bool = False) -> str:
    h = hashlib.sha256()
    head = {
        "v": CACHE_VERSION,
        "split": split,
        "window": window,
        "hop": hop,
        "catalog": catalog_hash(),
        "prompts": len(PROMPTS),
        "thresholds": THRESHOLDS,
    }
    if mirror:
        head["mirror"] = True
    h.update(json.dumps(head, sort_keys=True).encode())
    cobb = df["cobb_angle"] if "cobb_angle" in df else pd.Series([np.nan] * len(df), index=df.index)
    for cid, path, label, c in zip(df["clip_id"], df["abs_path"], df["label"], cobb, strict=True):
        h.update(f"{cid}|{int(label)}|{float(c)!r}|{sha256_file(path)}\n".encode())
    return h.hexdigest()


_CACHE_KEYS = ("kmap", "mask", "prompt_id", "start", "row", "mirrored")


def _read_cache(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """Cached arrays when the file exists, matches ``key`` and is well formed; else None (recompute)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            out = {k: z[k] for k in _CACHE_KEYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    n = len(out["row"])
    if (
        out["kmap"].shape[0] != n
        or out["kmap"].shape[2:] != (N_FEATURES,)
        or out["mask"].shape != out["kmap"].shape
    ):
        return None
    return out


def _write_cache(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache atomically; a read-only dataset simply goes uncached."""
    try:
        with atomic_path(path, force=True) as tmp, open(tmp, "wb") as f:
            np.savez(f, key=np.asarray(key), **arrays)
    except OSError:
        return
