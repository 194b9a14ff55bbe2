"""Difficulty baseline: logistic regression on the clip-mean knowledge map.

ScoliGait-Synth is tuned so this baseline lands at a test AUC of 0.65–0.85: far
from chance (the asymmetries are real) and far from perfect (confounders, noise,
subject variability), so later parity numbers between teacher, student and INT8
artifacts mean something.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from scoligait_edge.data.dataset import load_index, read_index_clip
from scoligait_edge.errors import DatasetError
from scoligait_edge.kmap import knowledge_map

TARGET_AUC = (0.65, 0.85)


def clip_mean_features(df: pd.DataFrame, progress: bool | None = None) -> np.ndarray:
    """``[n_clips, 238]`` float64: the time-mean of each clip's knowledge map."""
    from scoligait_edge.data.progress import track

    out = np.empty((len(df), 238), np.float64)
    for i, (_, row) in enumerate(track(df.iterrows(), len(df), "clip-mean knowledge maps", progress)):
        clip = read_index_clip(row)
        out[i] = knowledge_map(clip.pose, clip.fps).mean(axis=0, dtype=np.float64)
    return out


def _model(C: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))


def split_masks(df: pd.DataFrame, y: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean row masks of the train/val/test splits; `DatasetError` when one holds a single class."""
    masks = {s: (df["split"] == s).to_numpy() for s in ("train", "val", "test")}
    for s, m in masks.items():
        if len(np.unique(y[m])) < 2:
            raise DatasetError(
                f"split '{s}' holds only one class", "use more subjects so every split has both"
            )
    return masks


def baseline_auc(
    data_dir: str | os.PathLike, progress: bool | None = None, C: float = 0.01, resplits: int = 5
) -> dict[str, Any]:
    """Fit a standardised, L2-regularised (``C``) logistic regression on the train clips' mean maps.

    Reports the clip-level ROC AUC on the index's train/val/test splits, and — because
    a test split of a few dozen children gives a noisy AUC (sd ≈ 0.05–0.08) — the mean
    and sd over ``resplits`` subject-grouped, label-stratified folds of all clips
    (``cv_auc_mean``, ``cv_auc_sd``; skipped when ``resplits`` < 2).

    Returns ``{"train_auc", "val_auc", "test_auc", "n_train", "n_val", "n_test",
    "cv_auc_mean", "cv_auc_sd", "in_range"}`` (``in_range``: test AUC in :data:`TARGET_AUC`).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    df = load_index(data_dir)
    X = clip_mean_features(df, progress)
    y = df["label"].to_numpy()
    res: dict[str, Any] = {}
    masks = split_masks(df, y)
    model = _model(C).fit(X[masks["train"]], y[masks["train"]])
    for s, m in masks.items():
        res[f"{s}_auc"] = float(roc_auc_score(y[m], model.predict_proba(X[m])[:, 1]))
        res[f"n_{s}"] = int(m.sum())
    aucs: list[float] = []
    groups = df["subject_id"].to_numpy()
    n_pos, n_neg = (len(set(groups[y == c])) for c in (1, 0))
    if resplits >= 2 and min(n_pos, n_neg) >= resplits:
        folds = StratifiedGroupKFold(n_splits=resplits, shuffle=True, random_state=0)
        for tr, te in folds.split(X, y, groups):
            if len(np.unique(y[te])) == 2:
                fold_model = _model(C).fit(X[tr], y[tr])
                aucs.append(float(roc_auc_score(y[te], fold_model.predict_proba(X[te])[:, 1])))
    res["cv_auc_mean"] = float(np.mean(aucs)) if aucs else float("nan")
    res["cv_auc_sd"] = float(np.std(aucs)) if aucs else float("nan")
    lo, hi = TARGET_AUC
    res["in_range"] = bool(lo <= res["test_auc"] <= hi)
    return res


#: the subject-level surface asymmetries the generator draws (what the pose and silhouettes show)
LATENT_SIGNS = (
    "shoulder_tilt",
    "pelvic_tilt",
    "trunk_shift",
    "trunk_lean",
    "arm_swing",
    "arm_abd",
    "head_offset",
    "trunk_rot",
    "rib_hump",
)


def latent_ceiling(seed: int = 2026, subjects: int = 6000, test_frac: float = 0.3) -> dict[str, Any]:
    """Test AUC of classifiers that see each subject's *true* asymmetries, not rendered clips.

    Draws ``subjects`` children of dataset ``seed`` (no rendering: seconds) and fits, on a
    subject split, a logistic regression and gradient-boosted trees on the generator's latent
    signs (`LATENT_SIGNS`), with and without the silhouette-only rib hump. A model that reads
    clips cannot beat this ceiling (2-D pose noise, views and confounders only remove
    information), so the gap between it and a trained teacher is the headroom distillation
    experiments have to work with.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from scoligait_edge.data.synth import sample_subject

    if subjects < 100 or not 0.1 <= test_frac <= 0.5:
        raise DatasetError(
            f"{subjects} subjects / test fraction {test_frac} cannot give a stable AUC",
            "use ≥ 100 subjects and a test fraction in [0.1, 0.5]",
        )
    people = [sample_subject(seed, i) for i in range(subjects)]
    X = np.array([[p.asym[k] for k in LATENT_SIGNS] for p in people])
    y = np.array([p.label for p in people])
    n_test = round(test_frac * subjects)
    tr, te = slice(0, subjects - n_test), slice(subjects - n_test, None)
    out: dict[str, Any] = {"seed": seed, "subjects": subjects, "n_test": n_test}
    views = {"all": slice(None), "no_rib_hump": slice(0, -1), "rib_hump_only": slice(-1, None)}
    for name, cols in views.items():
        for kind, model in (
            ("logistic", LogisticRegression(max_iter=5000)),
            ("trees", HistGradientBoostingClassifier(random_state=0)),
        ):
            model.fit(X[tr, cols], y[tr])
            out[f"{kind}_{name}_auc"] = float(roc_auc_score(y[te], model.predict_proba(X[te, cols])[:, 1]))
    return out


def asymmetry_profile(silhouettes: np.ndarray) -> np.ndarray:
    """``[H]`` float64: per image row, left-half minus mirrored right-half mass of the clip-mean
    silhouette (``[T, H, W]`` uint8 or float). A mirrored clip gives the negated profile."""
    a = np.asarray(silhouettes)
    m = a.mean(axis=0, dtype=np.float64) / (255.0 if a.dtype == np.uint8 else 1.0)
    half = m.shape[1] // 2
    return m[:, :half].sum(axis=1) - m[:, ::-1][:, :half].sum(axis=1)


def silhouette_probe(data_dir: str | os.PathLike, progress: bool | None = None) -> dict[str, Any]:
    """How much the silhouettes alone say: gradient-boosted trees on each clip's `asymmetry_profile`.

    Fitted on the train split, scored (clip-level ROC AUC) on val and test; a logistic regression on
    the profile's magnitude is the linear reference. A teacher whose video branch cannot match this
    probe is leaving silhouette evidence unread (``docs/models.md``, "Why the teacher …").
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from scoligait_edge.data.progress import track

    df = load_index(data_dir)
    rows = []
    for _, row in track(df.iterrows(), len(df), "clip asymmetry profiles", progress):
        sil = read_index_clip(row).silhouettes
        if sil is None:
            raise DatasetError(f"{row['path']}: no silhouettes", "the probe needs clips with silhouettes")
        rows.append(asymmetry_profile(sil))
    X = np.stack(rows)
    y = df["label"].to_numpy()
    masks = split_masks(df, y)
    trees = HistGradientBoostingClassifier(random_state=0, max_iter=300, learning_rate=0.05)
    linear = _model(0.1)
    trees.fit(X[masks["train"]], y[masks["train"]])
    linear.fit(np.abs(X[masks["train"]]), y[masks["train"]])
    out: dict[str, Any] = {"n_clips": len(df)}
    for s in ("val", "test"):
        m = masks[s]
        out[f"trees_{s}_auc"] = float(roc_auc_score(y[m], trees.predict_proba(X[m])[:, 1]))
        out[f"logistic_abs_{s}_auc"] = float(roc_auc_score(y[m], linear.predict_proba(np.abs(X[m]))[:, 1]))
    return out
