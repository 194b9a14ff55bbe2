"""THE parity module: how close an artifact's outputs are to a reference, and whether that passes.

Export (``export_model``), ``verify`` and its device lanes, the golden-vector self-test,
``bench`` and ``screen`` all call this module, with the tolerances of the target table
(:data:`scoligait_edge.export.targets.TARGETS`), so an artifact never passes in one command and
fails in another. Needs numpy only (scikit-learn, lazily, when labels are given for AUC/F1).

- :func:`compare` → figures per output (max/mean |Δ|, relative error; total-variation distance of
  saliency maps, which sum to 1), decision agreement, max |Δprob|, AUC/F1 deltas with labels.
- :func:`check` → the violations of a :class:`Tolerance` as readable strings.
- :func:`evaluate` → run a reference and a candidate runner on the same windows and do both.
- :data:`KERNEL_TOL` → how far a machine's integer kernels may sit from the CPU-independent
  evaluation of the same quantized graph (Q/DQ as float ops). Correct kernels stay within a few
  hundredths of a logit; int16 saturation (U8S8 on CPUs without VNNI) moves logits by whole units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scoligait_edge.contract import INPUT_NAMES
from scoligait_edge.errors import ParityError, ShapeError

SCALAR_OUTPUTS = ("referral_logit", "referral_prob", "cobb_angle")


@dataclass(frozen=True)
class Tolerance:
    """Parity tolerances of one (target, precision) against its reference.

    ``atol``: max absolute error allowed per scalar output. ``saliency_tv``: max total-variation
    distance between reference and candidate saliency maps of any window (each map sums to 1, so
    this is the largest fraction of explanation mass moved). ``min_agreement``: minimum fraction of
    identical referral decisions. ``max_auc_drop``: largest AUC drop allowed when labels are known.
    """

    atol: dict[str, float]
    saliency_tv: float
    min_agreement: float
    max_auc_drop: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tolerance:
        return cls(
            atol={k: float(v) for k, v in d["atol"].items()},
            saliency_tv=float(d["saliency_tv"]),
            min_agreement=float(d["min_agreement"]),
            max_auc_drop=None if d.get("max_auc_drop") is None else float(d["max_auc_drop"]),
        )


def tolerance(
    logit: float, prob: float, cobb: float, sal_tv: float, agree: float, auc: float | None
) -> Tolerance:
    return Tolerance(
        atol={"referral_logit": logit, "referral_prob": prob, "cobb_angle": cobb},
        saliency_tv=sal_tv,
        min_agreement=agree,
        max_auc_drop=auc,
    )


#: This machine's integer kernels vs the CPU-independent evaluation of the same quantized graph.
KERNEL_TOL = tolerance(0.25, 0.05, 1.0, 0.05, 0.95, None)


# ------------------------------------------------------------------------------------ figures ---


def saliency_keys(outputs: Mapping[str, Any]) -> list[str]:
    """Output keys holding attention maps that sum to 1 per window (full map or its marginals)."""
    return [k for k in outputs if k.startswith("saliency")]


def saliency_marginals(saliency: np.ndarray) -> dict[str, np.ndarray]:
    """A ``[n, 96, 238]`` saliency map as its feature and time marginals (each sums to 1)."""
    s = np.asarray(saliency, dtype=np.float64)
    return {"saliency_features": s.sum(axis=1), "saliency_time": s.sum(axis=2)}


def compare(
    ref: Mapping[str, np.ndarray],
    cand: Mapping[str, np.ndarray],
    threshold: float = 0.5,
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """Parity figures between two output dicts (no tolerance applied).

    Compares every scalar output and every saliency-like output present in ``ref``.
    """
    outputs: dict[str, dict[str, float]] = {}
    for name in [n for n in SCALAR_OUTPUTS if n in ref] + saliency_keys(ref):
        if name not in cand:
            raise ShapeError(f"candidate outputs lack '{name}'", "re-export the bundle")
        r, c = np.asarray(ref[name], np.float64), np.asarray(cand[name], np.float64)
        if r.shape != c.shape:
            raise ShapeError(
                f"output '{name}' has shape {c.shape}, reference {r.shape}", "re-export the bundle"
            )
        if not np.isfinite(c).all():
            inf = float("inf")
            outputs[name] = {"max_abs": inf, "mean_abs": inf, "max_rel": inf}
            if name.startswith("saliency"):
                outputs[name] |= {"tv_max": inf, "tv_mean": inf}
            continue
        d = np.abs(r - c)
        span = float(np.max(np.abs(r))) if r.size else 0.0
        outputs[name] = {
            "max_abs": float(d.max()) if d.size else 0.0,
            "mean_abs": float(d.mean()) if d.size else 0.0,
            "max_rel": float(d.max() / span) if span > 0 else 0.0,
        }
        if name.startswith("saliency") and d.size:  # maps sum to 1: TV = explanation mass moved
            tv = 0.5 * d.reshape(len(d), -1).sum(axis=1)
            outputs[name] |= {"tv_max": float(tv.max()), "tv_mean": float(tv.mean())}
    rp, cp = np.asarray(ref["referral_prob"]), np.asarray(cand["referral_prob"])
    rd, cd = rp >= threshold, cp >= threshold
    finite = bool(np.isfinite(cp).all())
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
        rep |= label_metrics(np.asarray(labels), rp, cp, threshold)
    return rep


def label_metrics(
    labels: np.ndarray, ref_prob: np.ndarray, prob: np.ndarray, threshold: float
) -> dict[str, Any]:
    """AUC and F1 of the candidate and the reference, and their deltas (``None`` for one class)."""
    from sklearn.metrics import f1_score, roc_auc_score

    y = np.asarray(labels).reshape(-1).astype(int)
    r, p = np.asarray(ref_prob, np.float64).reshape(-1), np.asarray(prob, np.float64).reshape(-1)
    one_class = len(np.unique(y)) < 2
    auc_r = None if one_class else float(roc_auc_score(y, r))
    auc_c = None if one_class else float(roc_auc_score(y, p))
    f1_r = float(f1_score(y, r >= threshold, zero_division=0))
    f1_c = float(f1_score(y, p >= threshold, zero_division=0))
    return {
        "auc_reference": auc_r,
        "auc_candidate": auc_c,
        "auc_delta": None if auc_r is None or auc_c is None else auc_c - auc_r,
        "f1_reference": f1_r,
        "f1_candidate": f1_c,
        "f1_delta": f1_c - f1_r,
    }


def check(report: Mapping[str, Any], tol: Tolerance) -> list[str]:
    """Tolerance violations as readable strings (empty = pass)."""
    bad = []
    outs = report["outputs"]
    for name, lim in tol.atol.items():
        if name not in outs:
            continue
        got = outs[name]["max_abs"]
        if not got <= lim:
            bad.append(f"{name} max |Δ| {got:.3g} > {lim:g}")
    tvs = [outs[k].get("tv_max", float("inf")) for k in outs if k.startswith("saliency")]
    if tvs and not max(tvs) <= tol.saliency_tv:
        bad.append(f"saliency total-variation distance {max(tvs):.3g} > {tol.saliency_tv:g}")
    agree = report["decision_agreement"]
    if agree < tol.min_agreement:
        bad.append(f"decision agreement {agree:.1%} < {tol.min_agreement:.1%}")
    drop = report.get("auc_delta")
    if tol.max_auc_drop is not None and drop is not None and -drop > tol.max_auc_drop:
        bad.append(f"AUC drop {-drop:.4f} > {tol.max_auc_drop:g}")
    return bad


def summary(rep: Mapping[str, Any]) -> str:
    """One line of a check: agreement, |Δprob|, |Δlogit|, saliency TV, AUC Δ, PASS/FAIL (or why skipped)."""
    if "skipped" in rep:
        return f"skipped: {rep['skipped']}"
    o = rep["outputs"]
    tv = max((o[k].get("tv_max", 0.0) for k in o if k.startswith("saliency")), default=0.0)
    auc = f", AUC Δ {rep['auc_delta']:+.4f}" if rep.get("auc_delta") is not None else ""
    where = f" [{rep['device_class']}]" if rep.get("device_class") else ""
    return (
        f"agreement {rep['decision_agreement']:.1%}, max |Δprob| {rep['max_abs_dprob']:.2e}, "
        f"max |Δlogit| {o['referral_logit']['max_abs']:.2e}, saliency TV {tv:.2e}{auc} — "
        f"{'PASS' if rep['passed'] else 'FAIL'}{where}"
    )


def judged(report: dict[str, Any], tol: Tolerance, **context: Any) -> dict[str, Any]:
    """``report`` with its tolerance, ``passed`` and ``failures`` attached (and any context keys)."""
    failures = check(report, tol)
    return {**report, **context, "tolerance": tol.as_dict(), "passed": not failures, "failures": failures}


# ---------------------------------------------------------------------------------- runners ---


def run_batched(runner: Any, inputs: Mapping[str, np.ndarray], batch: int = 32) -> dict[str, np.ndarray]:
    """Run ``runner`` over ``inputs`` in batches of ``batch`` windows; concatenate the outputs."""
    n = len(inputs[INPUT_NAMES[0]])
    parts = [runner.run({k: inputs[k][s : s + batch] for k in INPUT_NAMES}) for s in range(0, n, batch)]
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}


def evaluate(
    reference: Any,
    candidate: Any,
    data: Mapping[str, Any],
    tol: Tolerance,
    threshold: float = 0.5,
    label: str = "",
    raise_on_fail: bool = True,
    reference_outputs: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Run both runners on ``data`` (contract inputs + optional ``labels``); compare; apply ``tol``.

    ``reference_outputs`` skips re-running the reference. Raises :class:`ParityError` (report
    attached as ``err.report``) when ``raise_on_fail`` and the tolerance is violated.
    """
    inputs = {k: np.asarray(data[k]) for k in INPUT_NAMES}
    ref = reference_outputs if reference_outputs is not None else run_batched(reference, inputs)
    cand = run_batched(candidate, inputs)
    rep = judged(
        compare(ref, cand, threshold, data.get("labels")), tol, data=str(data.get("source", "arrays"))
    )
    if not rep["passed"] and raise_on_fail:
        raise_parity(rep, label or candidate.describe())
    return rep


