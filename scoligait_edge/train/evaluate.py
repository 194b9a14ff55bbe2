"""Evaluation: clip-level referral metrics (the paper's Table 2 layout) with a validation-chosen threshold.

Clip-level scores average the window probabilities (and Cobb predictions) of each clip;
a clip's label is its subject's label. The decision threshold maximises Youden's J
(sensitivity + specificity − 1) on the **validation** split and is then applied unchanged
to the split being evaluated — it is never tuned on test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score, precision_recall_fscore_support, roc_auc_score

from scoligait_edge.errors import DatasetError
from scoligait_edge.models.base import ScoliGaitModel
from scoligait_edge.train.batches import SPLITS, DataSource, batches, get_windows

CLASS_NAMES = ("negative", "positive")  #: Cobb < 10° / Cobb ≥ 10° (refer)


@torch.no_grad()
def predict_windows(model: ScoliGaitModel, ws: Any, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Window-level ``prob``, ``logit``, ``cobb`` predictions in window order."""
    hi = int(np.max(ws.prompt_id))
    if hi >= model.cfg.n_prompts:
        raise DatasetError(
            f"prompt_id {hi} is outside the model's {model.cfg.n_prompts}-prompt table",
            "use a model trained with this dataset's prompt set",
        )
    model.eval()
    probs, logits, cobbs = [], [], []
    for b in batches(ws, batch_size, shuffle=False):
        out = model(b.kmap, b.silhouette, b.prompt_id)
        probs.append(out["referral_prob"].numpy())
        logits.append(out["referral_logit"].numpy())
        cobbs.append(out["cobb_angle"].numpy())
    return {"prob": np.concatenate(probs), "logit": np.concatenate(logits), "cobb": np.concatenate(cobbs)}


def clip_level(ws: Any, pred: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Average window predictions per clip (clips in first-seen order)."""
    clip_ids = np.asarray(ws.clip_id)
    uniq, first, inv = np.unique(clip_ids, return_index=True, return_inverse=True)
    order = np.argsort(first)
    counts = np.bincount(inv, minlength=len(uniq)).astype(np.float64)

    def avg(v: np.ndarray) -> np.ndarray:
        return (np.bincount(inv, weights=np.asarray(v, np.float64), minlength=len(uniq)) / counts)[order]

    return {
        "clip_id": uniq[order],
        "prob": avg(pred["prob"]),
        "cobb_pred": avg(pred["cobb"]),
        "label": np.asarray(ws.label)[first][order].astype(int),
        "cobb": np.asarray(ws.cobb, np.float64)[first][order],
        "subject_id": np.asarray(ws.subject_id)[first][order],
    }


def choose_threshold(labels: np.ndarray, probs: np.ndarray, sensitivity: float = 0.0) -> float:
    """The decision threshold on ``probs``; 0.5 when only one class is present.

    ``sensitivity`` 0: maximise Youden's J over midpoints between scores (ties go to the one closest
    to 0.5). Otherwise a screening operating point: the highest threshold that refers at least that
    fraction of the positives, placed midway to the next lower score so it is not on a sample.
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, np.float64)
    if labels.min() == labels.max():
        return 0.5
    if sensitivity:
        if not 0.0 < sensitivity <= 1.0:
            raise ValueError(f"sensitivity {sensitivity} must lie in (0, 1]")
        pos = np.sort(probs[labels == 1])[::-1]
        t = pos[int(np.ceil(sensitivity * len(pos) - 1e-9)) - 1]
        below = probs[probs < t]
        return float((t + below.max()) / 2) if below.size else float(t)
    u = np.unique(probs)
    cands = np.unique(np.concatenate([(u[:-1] + u[1:]) / 2, [0.5, u[0], u[-1] + 1e-6]]))
    pos, neg = labels == 1, labels == 0
    best, best_t = -np.inf, 0.5
    for t in cands:
        pred = probs >= t
        j = pred[pos].mean() + (~pred[neg]).mean() - 1.0
        if j > best + 1e-12 or (abs(j - best) <= 1e-12 and abs(t - 0.5) < abs(best_t - 0.5)):
            best, best_t = j, float(t)
    return best_t


def metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, Any]:
    """Acc, macro F1, per-class P/R/F1, AUC, sensitivity, specificity at ``threshold``."""
    labels = np.asarray(labels).astype(int)
    pred = (np.asarray(probs) >= threshold).astype(int)
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=[0, 1], zero_division=0)
    both = labels.min() != labels.max()
    tp = int(((pred == 1) & (labels == 1)).sum())
    tn = int(((pred == 0) & (labels == 0)).sum())
    return {
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1_score(labels, pred, labels=[0, 1], average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(CLASS_NAMES)
        },
        "auc": float(roc_auc_score(labels, probs)) if both else float("nan"),
        "sensitivity": tp / max(int((labels == 1).sum()), 1),
        "specificity": tn / max(int((labels == 0).sum()), 1),
    }


def evaluate(
    model: ScoliGaitModel,
    data: DataSource,
    split: str = "test",
    threshold: float | None = None,
    batch_size: int = 64,
    sensitivity: float = 0.0,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``split`` at clip level; the threshold comes from the val split
    (`choose_threshold`: Youden's J, or the operating point of val ``sensitivity``)."""
    source = "given"
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    if threshold is None:
        val = get_windows(data, "val")
        vc = clip_level(val, predict_windows(model, val, batch_size))
        threshold, source = choose_threshold(vc["label"], vc["prob"], sensitivity), "val"
    ws = get_windows(data, split)
    wp = predict_windows(model, ws, batch_size)
    c = clip_level(ws, wp)
    out: dict[str, Any] = {
        "split": split,
        "level": "clip (mean of window probabilities)",
        "threshold": float(threshold),
        "threshold_source": source,
        "n_windows": len(wp["prob"]),
        "n_clips": len(c["prob"]),
        "n_subjects": len(np.unique(c["subject_id"])),
        **metrics(c["label"], c["prob"], threshold),
        "cobb_mae": float(np.nanmean(np.abs(c["cobb_pred"] - c["cobb"])))
        if np.isfinite(c["cobb"]).any()
        else float("nan"),
        "window_auc": metrics(np.asarray(ws.label), wp["prob"], threshold)["auc"],
    }
    return out


def table2_rows(name: str, m: dict[str, Any]) -> dict[str, str]:
    """One row of the paper's Table 2: Acc, F1 (macro), per-class P/R/F1, plus AUC/Sens/Spec/MAE."""
    pc = m["per_class"]
    row = {"Model": name, "Acc": f"{100 * m['accuracy']:.1f}", "F1": f"{100 * m['macro_f1']:.1f}"}
    for cls in ("positive", "negative"):
        row[f"{cls[:3].title()} P"] = f"{100 * pc[cls]['precision']:.1f}"
        row[f"{cls[:3].title()} R"] = f"{100 * pc[cls]['recall']:.1f}"
        row[f"{cls[:3].title()} F1"] = f"{100 * pc[cls]['f1']:.1f}"
    row.update(
        {
            "AUC": f"{m['auc']:.3f}",
            "Sens": f"{100 * m['sensitivity']:.1f}",
            "Spec": f"{100 * m['specificity']:.1f}",
            "Cobb MAE": f"{m['cobb_mae']:.2f}",
        }
    )
    return row


def markdown_table(rows: list[dict[str, str]]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
    return "\n".join(lines)
