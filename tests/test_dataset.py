"""Dataset index: validation, subject-disjoint splits, leak refusal, real-layout (.pkl) reading."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

from scoligait_edge.data.dataset import (
    load_index,
    make_splits,
    read_index_clip,
    split_frame,
    subject_leaks,
    write_index,
)
from scoligait_edge.data.synth import make_dataset
from scoligait_edge.errors import DatasetError, InputFileError, OutputExistsError


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    return make_dataset(
        tmp_path_factory.mktemp("ds") / "synth", subjects=15, clips_per_subject=2, frames=32, seed=4
    )


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_synth_index_is_valid_and_subject_disjoint(synth_dir) -> None:
    df = load_index(synth_dir)
    assert list(df.columns[:7]) == [
        "clip_id",
        "path",
        "subject_id",
        "cobb_angle",
        "label",
        "split",
        "n_frames",
    ]
    assert len(df) == 30 and df["subject_id"].nunique() == 15
    assert (df.groupby("subject_id")["split"].nunique() == 1).all()
    assert ((df["cobb_angle"] >= 10).astype(int) == df["label"]).all()
    assert set(df["split"]) == {"train", "val", "test"}
    assert df.attrs["root"] == str(synth_dir)
    clip = read_index_clip(df.iloc[0])
    assert clip.metadata["clip_id"] == df.iloc[0]["clip_id"]


def test_loader_refuses_leaking_index(synth_dir, tmp_path) -> None:
    d = _copy(synth_dir, tmp_path / "leak")
    df = pd.read_csv(d / "index.csv", dtype=str)
    subj = df["subject_id"].iloc[0]
    rows = df.index[df["subject_id"] == subj]
    other = "test" if df.loc[rows[0], "split"] != "test" else "train"
    df.loc[rows[1], "split"] = other
    df.to_csv(d / "index.csv", index=False)
    with pytest.raises(DatasetError) as e:
        load_index(d)
    msg = str(e.value)
    assert subj in msg and other in msg and "more than one split" in msg


def test_missing_clip_file_is_input_error(synth_dir, tmp_path) -> None:
    d = _copy(synth_dir, tmp_path / "missing")
    victim = sorted((d / "clips").glob("*.npz"))[3]
    victim.unlink()
    with pytest.raises(InputFileError, match=victim.name):
        load_index(d)
    assert len(load_index(d, check_files=False)) == 30


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda df: df.drop(columns=["split"]), "missing column"),
        (lambda df: df.assign(label=2), "label must be 0 or 1"),
        (lambda df: df.assign(label=1 - df["label"].astype(int)), "disagrees with cobb_angle"),
        (lambda df: df.assign(split="holdout"), "unknown split"),
        (lambda df: df.assign(clip_id="same"), "duplicate clip_id"),
        (lambda df: df.assign(cobb_angle="steep"), "cobb_angle"),
        (lambda df: df.iloc[0:0], "no clips"),
    ],
)
def test_bad_index_is_dataset_error(synth_dir, tmp_path, edit, match) -> None:
    d = _copy(synth_dir, tmp_path / "bad")
    df = pd.read_csv(d / "index.csv", dtype={"view": str})
    edit(df).to_csv(d / "index.csv", index=False)
    with pytest.raises(DatasetError, match=match):
        load_index(d)


def test_no_index_is_dataset_error(tmp_path) -> None:
    with pytest.raises(DatasetError, match="no dataset index"):
        load_index(tmp_path)


def test_make_splits_disjoint_stratified_deterministic() -> None:
    rng = np.random.default_rng(0)
    subjects = [f"p{i}" for i in range(100)]
    labels = (rng.random(100) < 0.3).astype(int)
    sp = make_splits(subjects, labels, (0.6, 0.2, 0.2), seed=3)
    assert set(sp) == set(subjects)
    assert sp == make_splits(subjects, labels, (0.6, 0.2, 0.2), seed=3)
    assert sp != make_splits(subjects, labels, (0.6, 0.2, 0.2), seed=4)
    lab = dict(zip(subjects, labels, strict=True))
    for split, frac in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        members = [s for s in subjects if sp[s] == split]
        assert abs(len(members) - 100 * frac) <= 2
        pos = np.mean([lab[s] for s in members])
        assert abs(pos - labels.mean()) < 0.06
    # Clip-level lists (subjects repeated) give one split per subject.
    clip_subjects = [s for s in subjects for _ in range(3)]
    assert make_splits(clip_subjects, np.repeat(labels, 3), seed=3) == sp


def test_make_splits_rejects_bad_input() -> None:
    with pytest.raises(DatasetError, match="fractions"):
        make_splits(["a", "b", "c"], [0, 1, 0], (0.5, 0.5, 0.5))
    with pytest.raises(DatasetError, match="labels"):
        make_splits(["a", "a", "b", "c"], [0, 1, 0, 1])
    with pytest.raises(DatasetError, match="cannot fill"):
        make_splits(["a", "b"], [0, 1])


def test_subject_leaks_lists_splits() -> None:
    assert subject_leaks(["a", "a", "b"], ["test", "train", "val"]) == {"a": ("train", "test")}


def test_write_index_refuses_overwrite_and_leaks(synth_dir, tmp_path) -> None:
    df = load_index(synth_dir)
    with pytest.raises(OutputExistsError):
        write_index(df, synth_dir / "index.csv")
    leaky = df.copy()
    leaky.loc[0, "split"] = "test" if leaky.loc[0, "split"] != "test" else "val"
    with pytest.raises(DatasetError):
        write_index(leaky, tmp_path / "leaky.csv")
    assert not (tmp_path / "leaky.csv").exists()


def test_real_layout_with_pkl_and_unknown_cobb(tmp_path) -> None:
    """A real dataset: Scoliosis1K-style .pkl pose files + the same index columns (Cobb may be empty)."""
    root = tmp_path / "real"
    (root / "pose").mkdir(parents=True)
    rng = np.random.default_rng(1)
    rows = []
    for i in range(6):
        arr = rng.uniform(0, 100, size=(40, 17, 3)).astype(np.float32)
        arr[..., 2] = 0.9
        with open(root / "pose" / f"{i:04d}.pkl", "wb") as f:
            pickle.dump(arr, f)
        rows.append(
            {
                "clip_id": f"{i:04d}",
                "path": f"pose/{i:04d}.pkl",
                "subject_id": f"{i:04d}",
                "cobb_angle": np.nan if i == 0 else 5.0 + 4 * i,
                "label": int(i >= 2),
                "split": ("train", "val", "test")[i % 3],
            }
        )
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    df = load_index(root / "index.csv")
    assert np.isnan(df["cobb_angle"].iloc[0])
    clip = read_index_clip(df.iloc[1])
    assert clip.pose.shape == (40, 17, 3) and clip.silhouettes is None
    assert len(split_frame(df, "val")) == 2
    with pytest.raises(DatasetError, match="unknown split"):
        split_frame(df, "dev")


def test_make_splits_with_order_spreads_every_split_over_the_range() -> None:
    rng = np.random.default_rng(2)
    subjects = [f"p{i}" for i in range(200)]
    cobb = rng.gamma(2.0, 8.0, size=200)
    labels = (cobb >= 10).astype(int)
    sp = make_splits(subjects, labels, (0.6, 0.2, 0.2), seed=1, order=cobb)
    assert sp == make_splits(subjects, labels, (0.6, 0.2, 0.2), seed=1, order=cobb)
    by = {
        s: np.array([c for x, c in zip(subjects, cobb, strict=True) if sp[x] == s])
        for s in ("train", "val", "test")
    }
    sizes = np.array([len(by[s]) for s in ("train", "val", "test")])
    assert np.abs(sizes - [120, 40, 40]).max() <= 1
    for s in ("val", "test"):
        assert abs(np.median(by[s]) - np.median(by["train"])) < 2.0
    with pytest.raises(DatasetError, match="order"):
        make_splits(subjects, labels, order=cobb[:10])
