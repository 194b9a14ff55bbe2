"""Parity of a row's referral probabilities against a reference (teacher or FP32 student)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Export goals (issue 5): an artifact must agree with the FP32 student on ≥ 99 % of decisions
#: and lose ≤ 0.005 AUC. ``max_abs_dprob`` ceilings per precision when the target table has none.
DEFAULT_FLOORS_VS_STUDENT = {"agreement_min": 0.99, "auc_delta_min": -0.005}
DEFAULT_MAX_DPROB = {"fp32": 1e-3, "fp16": 1e-2, "bf16": 2e-2, "int8": 0.1}


def parity_metrics(
    prob: np.ndarray,
    ref_prob: np.ndarray,
    labels: np.ndarray | None = None,
    threshold: float = 0.5,
    ref_threshold: float | None = None,
) -> dict[str, Any]:
    """Decision agreement, max |Δprob| and (with labels) AUC/F1 of ``prob`` minus those of ``ref_prob``."""
    p = np.asarray(prob, dtype=np.float64).reshape(-1)
    r = np.asarray(ref_prob, dtype=np.float64).reshape(-1)
    if p.shape != r.shape:
        raise ValueError(f"parity: {p.shape} probabilities vs {r.shape} reference")
    rt = threshold if ref_threshold is None else ref_threshold
    dec, ref_dec = p >= threshold, r >= rt
    out: dict[str, Any] = {
        "n": int(p.size),
        "agreement": float(np.mean(dec == ref_dec)) if p.size else math.nan,
        "max_abs_dprob": float(np.max(np.abs(p - r))) if p.size else math.nan,
        "mean_abs_dprob": float(np.mean(np.abs(p - r))) if p.size else math.nan,
        "auc": None,
        "auc_ref": None,
        "auc_delta": None,
        "f1": None,
        "f1_ref": None,
        "f1_delta": None,
    }
    if not np.all(np.isfinite(p)):
        out["agreement"] = 0.0
        out["max_abs_dprob"] = math.inf
        out["nonfinite"] = int(np.sum(~np.isfinite(p)))
        return out
    if labels is not None:
        y = np.asarray(labels).reshape(-1).astype(int)
        if y.shape == p.shape and len(np.unique(y)) == 2:
            from sklearn.metrics import f1_score, roc_auc_score

            out["auc"] = float(roc_auc_score(y, p))
            out["auc_ref"] = float(roc_auc_score(y, r))
            out["auc_delta"] = out["auc"] - out["auc_ref"]
            out["f1"] = float(f1_score(y, dec, zero_division=0))
            out["f1_ref"] = float(f1_score(y, ref_dec, zero_division=0))
            out["f1_delta"] = out["f1"] - out["f1_ref"]
    return out


def floors_for(precision: str, tolerance: dict[str, float] | None = None) -> dict[str, float]:
    """Floors an exported student must meet against the FP32 student (target table wins)."""
    f = dict(DEFAULT_FLOORS_VS_STUDENT)
    f["max_abs_dprob_max"] = DEFAULT_MAX_DPROB.get(precision, 0.1)
    for key, val in (tolerance or {}).items():
        if key in ("agreement", "agreement_min", "min_agreement"):
            f["agreement_min"] = float(val)
        elif key in ("auc_drop", "max_auc_drop"):
            f["auc_delta_min"] = -abs(float(val))
        elif key in ("auc_delta_min",):
            f["auc_delta_min"] = float(val)
        elif key in ("prob", "max_prob", "max_abs_dprob", "max_abs_dprob_max", "prob_atol"):
            f["max_abs_dprob_max"] = float(val)
    return f


def check_floors(metrics: dict[str, Any], floors: dict[str, float]) -> list[str]:
    """Human-readable violations of ``floors`` by ``metrics`` (empty list = within floors)."""
    bad: list[str] = []
    agr = metrics.get("agreement")
    if "agreement_min" in floors and agr is not None and agr < floors["agreement_min"] - 1e-12:
        bad.append(f"agreement {agr:.2%} < {floors['agreement_min']:.2%}")
    auc = metrics.get("auc_delta")
    if "auc_delta_min" in floors and auc is not None and auc < floors["auc_delta_min"] - 1e-12:
        bad.append(f"AUC Δ {auc:+.4f} < {floors['auc_delta_min']:+.4f}")
    f1 = metrics.get("f1_delta")
    if "f1_delta_min" in floors and f1 is not None and f1 < floors["f1_delta_min"] - 1e-12:
        bad.append(f"F1 Δ {f1:+.4f} < {floors['f1_delta_min']:+.4f}")
    dp = metrics.get("max_abs_dprob")
    if "max_abs_dprob_max" in floors and dp is not None and not dp <= floors["max_abs_dprob_max"] + 1e-12:
        bad.append(f"max |Δprob| {dp:.3g} > {floors['max_abs_dprob_max']:.3g}")
    return bad
