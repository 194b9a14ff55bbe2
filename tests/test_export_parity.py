"""Parity figures and tolerance checks on hand-made outputs (exact expected numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from scoligait_edge.export.targets import TOL_INT8

from scoligait_edge.errors import ParityError
from scoligait_edge.runtime.base import Runner, make_inputs
from scoligait_edge.runtime.parity import check, compare
from scoligait_edge.runtime.parity import evaluate as validate
from scoligait_edge.runtime.parity import tolerance as _tol


def _outputs(prob: np.ndarray, sal_shift: float = 0.0) -> dict[str, np.ndarray]:
    n = len(prob)
    logit = np.log(prob / (1 - prob)).astype(np.float32)
    sal = np.full((n, 96, 238), 1.0 / (96 * 238), np.float32)
    if sal_shift:  # move `sal_shift` of the mass of window 0 from cell (0,0) region to (95,237)
        sal[0, 0, :10] -= sal_shift / 10
        sal[0, 95, 237] += sal_shift
    return {
        "referral_logit": logit,
        "referral_prob": prob.astype(np.float32),
        "cobb_angle": 20 * prob,
        "saliency": sal,
    }


def test_compare_counts_flips_auc_and_saliency_tv() -> None:
    ref_p = np.array([0.1, 0.3, 0.45, 0.55, 0.7, 0.9])
    cand_p = ref_p.copy()
    cand_p[2] = 0.52  # one decision flips at threshold 0.5
    labels = np.array([0, 0, 1, 1, 1, 0])
    rep = compare(_outputs(ref_p), _outputs(cand_p, sal_shift=1e-5), threshold=0.5, labels=labels)
    assert rep["decision_agreement"] == pytest.approx(5 / 6)
    assert rep["max_abs_dprob"] == pytest.approx(0.07, abs=1e-6)
    assert rep["outputs"]["saliency"]["tv_max"] == pytest.approx(1e-5, rel=1e-3)
    assert rep["outputs"]["saliency"]["tv_mean"] == pytest.approx(1e-5 / 6, rel=1e-3)
    # ref ranks: positives 0.45, 0.55, 0.7 vs negatives 0.1, 0.3, 0.9 → 6/9; candidate unchanged order
    assert rep["auc_reference"] == pytest.approx(6 / 9) and rep["auc_delta"] == pytest.approx(0.0)
    assert rep["f1_candidate"] > rep["f1_reference"]  # the flip turned a false negative into a hit


def test_check_names_each_violation() -> None:
    ref_p = np.linspace(0.05, 0.95, 20)
    cand_p = np.clip(ref_p + 0.2, 0, 0.99)
    rep = compare(_outputs(ref_p), _outputs(cand_p, sal_shift=0.2))
    bad = check(rep, TOL_INT8)
    assert any(b.startswith("referral_prob max |Δ| 0.2") for b in bad)
    assert any(b.startswith("saliency total-variation distance 0.2") for b in bad)
    assert any(b.startswith("decision agreement") for b in bad)
    assert check(compare(_outputs(ref_p), _outputs(ref_p)), _tol(0, 0, 0, 0, 1.0, 0)) == []


class _Shifted(Runner):
    """A fake exported runner: the reference outputs plus a fixed logit offset."""

    def __init__(self, ref: Runner, shift: float) -> None:
        super().__init__({"target": "onnx", "precision": "int8"})
        self.ref, self.shift = ref, shift

    def _run(self, inputs: dict) -> dict:
        out = self.ref._run(inputs)
        out["referral_logit"] = out["referral_logit"] + self.shift
        out["referral_prob"] = 1 / (1 + np.exp(-out["referral_logit"]))
        return out


class _Const(Runner):
    def _run(self, inputs: dict) -> dict:
        n = len(inputs["kmap"])
        p = np.linspace(0.1, 0.9, n).astype(np.float32)
        return _outputs(p)


def test_validate_raises_with_report_and_passes_within_tolerance() -> None:
    data = make_inputs(8, seed=1)
    ref = _Const()
    assert validate(ref, _Shifted(ref, 0.01), data, TOL_INT8)["passed"]
    with pytest.raises(ParityError, match=r"onnx int8 disagrees .* referral_logit max \|Δ\| 2 > 1") as e:
        validate(ref, _Shifted(ref, 2.0), data, TOL_INT8, label="onnx int8")
    assert e.value.report["outputs"]["referral_logit"]["max_abs"] == pytest.approx(2.0)  # type: ignore[attr-defined]
