"""The regression gate is proven here: it fails on an injected slowdown and on broken parity,
and passes on an unchanged rerun — all measured for real on the shipped student with the CI
(quick) timing configuration, on this noisy shared machine — both against a baseline of this
machine's own CPU class and under the cross-class rules a machine without one gets.
(Synthetic and committed-baseline checks of the per-class mechanism: ``test_bench_cpu_class.py``.)
"""

from __future__ import annotations

import copy
import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from scoligait_edge.bench import gate, report
from scoligait_edge.bench.cases import Case, EvalSet
from scoligait_edge.bench.sources import synth_eval_set, torch_case
from scoligait_edge.bench.suite import SuiteConfig, run_suite
from scoligait_edge.bench.timing import TimingConfig
from scoligait_edge.cli import app
from scoligait_edge.errors import BenchmarkRegressionError, ScoliGaitError

pytestmark = pytest.mark.slow
CFG = SuiteConfig(
    threads=[1], timing=TimingConfig.quick(), throughput_batch=None, measure_peak=False, quick=True
)


class ExtraForward:
    """Injected slowdown: the runner does its work and then one more real forward pass (≈ +100 %)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def run(self, inputs):
        out = self.inner.run(inputs)
        self.inner.run(inputs)
        return out


class Sleepy:
    """Injected slowdown: a real ``time.sleep`` of ``extra_s`` after each inference."""

    def __init__(self, inner, extra_s: float) -> None:
        self.inner, self.extra_s = inner, extra_s

    def run(self, inputs):
        out = self.inner.run(inputs)
        time.sleep(self.extra_s)
        return out


@pytest.fixture(scope="module")
def student():
    from scoligait_edge.models import load_default_student

    return load_default_student().eval()


@pytest.fixture(scope="module")
def ev(student) -> EvalSet:
    e = synth_eval_set(subjects=32)
    # These tests are about the gate, not the prompt contract: keep ids inside the student's table.
    n_prompts = getattr(getattr(student, "cfg", None), "n_prompts", None)
    if n_prompts:
        e.inputs["prompt_id"] = np.minimum(e.inputs["prompt_id"], n_prompts - 1)
    return e


def candidate_cases(student, wrap=None, model=None) -> list[Case]:
    """FP32 student reference + a 'candidate' artifact row (the student, optionally wrapped/perturbed)."""
    ref = torch_case("student/pytorch/fp32", "student", student, "student_fp32")
    cand = torch_case("student/candidate/fp32", "candidate", model if model is not None else student, None)
    cand.target = "candidate"
    cand.floors = {"agreement_min": 0.99, "auc_delta_min": -0.005, "max_abs_dprob_max": 1e-3}
    if wrap is not None:
        load = cand.load
        cand.load = lambda threads: wrap(load(threads))
    return [ref, cand]


@pytest.fixture(scope="module")
def baseline(student, ev) -> report.BenchRun:
    run = run_suite(candidate_cases(student), ev, CFG)
    assert all(r.status == report.PASSED for r in run.rows)
    return gate.make_baseline(report.BenchRun.from_dict(run.to_dict()))


def test_unchanged_rerun_passes(student, ev, baseline):
    res = gate.check(baseline, run_suite(candidate_cases(student), ev, CFG))
    assert res.ok and set(res.passed) == {"student/pytorch/fp32", "student/candidate/fp32"}


def test_extra_forward_pass_fails_the_gate(student, ev, baseline):
    slow = run_suite(candidate_cases(student, wrap=ExtraForward), ev, CFG)
    with pytest.raises(BenchmarkRegressionError) as ei:
        gate.check(baseline, slow)
    regs = ei.value.regressions
    assert [r.row_id for r in regs] == ["student/candidate/fp32"]  # only the slowed row, by name
    assert regs[0].what == "latency@1thr" and "+" in regs[0].detail and "tolerance +25%" in regs[0].detail
    assert "student/candidate/fp32" in str(ei.value)


def test_sleep_in_runner_fails_the_gate(student, ev, baseline):
    base_ms = baseline.row("student/candidate/fp32").median_ms(1)
    slow = run_suite(candidate_cases(student, wrap=lambda r: Sleepy(r, 0.6 * base_ms / 1e3)), ev, CFG)
    res = gate.compare(baseline, slow)
    assert [r.row_id for r in res.regressions] == ["student/candidate/fp32"]
    grew = slow.row("student/candidate/fp32").ratio(1) / baseline.row("student/candidate/fp32").ratio(1) - 1
    assert grew > 0.25


def foreign(baseline: report.BenchRun) -> report.BenchRun:
    """The same baseline, recorded as if measured on another CPU class than this machine's."""
    from scoligait_edge.bench.machine import cpu_class

    other = report.BenchRun.from_dict(baseline.to_dict())
    zen3 = {"cpu_model": "AMD EPYC", "machine": "x86_64", "isa_flags": ["avx2", "fma", "f16c"]}
    spr = {"cpu_model": "Intel Xeon", "machine": "x86_64", "isa_flags": ["avx2", "avx512f", "amx_int8"]}
    m = zen3 if cpu_class(zen3) != cpu_class(baseline.machine) else spr
    other.machine = {
        k: v for k, v in {**baseline.machine, **m}.items() if k not in ("cpu_class", "cpu_vendor")
    }
    assert cpu_class(other.machine) != cpu_class(baseline.machine)
    return other


def test_cross_class_unchanged_rerun_passes_and_extra_forward_fails(student, ev, baseline):
    other = foreign(baseline)
    same = gate.compare(other, run_suite(candidate_cases(student), ev, CFG))
    assert same.cross_class and same.ok, [r.line() for r in same.regressions]
    slow = run_suite(candidate_cases(student, wrap=ExtraForward), ev, CFG)
    with pytest.raises(BenchmarkRegressionError) as ei:
        gate.check(other, slow)
    regs = ei.value.regressions
    assert [r.row_id for r in regs] == ["student/candidate/fp32"] and regs[0].what == "latency@1thr"
    assert "vs the other 1 gated rows" in regs[0].detail and "cross-class tolerance" in regs[0].detail


