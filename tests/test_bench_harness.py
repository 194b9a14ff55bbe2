"""Harness unit tests: timing statistics, parity maths, report schema, table rendering, suite statuses.

Rows here come from small stand-in runners built in this file (numpy/torch workloads with
known relative costs), so the tests do not depend on the export backends.
"""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
from scoligait_edge.export.targets import TOL_INT8

from scoligait_edge.bench import gate, report, table, timing
from scoligait_edge.bench.cases import Case, EvalSet, failed, predict_probs, unavailable
from scoligait_edge.bench.suite import SuiteConfig, run_suite
from scoligait_edge.errors import InputFileError, ScoliGaitError
from scoligait_edge.runtime import parity

FAST = timing.TimingConfig(
    warmup=2, min_rounds=4, max_rounds=12, reps_per_round=5, slice_s=0.002, min_time_s=0.01, max_time_s=0.6
)


class MatRunner:
    """Stand-in runner: ``size``×``size`` matmuls then a fixed logistic readout of the kmap."""

    def __init__(self, size: int = 64, loops: int = 1, shift: float = 0.0) -> None:
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((size, size)).astype(np.float32)
        self.loops, self.shift = loops, shift
        self.w = np.random.default_rng(1).standard_normal(8)

    def run(self, inputs):
        for _ in range(self.loops):
            self.a @ self.a
        k = np.asarray(inputs["kmap"], dtype=np.float64)
        z = k[:, 0, :8] @ self.w + self.shift
        p = 1 / (1 + np.exp(-z))
        return {"referral_prob": p.astype(np.float32), "referral_logit": z.astype(np.float32)}


