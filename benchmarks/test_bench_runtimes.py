"""One pytest-benchmark per runtime × precision (batch 1) + the reference workload.

Run::

    .venv/bin/python -m pytest benchmarks/ --benchmark-only --benchmark-json bench.json

Bundles are exported once per session into a temporary directory (or reused from
``$SCOLIGAIT_BENCH_BUNDLES``, where missing ones are exported; bundle names carry the
student's fingerprint, so a changed model is re-exported). A target that cannot run
here skips with the exact reason the export table gives. Each benchmark's ``extra_info``
holds the target, precision, threads, artifact size and the latency ratio to the reference
workload measured in the same session — the figure ``scoligait-edge bench check`` gates on.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.bench.timing import parse_threads, thread_limit

#: 1 thread by default (what the gate compares); SCOLIGAIT_BENCH_THREADS=1,all adds all cores
THREADS = parse_threads(os.environ.get("SCOLIGAIT_BENCH_THREADS", "1"))
#: fp32 and int8 cover every runtime; add fp16 with SCOLIGAIT_BENCH_PRECISIONS=fp32,fp16,int8
PRECISIONS = tuple(os.environ.get("SCOLIGAIT_BENCH_PRECISIONS", "fp32,int8").split(","))
_ref_median: dict[int, float] = {}
_cases: dict[tuple[str, str], object] = {}


def _targets() -> list[str]:
    from scoligait_edge.bench.sources import resolve_targets

    return resolve_targets("all")


@pytest.fixture(scope="session")
def bench_models():
    from scoligait_edge.bench.sources import load_models

    return load_models("student")


@pytest.fixture(scope="session")
def bench_example() -> dict[str, np.ndarray]:
    from scoligait_edge.bench.sources import synth_eval_set

    return synth_eval_set(subjects=2).example(1)


@pytest.fixture(scope="session")
def bench_bundles():
    given = os.environ.get("SCOLIGAIT_BENCH_BUNDLES")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix="scoligait-bench-") as d:
        yield Path(d)


def _stats_ms(benchmark) -> float | None:
    data = getattr(getattr(getattr(benchmark, "stats", None), "stats", None), "data", None)
    return float(np.median(data)) * 1e3 if data else None


def _measure(benchmark, fn, warmup: int = 3) -> None:
    """Warm up, then let pytest-benchmark calibrate rounds within ``--benchmark-max-time``."""
    for _ in range(warmup):
        fn()
    benchmark(fn)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"{t}thr")
def test_reference_workload(benchmark, threads):
    """The fixed reference workload every gated latency is divided by."""
    from scoligait_edge.bench.reference import DEFAULT_REFERENCE, reference_workload

    fn, desc = reference_workload(DEFAULT_REFERENCE)
    benchmark.group = f"reference-{threads}thr"
    benchmark.extra_info.update({"reference": DEFAULT_REFERENCE, "description": desc, "threads": threads})
    with thread_limit(threads):
        _measure(benchmark, fn)
    med = _stats_ms(benchmark)
    if med:
        _ref_median[threads] = med


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"{t}thr")
@pytest.mark.parametrize("who", ["teacher", "student"])
def test_pytorch_reference(benchmark, bench_models, bench_example, who, threads):
    """PyTorch eager FP32: the teacher (the speed-up baseline) and the FP32 student."""
    from scoligait_edge.runtime.base import TorchRunner

    student, teacher = bench_models
    model = teacher if who == "teacher" else student
    if model is None:
        pytest.skip("no shipped teacher checkpoint")
    runner = TorchRunner(model)
    benchmark.group = f"models-{threads}thr"
    benchmark.extra_info.update({"target": "pytorch", "precision": "fp32", "model": who, "threads": threads})
    with thread_limit(threads):
        _measure(benchmark, lambda: runner.run(bench_example))
    _add_ratio(benchmark, threads)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"{t}thr")
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("target", _targets())
def test_exported_student(benchmark, bench_models, bench_example, bench_bundles, target, precision, threads):
    """The exported student through its runtime (``load_bundle`` → ``Runner.run``), batch 1."""
    from scoligait_edge.bench.sources import export_case

    key = (target, precision)
    if key not in _cases:  # export (or fail) once per session, not once per thread setting
        _cases[key] = export_case(
            bench_models[0], target, precision, bench_bundles, flops=None, model_spec="student"
        )
    case = _cases[key]
    if not case.runnable:
        pytest.skip(f"{target} {precision}: {case.status}: {case.reason}")
    runner = case.load(threads)
    benchmark.group = f"models-{threads}thr"
    benchmark.extra_info.update(
        {"target": target, "precision": precision, "threads": threads, "size_bytes": case.size_bytes}
    )
    with thread_limit(threads):
        _measure(benchmark, lambda: runner.run(bench_example))
    _add_ratio(benchmark, threads)


def _add_ratio(benchmark, threads: int) -> None:
    med, ref = _stats_ms(benchmark), _ref_median.get(threads)
    if med and ref:
        benchmark.extra_info["ratio_to_reference"] = med / ref