def raise_parity(report: dict[str, Any], label: str, remedy: str | None = None) -> None:
    err = ParityError(
        f"{label} disagrees with its reference: " + "; ".join(report["failures"]),
        remedy or "try another --calib-method, a larger calibration set, --device any, or --no-validate",
    )
    err.report = report  # type: ignore[attr-defined]
    raise err


# --------------------------------------------------------------------- probability-only rows ---


def parity_metrics(
    prob: np.ndarray,
    ref_prob: np.ndarray,
    labels: np.ndarray | None = None,
    threshold: float = 0.5,
    ref_threshold: float | None = None,
) -> dict[str, Any]:
    """Decision agreement, |Δprob| and (with labels) AUC/F1 deltas from probabilities alone (bench rows)."""
    p = np.asarray(prob, dtype=np.float64).reshape(-1)
    r = np.asarray(ref_prob, dtype=np.float64).reshape(-1)
    if p.shape != r.shape:
        raise ShapeError(
            f"parity: {p.shape} probabilities vs {r.shape} reference", "compare the same windows"
        )
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
        out |= {"agreement": 0.0, "max_abs_dprob": math.inf, "nonfinite": int(np.sum(~np.isfinite(p)))}
        return out
    if labels is not None:
        y = np.asarray(labels).reshape(-1).astype(int)
        if y.shape == p.shape and len(np.unique(y)) == 2:
            m = label_metrics(y, r, p, threshold)
            out |= {
                "auc": m["auc_candidate"],
                "auc_ref": m["auc_reference"],
                "auc_delta": m["auc_delta"],
                "f1": m["f1_candidate"],
                "f1_ref": m["f1_reference"],
                "f1_delta": m["f1_delta"],
            }
    return out


