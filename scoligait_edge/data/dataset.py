"""Dataset index: clips with subject id, Cobb angle, label and a subject-disjoint split.

An index is a CSV (``index.csv``) beside the pose files; paths are relative to the
CSV's directory. Synthetic (``scoligait-edge synth``) and real datasets (a folder of
``.npz`` clips or Scoliosis1K-Pose ``.pkl`` files plus the same CSV) load the same way:

========== ======================================================================
column     meaning
========== ======================================================================
clip_id    unique clip identifier
path       pose file, relative to the index directory (``.npz`` or ``.pkl``)
subject_id the child; all clips of one child must share one split
cobb_angle degrees (may be empty for unlabelled-angle data)
label      1 = refer (Cobb ≥ 10°), 0 = not; must agree with ``cobb_angle``
split      ``train``, ``val`` or ``test``
n_frames   optional: frames in the clip
========== ======================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scoligait_edge.contract import REFERRAL_COBB_DEG
from scoligait_edge.errors import DatasetError, InputFileError
from scoligait_edge.fileio import atomic_path
from scoligait_edge.pose import POSE_SUFFIXES, Clip, read_clip

INDEX_NAME = "index.csv"
SPLITS = ("train", "val", "test")
REQUIRED_COLUMNS = ("clip_id", "path", "subject_id", "label", "split")
OPTIONAL_COLUMNS = ("cobb_angle", "n_frames")
COLUMNS = ("clip_id", "path", "subject_id", "cobb_angle", "label", "split", "n_frames")


def index_path(dir_or_csv: str | os.PathLike) -> Path:
    """The index CSV of a dataset directory (or the CSV itself)."""
    p = Path(dir_or_csv)
    return p / INDEX_NAME if p.is_dir() else p


def load_index(dir_or_csv: str | os.PathLike, check_files: bool = True) -> pd.DataFrame:
    """Read and validate a dataset index.

    Returns a DataFrame with the CSV's columns plus ``abs_path`` (resolved pose
    file); ``df.attrs["root"]`` is the index directory. Raises :class:`DatasetError`
    for a missing/malformed index, duplicate clip ids, bad splits or labels, a
    label that disagrees with its Cobb angle, or a subject found in more than one
    split; :class:`InputFileError` when a listed pose file is missing.
    """
    csv = index_path(dir_or_csv)
    if not csv.is_file():
        raise DatasetError(
            f"{csv}: no dataset index",
            f"give a dataset directory holding {INDEX_NAME} (make one with `synth`)",
        )
    try:
        df = pd.read_csv(
            csv, dtype={"clip_id": str, "subject_id": str, "path": str, "split": str, "view": str}
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DatasetError(
            f"{csv}: unreadable index ({type(e).__name__})", "write it as a UTF-8 CSV"
        ) from None
    validate_index(df, name=str(csv))
    root = csv.parent
    df["abs_path"] = [str((root / p).resolve()) for p in df["path"]]
    if check_files:
        missing = [p for p, a in zip(df["path"], df["abs_path"], strict=True) if not Path(a).is_file()]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise InputFileError(
                f"{csv}: {len(missing)} listed pose file(s) missing: {', '.join(missing[:3])}{more}",
                "restore the files or drop their rows from the index",
            )
    df.attrs["root"] = str(root)
    return df


def validate_index(df: pd.DataFrame, name: str = "index") -> None:
    """Check columns, values, label/Cobb agreement and subject-disjoint splits (in place)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(
            f"{name}: missing column(s) {', '.join(missing)}", f"an index needs {', '.join(REQUIRED_COLUMNS)}"
        )
    if len(df) == 0:
        raise DatasetError(f"{name}: the index lists no clips", "add at least one clip")
    for col in ("clip_id", "path", "subject_id", "split"):
        if df[col].isna().any():
            rows = np.flatnonzero(df[col].isna().to_numpy())[:3].tolist()
            raise DatasetError(f"{name}: empty {col} in row(s) {rows}", f"fill in every {col}")
    dup = df["clip_id"][df["clip_id"].duplicated()].unique().tolist()
    if dup:
        raise DatasetError(f"{name}: duplicate clip_id {dup[:3]}", "give every clip a unique id")
    bad_split = sorted(set(df["split"]) - set(SPLITS))
    if bad_split:
        raise DatasetError(f"{name}: unknown split(s) {bad_split}", f"use only {', '.join(SPLITS)}")
    labels = pd.to_numeric(df["label"], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        raise DatasetError(
            f"{name}: label must be 0 or 1, got {df['label'][bad].head(3).tolist()}",
            "label = 1 when the Cobb angle is at least 10°",
        )
    df["label"] = labels.astype(np.int64)
    if "cobb_angle" in df.columns:
        cobb = pd.to_numeric(df["cobb_angle"], errors="coerce")
        if (df["cobb_angle"].notna() & cobb.isna()).any() or (cobb < 0).any() or np.isinf(cobb).any():
            raise DatasetError(
                f"{name}: cobb_angle must be a non-negative number of degrees", "fix the values"
            )
        df["cobb_angle"] = cobb.astype(np.float64)
        known = cobb.notna()
        wrong = known & ((cobb >= REFERRAL_COBB_DEG).astype(np.int64) != df["label"])
        if wrong.any():
            ex = df.loc[wrong, ["clip_id", "cobb_angle", "label"]].head(3).to_dict("records")
            raise DatasetError(
                f"{name}: label disagrees with cobb_angle for {int(wrong.sum())} clip(s), e.g. {ex}",
                f"label must be 1 exactly when cobb_angle >= {REFERRAL_COBB_DEG:g}",
            )
    leaks = subject_leaks(df["subject_id"], df["split"])
    if leaks:
        shown = "; ".join(f"{s} in {'+'.join(sp)}" for s, sp in list(leaks.items())[:5])
        more = f" (and {len(leaks) - 5} more)" if len(leaks) > 5 else ""
        raise DatasetError(
            f"{name}: {len(leaks)} subject(s) appear in more than one split: {shown}{more}",
            "splits must be subject-disjoint; put every clip of a subject in one split (see make_splits)",
        )
    per_subject = df.groupby("subject_id")["label"].nunique()
    mixed = per_subject[per_subject > 1].index.tolist()
    if mixed:
        raise DatasetError(
            f"{name}: subject(s) {mixed[:5]} have clips with different labels", "one label per child"
        )


def subject_leaks(subjects: Iterable[str], splits: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Subjects that occur in more than one split, with those splits (in ``SPLITS`` order)."""
    seen: dict[str, set[str]] = {}
    for s, sp in zip(subjects, splits, strict=True):
        seen.setdefault(str(s), set()).add(str(sp))
    order = {s: i for i, s in enumerate(SPLITS)}
    return {
        s: tuple(sorted(sp, key=lambda x: order.get(x, 99))) for s, sp in sorted(seen.items()) if len(sp) > 1
    }


def make_splits(
    subjects: Sequence[str],
    labels: Sequence[int],
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    order: Sequence[float] | None = None,
) -> dict[str, str]:
    """Subject-disjoint, label-stratified split: ``{subject_id: "train" | "val" | "test"}``.

    ``subjects``/``labels`` (and ``order``) may list a subject several times (e.g.
    once per clip); its labels must agree. Within each label the split sizes follow
    ``fractions`` (largest remainder; every split gets a subject of a class with
    three or more). With ``order`` (e.g. the Cobb angle) the subjects of a label
    are sorted by it, shuffled only within blocks of neighbours, and dealt to the
    splits in an even interleave, so every split spans the same range of ``order``
    (finer stratification: fewer lucky or unlucky test sets). Without it they are
    shuffled. Deterministic for a given ``seed``.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise DatasetError(
            f"split fractions {tuple(fractions)} must be 3 non-negative numbers summing to 1",
            "e.g. 0.6 0.2 0.2",
        )
    subjects, labels = list(subjects), list(labels)
    keys = list(order) if order is not None else [0.0] * len(subjects)
    if not len(subjects) == len(labels) == len(keys):
        raise DatasetError(
            f"{len(subjects)} subjects but {len(labels)} labels / {len(keys)} order values",
            "give one label (and order value) per subject entry",
        )
    lab: dict[str, int] = {}
    key: dict[str, float] = {}
    for s, y, k in zip(subjects, labels, keys, strict=True):
        s, y = str(s), int(y)
        if lab.setdefault(s, y) != y:
            raise DatasetError(f"subject {s} has clips with labels {lab[s]} and {y}", "one label per child")
        key.setdefault(s, float(k))
    if len(lab) < 3:
        raise DatasetError(f"{len(lab)} subject(s) cannot fill train/val/test", "use at least 3 subjects")
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for y in sorted(set(lab.values())):
        group = sorted(s for s, v in lab.items() if v == y)
        group = [group[i] for i in rng.permutation(len(group))]
        counts = np.asarray(_allocate(len(group), fr), dtype=np.float64)
        if order is not None:
            group.sort(key=lambda s: key[s])  # stable: ties keep the shuffled order
            block = max(1, round(1.0 / counts[counts > 0].min() * len(group)))
            group = [s for b in range(0, len(group), block) for s in rng.permutation(group[b : b + block])]
        quota = counts / len(group)
        dealt = np.zeros(3)
        for i, s in enumerate(group):
            room = dealt < counts
            k = int(np.argmax(np.where(room, quota * (i + 1) - dealt, -np.inf)))
            dealt[k] += 1
            out[s] = SPLITS[k]
    return out


def _allocate(n: int, fr: np.ndarray) -> list[int]:
    """Largest-remainder counts for ``n`` items; each non-zero fraction gets ≥ 1 item when ``n`` allows."""
    raw = fr * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    if n >= int((fr > 0).sum()):
        for i in np.flatnonzero((fr > 0) & (counts == 0)):
            counts[i] += 1
            counts[int(np.argmax(counts))] -= 1
    return counts.tolist()


def write_index(df: pd.DataFrame, path: str | os.PathLike, force: bool = False) -> Path:
    """Validate and write an index CSV atomically (standard columns first)."""
    validate_index(df.copy(), name=str(path))
    cols = [c for c in COLUMNS if c in df.columns] + [
        c for c in df.columns if c not in COLUMNS and c != "abs_path"
    ]
    with atomic_path(path, force=force) as tmp:
        df[cols].to_csv(tmp, index=False)
    return Path(path)


def split_frame(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Rows of one split (raises :class:`DatasetError` for an unknown or empty split)."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split '{split}'", f"use one of {', '.join(SPLITS)}")
    part = df[df["split"] == split]
    if part.empty:
        raise DatasetError(f"split '{split}' has no clips", "re-split the dataset with more subjects")
    return part


def read_index_clip(row: pd.Series) -> Clip:
    """Read the pose file of one index row (``.npz`` clip or Scoliosis1K ``.pkl``)."""
    path = Path(row["abs_path"])
    if path.suffix.lower() not in POSE_SUFFIXES:
        raise InputFileError(f"{path}: unsupported pose file", f"index only {', '.join(POSE_SUFFIXES)} files")
    return read_clip(path)
