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


def clip_mean_features(df: pd.DataFrame, progress: bool = False) -> np.ndarray:
    """``[n_clips, 238]`` float64: the time-mean of each clip's knowledge map."""
    from scoligait_edge.data.progress import track

    out = np.empty((len(df), 238), np.float64)
    for i, (_, row) in enumerate(track(df.iterrows(), len(df), "clip-mean knowledge maps", progress)):
        clip = read_index_clip(row)
        out[i] = knowledge_map(clip.pose, clip.fps).mean(axis=0, dtype=np.float64)
    return out


def baseline_auc(data_dir: str | os.PathLike, progress: bool = False, C: float = 0.01) -> dict[str, Any]:
    """Fit a standardised, L2-regularised (``C``) logistic regression on the train clips' mean maps.

    Reports the clip-level ROC AUC on train/val/test.

    Returns ``{"train_auc", "val_auc", "test_auc", "n_train", "n_val", "n_test", "in_range"}``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = load_index(data_dir)
    X = clip_mean_features(df, progress)
    y = df["label"].to_numpy()
    res: dict[str, Any] = {}
    masks = {s: (df["split"] == s).to_numpy() for s in ("train", "val", "test")}
    for s, m in masks.items():
        if len(np.unique(y[m])) < 2:
            raise DatasetError(
                f"split '{s}' holds only one class", "use more subjects so every split has both"
            )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
    model.fit(X[masks["train"]], y[masks["train"]])
    for s, m in masks.items():
        res[f"{s}_auc"] = float(roc_auc_score(y[m], model.predict_proba(X[m])[:, 1]))
        res[f"n_{s}"] = int(m.sum())
    lo, hi = TARGET_AUC
    res["in_range"] = bool(lo <= res["test_auc"] <= hi)
    return res