def eval_set(n: int = 64) -> EvalSet:
    rng = np.random.default_rng(3)
    kmap = rng.standard_normal((n, 96, 238)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal(8)
    labels = (kmap[:, 0, :8] @ w + 0.8 * rng.standard_normal(n) > 0).astype(np.int64)
    return EvalSet(
        inputs={
            "kmap": kmap,
            "silhouette": np.zeros((n, 96, 64, 44), np.float32),
            "prompt_id": np.zeros(n, np.int64),
        },
        labels=labels,
        source="test stand-in",
    )


def cases(slow_loops: int = 1, int8_shift: float = 0.0) -> list[Case]:
    return [
        Case(
            "teacher/pytorch/fp32",
            "model",
            "teacher",
            "pytorch",
            "fp32",
            role="teacher",
            load=lambda t: MatRunner(160, 2, shift=0.2),
        ),
        Case(
            "student/pytorch/fp32",
            "model",
            "student",
            "pytorch",
            "fp32",
            role="student_fp32",
            load=lambda t: MatRunner(64, 1),
            flops=2 * 64**3,
        ),
        Case(
            "student/fake/int8",
            "model",
            "student",
            "fake",
            "int8",
            load=lambda t: MatRunner(64, slow_loops, int8_shift),
            flops=2 * 64**3,
        ),
        unavailable(
            "student/nowhere/int8",
            "model",
            "student",
            "runtime 'nowhere' is not installed",
            target="nowhere",
            precision="int8",
        ),
        failed("student/broken/fp32", "model", "student", ValueError("exporter said no"), target="broken"),
    ]


# ---------------------------------------------------------------------------------- timing


def test_timing_orders_workloads_by_cost_and_interleaves():
    calls: list[str] = []

    def mk(name: str, size: int):
        a = np.ones((size, size), np.float32)

        def f():
            calls.append(name)
            return a @ a

        return f

    res = timing.time_interleaved({"small": mk("small", 32), "big": mk("big", 256)}, FAST)
    assert res["big"].median_s > 3 * res["small"].median_s
    assert res["small"].reps >= FAST.min_rounds and len(res["small"].round_medians) == len(
        res["big"].round_medians
    )
    # interleaved: after warm-up, the sequence switches between workloads many times
    switches = sum(a != b for a, b in itertools.pairwise(calls))
    assert switches >= 2 * FAST.min_rounds - 2


def test_median_ci_and_p90():
    t = timing.Timing(samples=[float(i) for i in range(1, 101)])
    assert t.median_s == pytest.approx(50.5)
    assert t.p90_s == pytest.approx(90.1)
    lo, hi = t.median_ci()
    assert lo < 50.5 < hi and hi - lo < 25
    assert timing.Timing(samples=[1.0, 1.0]).rel_ci_halfwidth() == float("inf")


def test_ratios_cancel_a_load_burst():
    # The machine gets 3× slower halfway: both workloads slow down, their ratio does not move.
    num = timing.Timing(samples=[2.0] * 50 + [6.0] * 50, round_medians=[2.0] * 5 + [6.0] * 5)
    den = timing.Timing(samples=[1.0] * 50 + [3.0] * 50, round_medians=[1.0] * 5 + [3.0] * 5)
    assert timing.paired_ratio(num, den) == pytest.approx(2.0)
    assert timing.quantile_ratio(num, den) == pytest.approx(2.0)


def test_low_quantile_ratio_ignores_contention_spikes():
    # 70 % of the reference's calls were pre-empted (×5): the median ratio is wrecked, p10 is not.
    rng = np.random.default_rng(0)
    num = timing.Timing(samples=list(2.0 + 0.01 * rng.random(200)))
    den = timing.Timing(samples=list(np.where(rng.random(200) < 0.7, 5.0, 1.0) + 0.01 * rng.random(200)))
    assert timing.quantile_ratio(num, den) == pytest.approx(2.0, rel=0.02)
    assert timing.quantile_ratio(num, den, 0.5) < 0.5


def test_parse_threads():
    assert timing.parse_threads("1,all")[0] == 1
    assert timing.parse_threads("1,1,2") == [1, 2]
    with pytest.raises(ScoliGaitError):
        timing.parse_threads("0")
    with pytest.raises(ScoliGaitError):
        timing.parse_threads("many")


def test_thread_limit_sets_torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with timing.thread_limit(1) as info:
        assert torch.get_num_threads() == 1 and info["threads"] == 1
    assert torch.get_num_threads() == before


# ---------------------------------------------------------------------------------- parity


def test_parity_metrics_against_hand_computed_values():
    ref = np.array([0.1, 0.4, 0.6, 0.9])
    p = np.array([0.1, 0.55, 0.6, 0.8])  # one decision flips (0.4 → 0.55)
    y = np.array([0, 0, 1, 1])
    m = parity.parity_metrics(p, ref, y)
    assert m["agreement"] == pytest.approx(0.75)
    assert m["max_abs_dprob"] == pytest.approx(0.15)
    assert m["auc_ref"] == pytest.approx(1.0) and m["auc"] == pytest.approx(1.0)
    assert m["f1_ref"] == pytest.approx(1.0) and m["f1"] == pytest.approx(0.8)
    assert m["f1_delta"] == pytest.approx(-0.2)
    assert parity.check_floors(m, {"agreement_min": 0.99}) == ["agreement 75.00% < 99.00%"]
    assert parity.check_floors(m, {"agreement_min": 0.7, "max_abs_dprob_max": 0.2}) == []


def test_parity_flags_nonfinite_outputs():
    m = parity.parity_metrics(np.array([np.nan, 0.5]), np.array([0.2, 0.5]))
    assert m["agreement"] == 0.0 and m["nonfinite"] == 1
    assert parity.check_floors(m, parity.floors(TOL_INT8))


def test_floors_take_target_table_tolerance():
    f = parity.floors(TOL_INT8)
    assert f == {"agreement_min": 0.95, "auc_delta_min": -0.02, "max_abs_dprob_max": 0.1}


def test_predict_probs_falls_back_to_batch_one():
    class BatchOne(MatRunner):
        def run(self, inputs):
            if len(inputs["kmap"]) != 1:
                raise RuntimeError("static batch 1")
            return super().run(inputs)

    ev = eval_set(10)
    np.testing.assert_allclose(predict_probs(BatchOne(), ev.inputs), predict_probs(MatRunner(), ev.inputs))


# ---------------------------------------------------------------------------------- suite + report


@pytest.fixture(scope="module")
def run() -> report.BenchRun:
    return run_suite(
        cases(), eval_set(), SuiteConfig(threads=[1], timing=FAST, throughput_batch=8, quick=True)
    )


def test_suite_statuses_and_figures(run):
    by = {r.id: r for r in run.rows}
    assert [r.id for r in run.rows] == [c.id for c in cases()]
    assert by["student/nowhere/int8"].status == report.UNAVAILABLE
    assert "not installed" in by["student/nowhere/int8"].reason
    assert (
        by["student/broken/fp32"].status == report.FAILED and "ValueError" in by["student/broken/fp32"].reason
    )
    s = by["student/fake/int8"]
    assert s.status == report.PASSED
    assert s.parity["vs_student_fp32"]["agreement"] == 1.0
    assert s.parity["vs_student_fp32"]["max_abs_dprob"] == 0.0
    assert 0.8 <= s.parity["vs_teacher"]["agreement"] < 1.0  # the teacher's +0.2 logit shift flips a few
    # the teacher does ~2×(160/64)^3 ≈ 31× the matmul work: it must come out clearly slower
    assert s.speedup_vs_teacher["1"] > 3
    assert s.latency["1"]["ratio"] > 0 and s.latency["1"]["p90_ms"] >= s.latency["1"]["median_ms"]
    assert s.throughput["batch"] == 8 and s.throughput["items_per_s"] > 0
    assert s.achieved["1"]["flop_per_s"] > 0 and s.achieved["1"]["peak_fraction"] > 0
    assert run.peak["1"]["flop_per_s"] > 1e8
    assert run.reference["latency"]["1"]["median_ms"] > 0


def test_parity_failure_is_marked_not_crashed():
    res = run_suite(
        cases(int8_shift=3.0), eval_set(), SuiteConfig(threads=[1], timing=FAST, measure_peak=False)
    )
    row = res.row("student/fake/int8")
    assert row.status == report.PARITY_FAILED and "agreement" in row.reason


def test_a_runner_that_raises_becomes_a_failed_row():
    class Boom(MatRunner):
        def run(self, inputs):
            raise RuntimeError("kernel missing")

    cs = [*cases()[:2], Case("student/boom/int8", "model", "student", "boom", "int8", load=lambda t: Boom())]
    res = run_suite(cs, eval_set(), SuiteConfig(threads=[1], timing=FAST, measure_peak=False))
    row = res.row("student/boom/int8")
    assert row.status == report.FAILED and "kernel missing" in row.reason
    assert res.row("student/pytorch/fp32").status == report.PASSED


def test_json_round_trip_and_schema(run, tmp_path):
    p = report.write_json(run, tmp_path / "run.json")
    data = json.loads(p.read_text())
    assert data["schema_version"] == report.SCHEMA_VERSION and data["kind"] == report.REPORT_KIND
    assert {"cpu_model", "isa_flags", "versions", "usable_cores"} <= set(data["machine"])
    assert data["settings"]["threads"] == [1] and isinstance(data["rows"], list)
    assert all({"id", "status", "latency", "parity"} <= set(r) for r in data["rows"])
    back = report.read_json(p)
    assert [r.to_dict() for r in back.rows] == [r.to_dict() for r in run.rows]
    with pytest.raises(ScoliGaitError):  # never overwrite a user's file silently
        report.write_json(run, p)


def test_read_json_refuses_foreign_or_future_files(tmp_path):
    (tmp_path / "a.json").write_text('{"rows": []}')
    (tmp_path / "b.json").write_text(json.dumps({"kind": report.REPORT_KIND, "schema_version": 99}))
    (tmp_path / "c.json").write_text("{nope")
    for name, word in (
        ("a", "not a scoligait-edge bench report"),
        ("b", "schema version 99"),
        ("c", "not valid"),
    ):
        with pytest.raises(InputFileError, match=word):
            report.read_json(tmp_path / f"{name}.json")


def test_table_and_markdown_show_every_row(run):
    from rich.console import Console

    console = Console(record=True, width=260)
    console.print(table.render_rich(run))
    text = console.export_text()
    md = table.render_markdown(run)
    for r in run.rows:
        assert r.label in text
    for icon in ("✅", "⏭", "❌"):
        assert icon in text and icon in md
    assert md.count("\n| ") == len(run.rows) + 1  # header + one line per row
    assert "matmul peak" in md and "reference workload" in md


def test_formatters():
    assert table.fmt_size(812_345) == "812 kB" and table.fmt_size(1_004_000) == "1.00 MB"
    assert table.fmt_size(None) == "—"
    assert table.fmt_ms(0.41234) == "0.412" and table.fmt_ms(123.4) == "123"
    assert table.fmt_rate(2.5e9) == "2.5G"


def test_gate_passes_on_itself(run):
    base = gate.make_baseline(report.BenchRun.from_dict(run.to_dict()))
    res = gate.check(base, run)
    assert res.ok and "student/fake/int8" in res.passed


def test_sleep_is_a_real_slowdown_for_the_timer():
    t0 = time.perf_counter()
    res = timing.time_one(lambda: time.sleep(0.002), FAST)
    assert res.median_s >= 0.002 and time.perf_counter() - t0 < 5


def _run_with_ratios(ratios: dict[str, float]) -> report.BenchRun:
    rows = [
        report.Row(id=k, kind="model", label=k, latency={"1": {"median_ms": v, "ratio": v}})
        for k, v in ratios.items()
    ]
    return report.BenchRun(rows=rows, reference={"name": "mlp"}, settings={"threads": [1]})


def test_baseline_from_repeats_gives_noisy_rows_their_own_tolerance():
    runs = [_run_with_ratios({"steady": s, "noisy": n}) for s, n in ((1.0, 2.0), (1.01, 2.6), (0.99, 2.2))]
    base = gate.make_baseline(runs, tolerance=0.25)
    assert base.row("steady").ratio(1) == pytest.approx(1.0) and base.row("noisy").ratio(1) == pytest.approx(
        2.2
    )
    assert "tolerance" not in base.row("steady").gate
    assert base.row("noisy").gate["tolerance"] == pytest.approx(2 * (2.6 / 2.0 - 1))
    res = gate.compare(base, _run_with_ratios({"steady": 1.36, "noisy": 3.0}))  # both +36 %
    assert [r.row_id for r in res.regressions] == ["steady"]
    assert any("noisy row, gated at +60%" in n for n in res.notes)
    capped = gate.make_baseline([_run_with_ratios({"x": 1.0}), _run_with_ratios({"x": 3.0})])
    assert capped.row("x").gate["tolerance"] == gate.MAX_ROW_TOLERANCE


def test_confirmation_rerun_clears_a_one_off_spike_but_not_a_real_slowdown():
    base = gate.make_baseline(_run_with_ratios({"a": 1.0, "b": 1.0}))
    spike = _run_with_ratios({"a": 1.6, "b": 1.5})  # both look slow once…
    again = _run_with_ratios({"a": 1.02, "b": 1.55})  # …only b is slow again
    first = gate.compare(base, spike)
    assert gate.latency_only(first) and len(first.regressions) == 2
    merged = gate.combine([spike, again], "min")
    assert merged.row("a").latency["1"]["ratio_runs"] == [1.6, 1.02]
    assert [r.row_id for r in gate.compare(base, merged).regressions] == ["b"]


def test_a_pipeline_stage_without_its_asset_is_noted_but_a_model_row_regresses():
    base = gate.make_baseline(_run_with_ratios({"pipeline/pose": 1.0, "student/onnx/int8": 1.0}))
    base.row("pipeline/pose").kind = "pipeline"
    cur = _run_with_ratios({"pipeline/pose": 1.0, "student/onnx/int8": 1.0})
    for r in cur.rows:
        r.status, r.reason = report.UNAVAILABLE, "no video here"
    cur.row("pipeline/pose").kind = "pipeline"
    res = gate.compare(base, cur)
    assert [(r.row_id, r.what) for r in res.regressions] == [("student/onnx/int8", "status")]
    assert any("pipeline/pose: not gated, unavailable here" in n for n in res.notes)


def test_a_row_marked_not_latency_gated_is_reported_but_never_fails_on_time():
    base = gate.make_baseline(
        [_run_with_ratios({"pipeline/pose": 40.0}), _run_with_ratios({"pipeline/pose": 42.0})]
    )
    base.row("pipeline/pose").gate.update({"latency": False, "why": "own thread pool"})
    res = gate.compare(base, _run_with_ratios({"pipeline/pose": 80.0}))
    assert res.ok and any("latency reported, not gated (own thread pool)" in n for n in res.notes)
    assert gate.make_baseline(base).row("pipeline/pose").gate["latency"] is False  # survives a rebuild
