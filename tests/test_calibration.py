"""Calibration sets: stratified drawing from the train split, hashing, .npz IO, errors, readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scoligait_edge.calibration import (
    MIN_SAMPLES,
    CalibrationSet,
    from_arrays,
    load_calibration,
    save_calibration,
    stratified_indices,
)
from scoligait_edge.calibration.readers import modelopt_arrays, nncf_dataset, ort_reader, torch_batches

from scoligait_edge.errors import CalibrationError, InputFileError, OutputExistsError
from scoligait_edge.runtime.base import make_inputs


def _pool(n: int = 120, seed: int = 0) -> dict[str, np.ndarray]:
    x = make_inputs(n, seed=seed)
    rng = np.random.default_rng(seed)
    subjects = np.repeat(np.arange(n // 6), 6)  # 6 windows per subject
    labels = (subjects % 4 == 0).astype(np.float32)  # 25% positive subjects
    x["silhouette"] = (x["silhouette"] * 255).astype(np.uint8)  # WindowSet stores uint8 masks
    return {
        **x,
        "label": labels,
        "subject_id": np.array([f"s{s:03d}" for s in subjects]),
        "rng": rng.random(n),
    }


def test_stratified_indices_keep_class_shares_and_spread_subjects() -> None:
    p = _pool(240)
    lab = p["label"].astype(int)
    idx = stratified_indices(lab, p["subject_id"], size=40, seed=3)
    assert len(idx) == 40 and len(np.unique(idx)) == 40
    assert lab[idx].sum() == 10  # 25% of 40
    # round-robin over subjects: 40 subjects in the pool, so no subject twice
    assert len(np.unique(p["subject_id"][idx])) == 40
    assert np.array_equal(idx, stratified_indices(lab, p["subject_id"], size=40, seed=3))
    assert not np.array_equal(idx, stratified_indices(lab, p["subject_id"], size=40, seed=4))


def test_from_arrays_converts_uint8_silhouettes_and_records_meta() -> None:
    cs = from_arrays(_pool(), size=32, seed=0, source="unit")
    assert len(cs) == 32 and cs.silhouette.dtype == np.float32
    assert cs.silhouette.max() <= 1.0 and cs.silhouette.max() > 0.9
    d = cs.describe()
    assert d["class_counts"] == {"0": 24, "1": 8} and d["stratified"] and d["drawn_from"] == "train"
    assert len(d["hash"]) == 64


def test_save_load_roundtrip_keeps_hash(tmp_path: Path) -> None:
    cs = from_arrays(_pool(), size=20)
    f = save_calibration(cs, tmp_path / "c.npz")
    back = load_calibration(f)
    assert back.hash == cs.hash and np.array_equal(back.kmap, cs.kmap)
    assert np.array_equal(back.labels, cs.labels) and back.meta["seed"] == 0
    with pytest.raises(OutputExistsError):
        save_calibration(cs, f)
    save_calibration(cs, f, force=True)


def test_edited_file_is_refused(tmp_path: Path) -> None:
    cs = from_arrays(_pool(), size=20)
    f = save_calibration(cs, tmp_path / "c.npz")
    with np.load(f) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["kmap"][0, 0, 0] += 1.0
    np.savez(f, **arrays)
    with pytest.raises(CalibrationError, match="does not match its stored hash"):
        load_calibration(f)


def test_pickled_npz_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "evil.npz"
    np.savez(f, kmap=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CalibrationError, match="pickled objects"):
        load_calibration(f)


def test_bad_sets_raise_calibration_error(tmp_path: Path) -> None:
    x = make_inputs(MIN_SAMPLES)
    CalibrationSet(**x)  # exactly the minimum is fine
    with pytest.raises(CalibrationError, match="at least 16 are needed"):
        CalibrationSet(**make_inputs(MIN_SAMPLES - 1))
    bad = make_inputs(20)
    bad["kmap"][3, 5, 7] = np.nan
    with pytest.raises(CalibrationError, match=r"'kmap' has 1 NaN/inf values \(first in window 3\)"):
        CalibrationSet(**bad)
    wrong = make_inputs(20)
    wrong["kmap"] = wrong["kmap"][:, :, :200]
    with pytest.raises(CalibrationError, match="'kmap' has shape"):
        CalibrationSet(**wrong)
    with pytest.raises(CalibrationError, match="only 10 training windows"):
        from_arrays(make_inputs(10))
    with pytest.raises(InputFileError):
        load_calibration(tmp_path / "missing.npz")
    with pytest.raises(CalibrationError, match=r"must end in \.npz"):
        save_calibration(CalibrationSet(**x), tmp_path / "c.bin")


def test_readers_feed_every_window() -> None:
    cs = CalibrationSet(**make_inputs(20, seed=1))
    r = ort_reader(cs, batch=1, input_names=["kmap", "silhouette"])
    seen = []
    while (b := r.get_next()) is not None:
        assert set(b) == {"kmap", "silhouette"} and b["kmap"].shape == (1, 96, 238)
        seen.append(b["kmap"])
    assert len(seen) == 20 and np.array_equal(np.concatenate(seen), cs.kmap)
    r.rewind()
    assert r.get_next() is not None
    ds = nncf_dataset(cs)
    items = list(ds.get_inference_data())
    assert len(items) == 20 and items[0]["prompt_id"].shape == (1,)
    assert modelopt_arrays(cs)["silhouette"].shape == (20, 96, 64, 44)
    tb = list(torch_batches(cs, batch=8))
    assert [b[0].shape[0] for b in tb] == [8, 8, 4]


def test_build_calibration_set_from_dataset_train_split(tmp_path: Path) -> None:
    from scoligait_edge.calibration import build_calibration_set

    from scoligait_edge.data.synth import make_dataset
    from scoligait_edge.data.windows import load_windows

    data = make_dataset(tmp_path / "d", subjects=12, clips_per_subject=2, frames=192, seed=0)
    cs = build_calibration_set(data, size=24, seed=0)
    train = load_windows(data, "train")
    assert set(cs.subject_id) <= set(train.subject_id)  # only the training split
    for split in ("val", "test"):
        assert not set(cs.subject_id) & set(load_windows(data, split).subject_id)
    assert len(cs) == min(24, len(train)) and cs.meta["stratified"]
