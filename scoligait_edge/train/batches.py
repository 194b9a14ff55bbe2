"""Access to knowledge-map windows for training/evaluation, from a dataset dir or in-memory sets."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scoligait_edge.errors import DatasetError

SPLITS = ("train", "val", "test")
#: A dataset directory, or a mapping ``split -> WindowSet-like`` (used by tests and the ablation).
DataSource = str | os.PathLike | Mapping[str, Any]


@dataclass
class Batch:
    kmap: torch.Tensor
    silhouette: torch.Tensor
    prompt_id: torch.Tensor
    label: torch.Tensor
    cobb: torch.Tensor
    index: np.ndarray


def get_windows(data: DataSource, split: str, hop: int | None = None, mirror: bool = False) -> Any:
    """The `WindowSet` of ``split`` (``kmap, silhouette, prompt_id, labels, cobb, subject_id, clip_id``).

    ``hop`` (default: the dataset's 48) and ``mirror`` are training augmentations: denser windows
    (a time shift) and left–right mirrored clips; both need a dataset directory.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    if isinstance(data, Mapping):
        if split not in data:
            raise DatasetError(f"no {split!r} split in the given data", "provide train, val and test windows")
        if mirror or hop is not None:
            raise DatasetError(
                "mirror / hop augmentation needs the dataset directory, not in-memory windows",
                "pass the dataset path, or set mirror=false and train_hop=0",
            )
        ws = data[split]
    else:
        from scoligait_edge.data.windows import DEFAULT_HOP, load_windows

        ws = load_windows(Path(data), split, hop=hop or DEFAULT_HOP, mirror=mirror)
    if len(ws.label) == 0:
        raise DatasetError(f"the {split!r} split has no windows", "generate a larger dataset")
    return ws


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _sil(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.float() / 255.0 if t.dtype == torch.uint8 else t.float()


def take(ws: Any, idx: np.ndarray) -> Batch:
    """Gather windows ``idx`` as float32/int64 tensors."""
    idx = np.sort(np.asarray(idx))
    return Batch(
        kmap=torch.from_numpy(np.ascontiguousarray(ws.kmap[idx], dtype=np.float32)),
        silhouette=_sil(ws.silhouette[idx]),
        prompt_id=torch.from_numpy(np.asarray(ws.prompt_id[idx], dtype=np.int64)),
        label=torch.from_numpy(np.asarray(ws.label[idx], dtype=np.float32)),
        cobb=torch.from_numpy(np.asarray(ws.cobb[idx], dtype=np.float32)),
        index=idx,
    )


def batches(ws: Any, batch_size: int, shuffle: bool, gen: torch.Generator | None = None) -> Iterator[Batch]:
    """Iterate over ``ws`` in batches (shuffled with ``gen`` when asked)."""
    n = len(ws.label)
    order = torch.randperm(n, generator=gen).numpy() if shuffle else np.arange(n)
    for s in range(0, n, batch_size):
        yield take(ws, order[s : s + batch_size])


def norm_stats(ws: Any, chunk: int = 512) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per-feature mean/std of the knowledge map and mean/std of the Cobb angle over a split."""
    n = len(ws.label)
    s = np.zeros(ws.kmap.shape[-1], np.float64)
    ss = np.zeros_like(s)
    for i in range(0, n, chunk):
        k = np.asarray(ws.kmap[i : i + chunk], dtype=np.float64).reshape(-1, s.shape[0])
        s += k.sum(0)
        ss += (k * k).sum(0)
    cnt = n * ws.kmap.shape[1]
    mean = s / cnt
    std = np.sqrt(np.maximum(ss / cnt - mean**2, 0.0))
    std = np.where(std < 1e-6, 1.0, std)
    cobb = np.asarray(ws.cobb, np.float64)
    cobb = cobb[np.isfinite(cobb)]
    c_mean, c_std = (float(cobb.mean()), float(cobb.std() + 1e-6)) if len(cobb) else (0.0, 1.0)
    return mean.astype(np.float32), std.astype(np.float32), c_mean, c_std