def test_perturbed_weights_fail_parity(student, ev, baseline):
    import torch

    bad = copy.deepcopy(student)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in bad.parameters():
            if p.dim() >= 2:
                p.add_(torch.randn(p.shape, generator=g) * p.std() * 0.5)
    run = run_suite(candidate_cases(student, model=bad), ev, CFG)
    row = run.row("student/candidate/fp32")
    assert row.status == report.PARITY_FAILED
    with pytest.raises(BenchmarkRegressionError) as ei:
        gate.check(baseline, run)
    assert any(r.row_id == "student/candidate/fp32" and r.what == "status" for r in ei.value.regressions)
    # the parity floors stored in the baseline catch it too, even if a run's status were not set
    row.status = report.PASSED
    res = gate.compare(baseline, run)
    assert any(r.what == "parity vs_student_fp32" and "max |Δprob|" in r.detail for r in res.regressions)
    # the same floors, unchanged, under the cross-class rules
    res = gate.compare(foreign(baseline), run)
    assert res.cross_class and any(r.what == "parity vs_student_fp32" for r in res.regressions)


def test_missing_or_failed_rows_regress_and_new_rows_are_noted(baseline):
    cur = report.BenchRun.from_dict(baseline.to_dict())
    cur.rows = [r for r in cur.rows if r.id != "student/candidate/fp32"]
    extra = report.Row(id="student/new/int8", kind="model", label="student")
    cur.rows.append(extra)
    res = gate.compare(baseline, cur)
    assert [(r.row_id, r.what) for r in res.regressions] == [("student/candidate/fp32", "missing")]
    assert any("student/new/int8" in n for n in res.notes)
    cur.rows[0].status, cur.rows[0].reason = report.FAILED, "run failed: boom"
    assert any(
        "passed → failed (run failed: boom)" in r.detail for r in gate.compare(baseline, cur).regressions
    )


def test_gate_refuses_ratios_to_a_different_reference(baseline):
    cur = report.BenchRun.from_dict(baseline.to_dict())
    cur.reference["name"] = "matmul"
    with pytest.raises(ScoliGaitError, match="reference workload"):
        gate.compare(baseline, cur)


def test_cli_check_names_each_regressed_row_and_exits_nonzero(student, ev, baseline, tmp_path):
    base = tmp_path / "baseline.json"
    base.write_text(report.to_json(baseline))
    slow = run_suite(candidate_cases(student, wrap=ExtraForward), ev, CFG)
    slow.row("student/pytorch/fp32").parity = {}  # the reference row has none anyway
    cur = tmp_path / "slow.json"
    report.write_json(slow, cur)
    from scoligait_edge.cli import main

    with pytest.raises(SystemExit) as ei:
        main(["bench", "check", "--baseline", str(base), "--current", str(cur)])
    assert ei.value.code == 1
    ok = CliRunner().invoke(app, ["bench", "check", "--baseline", str(base), "--current", str(base)])
    assert ok.exit_code == 0, ok.output
    assert "bench gate passed: 2 rows" in ok.output


def test_cli_baseline_needs_update_and_never_overwrites_silently(baseline, tmp_path):
    src = tmp_path / "run.json"
    src.write_text(report.to_json(baseline))
    dest = tmp_path / "b.json"
    dest.write_text("keep me")
    r = CliRunner().invoke(app, ["bench", "baseline", "--baseline", str(dest), "--current", str(src)])
    assert r.exit_code != 0 and dest.read_text() == "keep me"
    assert isinstance(r.exception, ScoliGaitError) and "--update" in str(r.exception)
    dest.unlink()
    r = CliRunner().invoke(
        app,
        ["bench", "baseline", "--update", "--baseline", str(dest), "--current", str(src), "--rows", "all"],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(dest.read_text())
    assert data["settings"]["gate"] == {
        "tolerance": 0.25,
        "threads": [1],
        "baseline_repeats": 1,
        "rows": ["student/pytorch/fp32", "student/candidate/fp32"],
    }
    assert np.isfinite(data["rows"][1]["latency"]["1"]["ratio"])


def test_vs_teacher_floors_apply_only_to_the_student_they_were_measured_with(baseline):
    b = report.BenchRun.from_dict(baseline.to_dict())
    row = b.row("student/candidate/fp32")
    row.parity["vs_teacher"] = {"agreement": 0.99, "auc_delta": 0.05, "f1_delta": 0.0}
    b.settings["student_sha256"] = "a" * 64
    cur = report.BenchRun.from_dict(baseline.to_dict())
    cur.row("student/candidate/fp32").parity["vs_teacher"] = {
        "agreement": 0.9,
        "auc_delta": -0.01,
        "f1_delta": 0,
    }
    cur.settings["student_sha256"] = "a" * 64  # same weights: a drop against the teacher regresses
    res = gate.compare(b, cur)
    assert any(r.what == "parity vs_teacher" for r in res.regressions)
    cur.settings["student_sha256"] = "b" * 64  # a retrained student: those floors describe another model
    res = gate.compare(b, cur)
    assert not any(r.what == "parity vs_teacher" for r in res.regressions)
    assert any("vs-teacher parity not gated" in n for n in res.notes)
    cur.row("student/candidate/fp32").parity["vs_student_fp32"]["max_abs_dprob"] = 0.5  # runtime still gated
    assert any(r.what == "parity vs_student_fp32" for r in gate.compare(b, cur).regressions)
