"""`scoligait-edge bench` end to end on the shipped student (ONNX FP32 only, to stay fast)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scoligait_edge.bench import report
from scoligait_edge.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    args = ["bench", "--quick", "--targets", "onnx", "--precisions", "fp32", "--no-pipeline"]
    r = CliRunner().invoke(app, [*args, "--json", str(d / "run.json"), "--markdown", str(d / "run.md")])
    assert r.exit_code == 0, r.output
    return r.output, d


def test_table_json_and_markdown(bench_run):
    out, d = bench_run
    data = json.loads((d / "run.json").read_text())
    ids = [r["id"] for r in data["rows"]]
    assert ids == ["teacher/pytorch/fp32", "student/pytorch/fp32", "student/onnx/fp32"]
    for word in ("teacher", "student", "onnx", "vs FP32 student"):
        assert word in out
    md = (d / "run.md").read_text()
    assert md.count("\n| ") == 4  # header + 3 rows
    assert data["machine"]["usable_cores"] >= 1 and data["settings"]["threads"] == [1]
    run = report.read_json(d / "run.json")
    assert run.flops["teacher"] > run.flops["student"] > 0


def test_onnx_fp32_matches_the_pytorch_student(bench_run):
    _, d = bench_run
    run = report.read_json(d / "run.json")
    onnx = run.row("student/onnx/fp32")
    assert onnx.status == report.PASSED, onnx.reason
    p = onnx.parity["vs_student_fp32"]
    assert p["n"] >= 100 and p["agreement"] == 1.0 and p["max_abs_dprob"] < 1e-4
    assert onnx.size_bytes > 10_000
    assert onnx.latency["1"]["median_ms"] > 0 and onnx.latency["1"]["ratio"] > 0
    assert onnx.speedup_vs_teacher["1"] > 1.0  # the distilled student is faster than the teacher


def test_refuses_to_overwrite_and_rejects_bad_options(tmp_path):
    out = tmp_path / "run.json"
    out.write_text("mine")
    r = CliRunner().invoke(app, ["bench", "--quick", "--json", str(out)])
    assert r.exit_code != 0 and out.read_text() == "mine"
    r = CliRunner().invoke(app, ["bench", "--quick", "--targets", "onxx", "--no-pipeline"])
    assert r.exit_code != 0 and "did you mean 'onnx'" in str(r.exception)
    r = CliRunner().invoke(app, ["bench", "--quick", "--threads", "zero"])
    assert r.exit_code != 0 and "--threads" in str(r.exception)
