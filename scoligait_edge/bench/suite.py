"""Run the cases: interleaved timing per thread setting, parity, FLOP/s, statuses → a ``BenchRun``."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scoligait_edge.bench.cases import Case, EvalSet, Runner, one_line, predict_probs
from scoligait_edge.bench.machine import load_average, machine_info
from scoligait_edge.bench.quiet import quiet_fds
from scoligait_edge.bench.reference import DEFAULT_REFERENCE, reference_workload
from scoligait_edge.bench.report import FAILED, PARITY_FAILED, PASSED, BenchRun, Row
from scoligait_edge.bench.timing import (
    RATIO_QUANTILE,
    Timing,
    TimingConfig,
    quantile_ratio,
    thread_limit,
    time_interleaved,
)
from scoligait_edge.export.targets import default_tolerance
from scoligait_edge.runtime.parity import check_floors, floors, parity_metrics

REF_KEY = "__reference__"


@dataclass
class SuiteConfig:
    """Thread settings, timing effort and extras of one run."""

    threads: list[int] = field(default_factory=lambda: [1])
    timing: TimingConfig = field(default_factory=TimingConfig)
    reference: str = DEFAULT_REFERENCE
    throughput_batch: int | None = (
        16  #: measure batched throughput at max threads (None: derive from batch 1)
    )
    measure_peak: bool = True
    quick: bool = False
    extra_settings: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _null_progress() -> Iterator[None]:
    yield None


def run_suite(
    cases: Sequence[Case],
    eval_set: EvalSet,
    config: SuiteConfig = SuiteConfig(),
    progress: Any = None,
) -> BenchRun:
    """Measure every runnable case; cases that cannot run keep their ⏭/❌ status and reason."""
    from scoligait_edge import __version__

    t_start = time.perf_counter()
    rows = {c.id: _row_for(c) for c in cases}
    example = eval_set.example(1)
    ref_fn, ref_desc = reference_workload(config.reference)
    run = BenchRun(
        machine=machine_info(),
        toolkit_version=__version__,
        load_average=load_average(),
        settings={
            "threads": list(config.threads),
            "quick": config.quick,
            "timing": asdict(config.timing),
            "reference": config.reference,
            "ratio_quantile": RATIO_QUANTILE,
            "eval": eval_set.describe(),
            **config.extra_settings,
        },
        reference={"name": config.reference, "description": ref_desc, "latency": {}},
    )
    runners: dict[str, Runner] = {}  # runners loaded at the last (largest) thread setting, reused for parity
    timings: dict[int, dict[str, Timing]] = {}

    for threads in config.threads:
        with thread_limit(threads):
            workloads: dict[str, Any] = {REF_KEY: ref_fn}
            for case in cases:
                if rows[case.id].status == FAILED or not case.runnable:
                    continue
                try:
                    with quiet_fds():
                        fn, runner = _workload(case, threads, example)
                        fn()  # one checked call: a failure here is the row's ❌, not the whole run's
                except Exception as e:  # any backend error becomes this row's status
                    rows[case.id].status, rows[case.id].reason = FAILED, f"run failed: {one_line(e)}"
                    continue
                workloads[case.id] = fn
                if runner is not None:
                    runners[case.id] = runner
            task = _task(progress, f"timing, {threads} thread{'s' * (threads > 1)}", config.timing.max_rounds)
            try:
                res = time_interleaved(
                    workloads, config.timing, on_round=lambda _r, t=task: _advance(progress, t)
                )
            finally:
                for case in cases:
                    if case.kind != "model":
                        case.close()
            _finish(progress, task)
        timings[threads] = res
        ref = res[REF_KEY]
        run.reference["latency"][str(threads)] = ref.summary()
        per_call = {c.id: c.items_per_call for c in cases}
        for cid, t in res.items():
            if cid == REF_KEY:
                continue
            entry = t.summary()
            k = per_call.get(cid, 1)
            if k > 1:  # latency per unit (e.g. per frame) when one call processes k units
                entry.update({key: entry[key] / k for key in ("median_ms", "p90_ms", "mean_ms")})
                entry["items_per_call"] = k
            entry["ratio"] = quantile_ratio(t, ref)  # what the gate compares (low quantile: see timing)
            entry["ratio_median"] = quantile_ratio(t, ref, 0.5)
            rows[cid].latency[str(threads)] = entry

    _speedups(rows, cases, timings)
    _parity(rows, cases, runners, eval_set, progress)
    _throughput(rows, cases, runners, eval_set, config)
    if config.measure_peak:
        from scoligait_edge.bench.peak import matmul_peak

        run.peak = {str(t): matmul_peak(t, seconds=0.2 if config.quick else 0.5) for t in config.threads}
    _achieved(rows, cases, run.peak)
    for c in cases:
        if c.flops and c.role in ("teacher", "student_fp32"):
            run.flops[c.role.removesuffix("_fp32")] = c.flops
    for c in cases:
        c.close()
    run.rows = [rows[c.id] for c in cases]
    from scoligait_edge.bench.goals import check_goals

    run.goals = check_goals(run)
    run.duration_s = round(time.perf_counter() - t_start, 2)
    return run


def _row_for(c: Case) -> Row:
    return Row(
        id=c.id,
        kind=c.kind,
        label=c.label,
        target=c.target,
        precision=c.precision,
        unit=c.unit,
        status=c.status or PASSED,
        reason=c.reason,
        size_bytes=c.size_bytes,
        flops=c.flops,
        notes=list(c.notes),
        gate={} if c.gate_latency else {"latency": False, "why": c.gate_why},
    )


def _workload(case: Case, threads: int, example: dict[str, np.ndarray]) -> tuple[Any, Runner | None]:
    if case.load is not None:
        runner = case.load(threads)

        def call(r: Runner = runner) -> object:
            return r.run(example)

        return call, runner
    assert case.setup is not None
    return case.setup(threads), None


def _speedups(rows: dict[str, Row], cases: Sequence[Case], timings: dict[int, dict[str, Timing]]) -> None:
    teacher = next((c.id for c in cases if c.role == "teacher"), None)
    if teacher is None:
        return
    for threads, res in timings.items():
        if teacher not in res:
            continue
        for c in cases:
            if c.kind == "model" and c.id in res:
                rows[c.id].speedup_vs_teacher[str(threads)] = quantile_ratio(res[teacher], res[c.id], 0.5)


def _parity(
    rows: dict[str, Row], cases: Sequence[Case], runners: dict[str, Runner], ev: EvalSet, progress: Any
) -> None:
    models = [c for c in cases if c.kind == "model" and c.id in runners]
    task = _task(progress, "parity", len(models))
    probs: dict[str, np.ndarray] = {}
    for c in models:
        try:
            with quiet_fds():
                probs[c.id] = predict_probs(runners[c.id], ev.inputs)
        except Exception as e:
            rows[c.id].status, rows[c.id].reason = FAILED, f"parity run failed: {one_line(e)}"
        _advance(progress, task)
    _finish(progress, task)
    refs = {c.role: c for c in cases if c.role in ("teacher", "student_fp32") and c.id in probs}
    for c in models:
        if c.id not in probs:
            continue
        row = rows[c.id]
        for role, key in (("teacher", "vs_teacher"), ("student_fp32", "vs_student_fp32")):
            ref = refs.get(role)
            if ref is None or ref.id == c.id or c.role == "teacher":
                continue
            row.parity[key] = parity_metrics(
                probs[c.id], probs[ref.id], ev.labels, c.threshold, ref.threshold
            )
        if c.role is None and "vs_student_fp32" in row.parity:
            need = c.floors or floors(default_tolerance(c.precision))
            row.floors["vs_student_fp32"] = need
            bad = check_floors(row.parity["vs_student_fp32"], need)
            if bad and row.status == PASSED:
                row.status, row.reason = PARITY_FAILED, "vs FP32 student: " + "; ".join(bad)


def _throughput(
    rows: dict[str, Row], cases: Sequence[Case], runners: dict[str, Runner], ev: EvalSet, config: SuiteConfig
) -> None:
    top = max(config.threads)
    for c in cases:
        row = rows[c.id]
        med = row.median_ms(top)
        if med is None or row.status == FAILED:
            continue
        per_s = 1e3 / med
        row.throughput = {"batch": 1, "threads": top, "items_per_s": per_s}
        b = config.throughput_batch
        if c.id in runners and b and b > 1 and len(ev) >= b:
            batch = ev.example(b)
            try:
                with thread_limit(top):
                    cfg = TimingConfig(warmup=2, min_rounds=3, max_rounds=8, reps_per_round=3, max_time_s=1.0)
                    t = time_interleaved({"b": lambda r=runners[c.id], x=batch: r.run(x)}, cfg)["b"]
                row.throughput = {"batch": b, "threads": top, "items_per_s": b / t.median_s}
            except Exception as e:  # static-batch artifacts: keep the batch-1 figure, say why
                row.notes.append(f"batch-{b} throughput not measured: {one_line(e, 80)}")


def _achieved(rows: dict[str, Row], cases: Sequence[Case], peak: dict[str, dict[str, float]]) -> None:
    for c in cases:
        if not c.flops:
            continue
        row = rows[c.id]
        for threads, lat in row.latency.items():
            med = lat.get("median_ms")
            if not med or math.isnan(med):
                continue
            fps = c.flops / (med * 1e-3)
            pk = peak.get(threads, {}).get("flop_per_s")
            row.achieved[threads] = {"flop_per_s": fps, "peak_fraction": fps / pk if pk else None}


def _task(progress: Any, name: str, total: int) -> Any:
    """A rich progress task (``progress`` is a ``rich.progress.Progress`` or None)."""
    return (progress.add_task(name, total=total), total) if progress is not None else None


def _advance(progress: Any, task: Any) -> None:
    if progress is not None and task is not None:
        progress.advance(task[0])


def _finish(progress: Any, task: Any) -> None:
    if progress is not None and task is not None:
        progress.update(task[0], completed=task[1])
