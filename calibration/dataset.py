"""Calibration sets: contract-shaped windows from the TRAIN split, stratified, content-hashed, ``.npz``.

A calibration set is never drawn from validation/test windows (parity and benchmarks use those).
Files are plain ``.npz`` (``allow_pickle=False``); the content hash is stored inside and re-checked
on load, so a calibration file that was edited after it was made is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.contract import INPUT_NAMES, INPUTS
from scoligait_edge.errors import CalibrationError, InputFileError
from scoligait_edge.fileio import atomic_path

MIN_SAMPLES = 16  #: fewer windows than this cannot estimate activation ranges reliably
FORMAT_VERSION = 1


@dataclass
class CalibrationSet:
    """Contract inputs (``kmap``, ``silhouette``, ``prompt_id``) plus optional ``labels``/``subject_id``."""

    kmap: np.ndarray
    silhouette: np.ndarray
    prompt_id: np.ndarray
    labels: np.ndarray | None = None
    subject_id: np.ndarray | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kmap = np.ascontiguousarray(self.kmap, dtype=np.float32)
        self.silhouette = np.ascontiguousarray(self.silhouette, dtype=np.float32)
        self.prompt_id = np.ascontiguousarray(self.prompt_id, dtype=np.int64)
        validate_arrays(self.inputs())

    def __len__(self) -> int:
        return int(self.kmap.shape[0])

    def inputs(self) -> dict[str, np.ndarray]:
        """The model inputs as a dict keyed by contract names."""
        return {"kmap": self.kmap, "silhouette": self.silhouette, "prompt_id": self.prompt_id}

    def batches(self, batch: int = 1) -> list[dict[str, np.ndarray]]:
        """Consecutive input batches of size ``batch`` (the last may be smaller)."""
        n = len(self)
        return [{k: v[s : s + batch] for k, v in self.inputs().items()} for s in range(0, n, batch)]

    @property
    def hash(self) -> str:
        return content_hash(self.inputs())

    def describe(self) -> dict[str, Any]:
        """What the manifest records about this set."""
        d: dict[str, Any] = {"hash": self.hash, "size": len(self), "source": self.source}
        if self.labels is not None:
            d["class_counts"] = {
                str(int(c)): int(n) for c, n in zip(*np.unique(self.labels, return_counts=True), strict=True)
            }
        if self.subject_id is not None:
            d["subjects"] = len(np.unique(self.subject_id))
        d.update({k: v for k, v in self.meta.items() if k not in d})
        return d


def content_hash(inputs: Mapping[str, np.ndarray]) -> str:
    """sha256 over name, dtype, shape and bytes of each contract input (order-independent of dict)."""
    h = hashlib.sha256()
    for name in INPUT_NAMES:
        a = np.ascontiguousarray(inputs[name], dtype=INPUTS[name][1])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def validate_arrays(inputs: Mapping[str, np.ndarray], min_samples: int = MIN_SAMPLES) -> None:
    """Shapes, batch agreement, finiteness and size; raises :class:`CalibrationError` saying which."""
    n = None
    for name in INPUT_NAMES:
        if name not in inputs:
            raise CalibrationError(
                f"calibration set has no '{name}' array", "rebuild it with `scoligait-edge calibrate`"
            )
        a = np.asarray(inputs[name])
        shape = INPUTS[name][0]
        if a.ndim != len(shape) or any(isinstance(s, int) and a.shape[i] != s for i, s in enumerate(shape)):
            want = "x".join(str(s) for s in shape)
            raise CalibrationError(
                f"calibration array '{name}' has shape {a.shape}, expected {want}",
                "build it from contract windows with `scoligait-edge calibrate`",
            )
        n = a.shape[0] if n is None else n
        if a.shape[0] != n:
            raise CalibrationError(
                f"calibration arrays disagree on size ({name}: {a.shape[0]} vs {n})", "rebuild it"
            )
        if np.issubdtype(a.dtype, np.floating):
            bad = ~np.isfinite(a)
            if bad.any():
                idx = int(np.argwhere(bad.reshape(n, -1).any(axis=1))[0, 0])
                raise CalibrationError(
                    f"calibration array '{name}' has {int(bad.sum())} NaN/inf values (first in window {idx})",
                    "drop those windows or rebuild the set from clean data",
                )
    if n is None or n < min_samples:
        raise CalibrationError(
            f"calibration set has {n} windows, at least {min_samples} are needed",
            "use more training data or a larger --size",
        )
    pid = np.asarray(inputs["prompt_id"])
    if pid.size and pid.min() < 0:
        raise CalibrationError(
            "calibration prompt_id has negative values", "prompt ids index the prompt table (>= 0)"
        )


def save_calibration(cs: CalibrationSet, path: str | Path, force: bool = False) -> Path:
    """Write ``cs`` as a compressed ``.npz`` with its hash and meta (atomic; refuses to overwrite)."""
    p = Path(path)
    if p.suffix != ".npz":
        raise CalibrationError(f"calibration file must end in .npz, got {p.name}", "pass --out CALIB.npz")
    arrays: dict[str, np.ndarray] = dict(cs.inputs())
    if cs.labels is not None:
        arrays["labels"] = np.asarray(cs.labels)
    if cs.subject_id is not None:
        arrays["subject_id"] = np.asarray(cs.subject_id)
    header = {"format_version": FORMAT_VERSION, "hash": cs.hash, "source": cs.source, "meta": cs.meta}
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_path(p, force=force) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return p


def load_calibration(path: str | Path) -> CalibrationSet:
    """Read a calibration ``.npz`` (no pickle), check its hash, shapes and values."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"calibration file {p} not found", "create it with `scoligait-edge calibrate`")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        raise CalibrationError(
            f"{p.name} holds pickled objects ({e})", "rebuild it with `scoligait-edge calibrate`"
        ) from None
    except Exception as e:
        raise CalibrationError(
            f"{p.name} is not a readable .npz ({type(e).__name__})", "rebuild it"
        ) from None
    header: dict[str, Any] = {}
    if "__header__" in arrays:
        try:
            header = json.loads(arrays.pop("__header__").tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CalibrationError(f"{p.name} has a corrupt header", "rebuild it") from None
    validate_arrays(arrays)
    cs = CalibrationSet(
        kmap=arrays["kmap"],
        silhouette=arrays["silhouette"],
        prompt_id=arrays["prompt_id"],
        labels=arrays.get("labels"),
        subject_id=arrays.get("subject_id"),
        source=str(header.get("source", p.name)),
        meta=dict(header.get("meta", {})),
    )
    want = header.get("hash")
    if want and want != cs.hash:
        raise CalibrationError(
            f"{p.name} content does not match its stored hash (edited after it was made)",
            "rebuild it with `scoligait-edge calibrate`",
        )
    return cs


def stratified_indices(labels: np.ndarray, subjects: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Pick ``size`` indices: class shares kept proportional (each class ≥ 1), subjects round-robin.

    Within a class, subjects are visited in a seeded random order and one unused window is taken
    per subject per round, so no subject dominates the set.
    """
    rng = np.random.default_rng(seed)
    labels, subjects = np.asarray(labels), np.asarray(subjects)
    n = len(labels)
    size = min(size, n)
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.maximum(1, np.floor(size * counts / n).astype(int))
    while quota.sum() < size:  # hand out the remainder to the classes with the largest fractional share
        frac = size * counts / n - quota
        frac[quota >= counts] = -np.inf
        quota[int(np.argmax(frac))] += 1
    while quota.sum() > size:
        quota[int(np.argmax(quota))] -= 1
    picked: list[int] = []
    for c, q in zip(classes, quota, strict=True):
        idx = np.flatnonzero(labels == c)
        pools = {}
        for s in rng.permutation(np.unique(subjects[idx])):
            pools[s] = list(rng.permutation(idx[subjects[idx] == s]))
        taken = 0
        while taken < q and pools:
            for s in list(pools):
                if taken >= q:
                    break
                picked.append(int(pools[s].pop()))
                taken += 1
                if not pools[s]:
                    del pools[s]
    return np.sort(np.asarray(picked, dtype=np.int64))


def _field(ws: Any, *names: str) -> Any:
    for n in names:
        v = ws.get(n) if isinstance(ws, Mapping) else getattr(ws, n, None)
        if v is not None:
            return v
    return None


def window_inputs(ws: Any, idx: Any = slice(None)) -> dict[str, np.ndarray]:
    """Contract inputs of windows ``idx`` from a ``WindowSet`` (uint8 silhouettes → [0, 1]) or a dict."""
    if hasattr(ws, "batch") and not isinstance(ws, Mapping):
        b = ws.batch(idx)
        return {k: np.asarray(b[k]) for k in INPUT_NAMES}
    out = {}
    for k in INPUT_NAMES:
        a = np.asarray(_field(ws, k))[idx]
        if k == "silhouette" and a.dtype == np.uint8:
            a = a.astype(np.float32) / np.float32(255.0)
        out[k] = a
    return out


def window_labels(ws: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(labels as int, subject ids) of a WindowSet/dict (``None`` where absent)."""
    lab = _field(ws, "labels", "label")
    subj = _field(ws, "subject_id")
    return (None if lab is None else np.asarray(lab).astype(np.int64)), (
        None if subj is None else np.asarray(subj)
    )


def from_arrays(
    arrays: Any,
    size: int = 300,
    stratify: bool = True,
    seed: int = 0,
    source: str = "arrays",
) -> CalibrationSet:
    """Draw a calibration set from training windows (a ``WindowSet`` or a dict of arrays)."""
    n = len(_field(arrays, "kmap"))
    labels, subjects = window_labels(arrays)
    if n < MIN_SAMPLES:
        raise CalibrationError(
            f"only {n} training windows available, need >= {MIN_SAMPLES}", "use more training data"
        )
    if stratify and labels is not None:
        subj = subjects if subjects is not None else np.arange(n)
        idx = stratified_indices(labels, subj, size, seed)
    else:
        idx = np.sort(np.random.default_rng(seed).permutation(n)[: min(size, n)])
    x = window_inputs(arrays, idx)
    return CalibrationSet(
        kmap=x["kmap"],
        silhouette=x["silhouette"],
        prompt_id=x["prompt_id"],
        labels=None if labels is None else labels[idx],
        subject_id=None if subjects is None else subjects[idx].astype(str),
        source=source,
        meta={
            "stratified": bool(stratify and labels is not None),
            "seed": seed,
            "drawn_from": "train",
            "pool": n,
        },
    )


def build_calibration_set(
    data_dir: str | Path, size: int = 300, stratify: bool = True, seed: int = 0
) -> CalibrationSet:
    """Calibration set from the TRAIN split of a dataset directory (``scoligait_edge.data``)."""
    try:
        from scoligait_edge.data.windows import load_windows
    except ImportError as e:
        raise CalibrationError(
            f"dataset reader unavailable ({e})", "pass --calib CALIB.npz instead"
        ) from None
    ws = load_windows(Path(data_dir), "train")
    return from_arrays(ws, size=size, stratify=stratify, seed=seed, source=f"{Path(data_dir).name}:train")