def floors(tol: Tolerance) -> dict[str, float]:
    """A tolerance as the probability-only floors a bench row is held to (same numbers)."""
    f = {"agreement_min": float(tol.min_agreement)}
    if tol.max_auc_drop is not None:
        f["auc_delta_min"] = -abs(float(tol.max_auc_drop))
    if "referral_prob" in tol.atol:
        f["max_abs_dprob_max"] = float(tol.atol["referral_prob"])
    return f


def check_floors(metrics: Mapping[str, Any], floors: Mapping[str, float]) -> list[str]:
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


# ------------------------------------------------------------------ an artifact's full report ---


def artifact_report(
    reference_outputs: Mapping[str, np.ndarray],
    kernels: Any,
    numerics: Any,
    data: Mapping[str, Any],
    tol: Tolerance,
    threshold: float,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Both parity checks of an exported artifact, and the gap between them.

    ``kernels``: a runner on this machine's kernels, or the reason there is none (str).
    ``numerics``: a runner evaluating the quantized graph CPU-independently, or the reason (str).
    ``kernels`` and ``numerics`` are each judged against the FP32 reference with ``tol``; their
    direct difference (``kernel_gap``) with :data:`KERNEL_TOL` — a large gap is the signature of
    integer kernels that compute the graph wrongly on this CPU (e.g. int16 saturation).
    """
    inputs = {k: np.asarray(data[k]) for k in INPUT_NAMES}
    labels = data.get("labels")
    rep: dict[str, Any] = {"data": str(data.get("source", "arrays")), "windows": len(inputs[INPUT_NAMES[0]])}
    outs: dict[str, dict[str, np.ndarray]] = {}
    for name, runner in (("kernels", kernels), ("numerics", numerics)):
        if runner is None or isinstance(runner, str):
            rep[name] = {"skipped": runner or "not applicable"}
            continue
        outs[name] = run_batched(runner, inputs)
        rep[name] = judged(compare(reference_outputs, outs[name], threshold, labels), tol)
    rep["kernels"] |= dict(context or {})
    if len(outs) == 2:
        rep["kernel_gap"] = judged(compare(outs["numerics"], outs["kernels"], threshold), KERNEL_TOL)
    else:
        rep["kernel_gap"] = {"skipped": "needs both the kernels and the CPU-independent numerics"}
    failures = [
        f"{k}: {f}" for k in ("kernels", "numerics", "kernel_gap") for f in rep[k].get("failures", [])
    ]
    return rep | {"passed": not failures, "failures": failures}
