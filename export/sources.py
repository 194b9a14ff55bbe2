"""Where calibration and parity windows come from when the caller gives a path, arrays or nothing.

Nothing given → a small deterministic ScoliGait-Synth dataset is generated once per process in a
temporary directory (calibration from its *train* split, parity from its *val* split), and the
manifest says so. Real data: ``--data DIR`` (a dataset directory) or ``--calib CALIB.npz``.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scoligait_edge.errors import CalibrationError, DatasetError

SYNTH_SUBJECTS = 40
SYNTH_CLIPS = 2
SYNTH_FRAMES = 256
SYNTH_SEED = 0


def _load_windows(data_dir: Path, split: str) -> Any:
    try:
        from scoligait_edge.data.windows import load_windows
    except ImportError as e:
        raise DatasetError(
            f"the window reader is not available ({e})", "pass arrays or a calibration .npz"
        ) from None
    return load_windows(data_dir, split)


@functools.lru_cache(maxsize=1)
def synthetic_dataset_dir() -> Path:
    """A deterministic small ScoliGait-Synth dataset (generated once per process)."""
    from scoligait_edge.data.synth import make_dataset

    root = Path(tempfile.mkdtemp(prefix="scoligait-synth-"))
    return make_dataset(
        root / "synth",
        subjects=SYNTH_SUBJECTS,
        clips_per_subject=SYNTH_CLIPS,
        frames=SYNTH_FRAMES,
        seed=SYNTH_SEED,
    )


def synthetic_source() -> str:
    return (
        f"ScoliGait-Synth(subjects={SYNTH_SUBJECTS}, clips={SYNTH_CLIPS}, "
        f"frames={SYNTH_FRAMES}, seed={SYNTH_SEED})"
    )


def resolve_calibration(calib: Any, size: int = 300, seed: int = 0) -> Any:
    """CalibrationSet from a set, a ``.npz`` file, a dataset directory or ``None`` (synthetic)."""
    from scoligait_edge.calibration import (
        CalibrationSet,
        build_calibration_set,
        from_arrays,
        load_calibration,
    )

    if isinstance(calib, CalibrationSet):
        return calib
    if calib is None:
        ws = _load_windows(synthetic_dataset_dir(), "train")
        cs = from_arrays(
            ws, size=size, seed=seed, source=f"{synthetic_source()}:train (no calibration set given)"
        )
        return cs
    p = Path(calib)
    if p.is_dir():
        return build_calibration_set(p, size=size, seed=seed)
    if p.suffix == ".npz":
        return load_calibration(p)
    raise CalibrationError(
        f"calibration source {p} is neither a .npz file nor a dataset directory", "pass --calib CALIB.npz"
    )


def resolve_heldout(data: Any, seed: int = 0) -> dict[str, Any]:
    """Parity arrays from a dict, a dataset directory (val split, else test) or ``None`` (synthetic val)."""
    if isinstance(data, Mapping):
        return dict(data) | {"source": data.get("source", "given arrays")}
    if data is None:
        ws = _load_windows(synthetic_dataset_dir(), "val")
        return heldout_from_windows(ws, source=f"{synthetic_source()}:val", seed=seed)
    p = Path(data)
    last: Exception | None = None
    for split in ("val", "test"):
        try:
            ws = _load_windows(p, split)
        except DatasetError as e:
            last = e
            continue
        if len(ws.kmap):
            return heldout_from_windows(ws, source=f"{p.name}:{split}", seed=seed)
    raise DatasetError(
        f"no val/test windows in {p} ({last})", "pass a dataset directory with a val or test split"
    )


MAX_WINDOWS = 256  #: parity windows used at most (memory: silhouettes are 1.1 MB per window)
RANDOM_WINDOWS = 64


def random_heldout(n: int = RANDOM_WINDOWS, seed: int = 1) -> dict[str, Any]:
    """Contract-shaped random windows (no labels): a last-resort parity set when no data exists."""
    from scoligait_edge.runtime.base import make_inputs

    return {**make_inputs(n, seed=seed), "source": f"random contract inputs (n={n}, seed={seed}, no labels)"}


def heldout_from_windows(
    ws: Any, max_windows: int = MAX_WINDOWS, source: str = "", seed: int = 0
) -> dict[str, Any]:
    """Held-out arrays from a WindowSet or dict (subsampled to ``max_windows``, labels kept)."""
    import numpy as np
    from scoligait_edge.calibration.dataset import window_inputs, window_labels

    n = len(ws["kmap"] if isinstance(ws, Mapping) else ws.kmap)
    idx = (
        np.arange(n)
        if n <= max_windows
        else np.sort(np.random.default_rng(seed).permutation(n)[:max_windows])
    )
    out: dict[str, Any] = window_inputs(ws, idx)
    labels, _ = window_labels(ws)
    if labels is not None:
        out["labels"] = labels[idx]
    out["source"] = f"{source or 'windows'} (n={len(idx)})"
    return out
