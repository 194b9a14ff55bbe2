"""End-to-end per emitted window and the physical reference (matmul peak), as pytest-benchmarks.

Pose and the streaming knowledge map alone are in ``test_bench_pose.py`` / ``test_bench_kmap.py``.
Here: one emitted window = 16 frames pushed through ``StreamingKnowledgeMap`` + one student
inference (ONNX Runtime INT8 when it exports here, else the PyTorch FP32 student).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from scoligait_edge.bench.timing import thread_limit


@pytest.fixture(scope="module")
def e2e_case():
    from scoligait_edge.bench.sources import e2e_case as make_e2e
    from scoligait_edge.bench.sources import export_case, load_models, torch_case

    student, _ = load_models("student")
    with tempfile.TemporaryDirectory(prefix="scoligait-bench-e2e-") as d:
        model = export_case(student, "onnx", "int8", Path(d), flops=None, model_spec="student")
        if not model.runnable:
            model = torch_case("student/pytorch/fp32", "student", student, "student_fp32")
        case = make_e2e(model)
        if not case.runnable:
            pytest.skip(f"end-to-end unavailable: {case.reason}")
        yield case


def test_end_to_end_per_window(benchmark, e2e_case):
    """16 kmap pushes (one hop) + one inference, 1 thread: what a phone pays per emitted window."""
    with thread_limit(1):
        fn = e2e_case.setup(1)
        benchmark.group = "pipeline"
        benchmark.extra_info.update({"model": e2e_case.notes[0], "threads": 1, "unit": "window"})
        benchmark.pedantic(fn, rounds=30, iterations=2, warmup_rounds=2)


def test_matmul_peak(benchmark):
    """fp32 512×512 GEMM at 1 thread: the FLOP/s ceiling the student's achieved rate is compared to."""
    import torch

    a, b = torch.randn(512, 512), torch.randn(512, 512)
    with thread_limit(1):
        benchmark.group = "physical-reference"
        benchmark.pedantic(lambda: torch.mm(a, b), rounds=20, iterations=5, warmup_rounds=3)
    data = benchmark.stats.stats.data if getattr(benchmark, "stats", None) else None
    if data:
        benchmark.extra_info["best_gflop_per_s"] = 2 * 512**3 / min(data) / 1e9
