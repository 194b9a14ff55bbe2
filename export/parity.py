"""Parity of an exported runner against the PyTorch reference (like Optimum's ``validate_model_outputs``).

Per output: max/mean absolute error and max error relative to the reference's range; on the
referral decision: agreement, max |Δprob|; with labels: AUC and F1 of both and their deltas.
Tolerances come from the target table; a failure raises :class:`ParityError` naming the output
and the amount (the report is attached as ``err.report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scoligait_edge.export.targets import Tolerance

from scoligait_edge.contract import INPUT_NAMES, OUTPUT_NAMES
from scoligait_edge.errors import ParityError, ShapeError
from scoligait_edge.runtime.base import Runner, concat_outputs, make_inputs

MAX_WINDOWS = 256  #: parity windows used at most (memory: silhouettes are 1.1 MB per window)
RANDOM_WINDOWS = 64


def run_batched(runner: Runner, inputs: Mapping[str, np.ndarray], batch: int = 32) -> dict[str, np.ndarray]:
    """Run ``runner`` over ``inputs`` in batches of ``batch`` windows."""
    n = len(inputs[INPUT_NAMES[0]])
    parts = [runner.run({k: inputs[k][s : s + batch] for k in INPUT_NAMES}) for s in range(0, n, batch)]
    return concat_outputs(parts)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def _f1(labels: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(labels, pred, zero_division=0))


def compare(
    ref: Mapping[str, np.ndarray],
    cand: Mapping[str, np.ndarray],
    threshold: float = 0.5,
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """Parity figures between two output dicts (no tolerance applied)."""
    outputs: dict[str, dict[str, float]] = {}
    for name in OUTPUT_NAMES:
        r, c = np.asarray(ref[name], np.float64), np.asarray(cand[name], np.float64)
        if r.shape != c.shape:
            raise ShapeError(
                f"output '{name}' has shape {c.shape}, reference {r.shape}", "re-export the bundle"
            )
        if not np.isfinite(c).all():
            outputs[name] = {"max_abs": float("inf"), "mean_abs": float("inf"), "max_rel": float("inf")}
            continue
        d = np.abs(r - c)
        span = float(np.max(np.abs(r))) if r.size else 0.0
        outputs[name] = {
            "max_abs": float(d.max()) if d.size else 0.0,
            "mean_abs": float(d.mean()) if d.size else 0.0,
            "max_rel": float(d.max() / span) if span > 0 else 0.0,
        }
        if name == "saliency" and d.size:  # maps sum to 1: TV = fraction of explanation mass moved
            tv = 0.5 * d.reshape(len(d), -1).sum(axis=1)
            outputs[name] |= {"tv_max": float(tv.max()), "tv_mean": float(tv.mean())}
    rp, cp = np.asarray(ref["referral_prob"]), np.asarray(cand["referral_prob"])
    rd, cd = rp >= threshold, cp >= threshold
    finite = np.isfinite(cp).all()
    rep: dict[str, Any] = {
        "windows": len(rp),
        "threshold": threshold,
        "outputs": outputs,
        "decision_agreement": float(np.mean(rd == cd)) if finite else 0.0,
        "max_abs_dprob": outputs["referral_prob"]["max_abs"],
        "referral_rate_reference": float(rd.mean()),
        "referral_rate_candidate": float(cd.mean()),
    }
    if labels is not None and finite:
        y = np.asarray(labels).astype(int)
        auc_r, auc_c = _auc(y, rp), _auc(y, cp)
        f1_r, f1_c = _f1(y, rd), _f1(y, cd)
        rep |= {
            "auc_reference": auc_r,
            "auc_candidate": auc_c,
            "auc_delta": None if auc_r is None or auc_c is None else auc_c - auc_r,
            "f1_reference": f1_r,
            "f1_candidate": f1_c,
            "f1_delta": f1_c - f1_r,
        }
    return rep


def check(report: dict[str, Any], tol: Tolerance) -> list[str]:
    """Tolerance violations as readable strings (empty = pass)."""
    bad = []
    for name, lim in tol.atol.items():
        got = report["outputs"][name]["max_abs"]
        if not got <= lim:
            bad.append(f"{name} max |Δ| {got:.3g} > {lim:g}")
    tv = report["outputs"]["saliency"].get("tv_max", float("inf"))
    if not tv <= tol.saliency_tv:
        bad.append(f"saliency total-variation distance {tv:.3g} > {tol.saliency_tv:g}")
    agree = report["decision_agreement"]
    if agree < tol.min_agreement:
        bad.append(f"decision agreement {agree:.1%} < {tol.min_agreement:.1%}")
    drop = report.get("auc_delta")
    if tol.max_auc_drop is not None and drop is not None and -drop > tol.max_auc_drop:
        bad.append(f"AUC drop {-drop:.4f} > {tol.max_auc_drop:g}")
    return bad


def validate(
    reference: Runner,
    candidate: Runner,
    data: Mapping[str, Any],
    tolerance: Tolerance,
    threshold: float = 0.5,
    label: str = "",
    raise_on_fail: bool = True,
) -> dict[str, Any]:
    """Run both runners on ``data`` (contract inputs + optional ``labels``); compare; enforce tolerance."""
    inputs = {k: np.asarray(data[k]) for k in INPUT_NAMES}
    ref = run_batched(reference, inputs)
    cand = run_batched(candidate, inputs)
    rep = compare(ref, cand, threshold, data.get("labels"))
    rep["data"] = str(data.get("source", "given arrays"))
    rep["tolerance"] = {
        "atol": tolerance.atol,
        "saliency_tv": tolerance.saliency_tv,
        "min_agreement": tolerance.min_agreement,
        "max_auc_drop": tolerance.max_auc_drop,
    }
    failures = check(rep, tolerance)
    rep["passed"] = not failures
    rep["failures"] = failures
    if failures and raise_on_fail:
        err = ParityError(
            f"{label or candidate.describe()} disagrees with the PyTorch reference: {'; '.join(failures)}",
            "try another --calib-method or a larger calibration set, or --no-validate to keep it anyway",
        )
        err.report = rep  # type: ignore[attr-defined]
        raise err
    return rep


def random_heldout(n: int = RANDOM_WINDOWS, seed: int = 1) -> dict[str, Any]:
    """Contract-shaped random windows (no labels): a last-resort parity set when no data exists."""
    return {**make_inputs(n, seed=seed), "source": f"random contract inputs (n={n}, seed={seed}, no labels)"}


def heldout_from_windows(
    ws: Any, max_windows: int = MAX_WINDOWS, source: str = "", seed: int = 0
) -> dict[str, Any]:
    """Held-out arrays from a WindowSet or dict (subsampled to ``max_windows``, labels kept)."""
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
