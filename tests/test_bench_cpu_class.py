"""The gate holds on any CPU class: per-class baselines, the nearest-class fallback, known failures.

Everything here is synthetic or read from real measurements, so no expectation depends on the
CPU the tests run on. The cross-class rules are calibrated on ``tests/data/bench_classes/``: the
gate rows of ONE build (one student, one exporter) measured on three CPU classes (AMD Zen 3 AVX2,
AMD Zen 4 AVX-512 VNNI, Intel Xeon AMX). The live baselines in ``benchmarks/baselines/`` move on
with the shipped student one class at a time (only the class a session runs on can be re-measured),
so comparing them with each other would mix students; they are checked for what they must be
(one per class, small, gating the gate rows). The real-measurement proofs are in
``test_bench_gate.py``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scoligait_edge.bench import gate, machine, report
from scoligait_edge.cli import app
from scoligait_edge.errors import InputFileError, ScoliGaitError

REPO = Path(__file__).resolve().parents[1]
BASELINES = REPO / gate.BASELINE_DIR
SAME_BUILD = Path(__file__).resolve().parent / "data" / "bench_classes"
COMMITTED = ("x86-avx2-amd", "x86-avx512-vnni-amd", "x86-amx-intel")

ZEN3 = {"cpu_model": "AMD EPYC", "machine": "x86_64", "isa_flags": ["avx2", "fma", "f16c"]}
ZEN4 = {
    "cpu_model": "AMD EPYC",
    "machine": "x86_64",
    "isa_flags": ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni"],
}
SPR = {
    "cpu_model": "Intel(R) Xeon(R) Processor",
    "cpu_vendor": "intel",
    "machine": "x86_64",
    "isa_flags": ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8"],
}
ICELAKE = {
    "cpu_model": "Intel Xeon Gold",
    "machine": "x86_64",
    "isa_flags": ["avx2", "avx512f", "avx512_vnni"],
}


def committed(name: str) -> report.BenchRun:
    """The same-build measurement of class ``name`` (see the module docstring)."""
    return report.read_json(SAME_BUILD / f"{name}.json")


def as_run(base: report.BenchRun) -> report.BenchRun:
    """A baseline file read back as if it were a check's run on its machine (an unchanged build)."""
    return report.BenchRun.from_dict(base.to_dict())


def slowed(run: report.BenchRun, row_id: str, factor: float) -> report.BenchRun:
    out = as_run(run)
    lat = out.row(row_id).latency["1"]
    lat["ratio"] *= factor
    lat["median_ms"] *= factor
    return out


def latency_gated(base: report.BenchRun) -> list[str]:
    return [r.id for r in base.rows if r.ratio(1) and r.gate.get("latency") is not False]


# ------------------------------------------------------------------------------- classes


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        (ZEN3, "x86-avx2-amd"),
        (ZEN4, "x86-avx512-vnni-amd"),
        (SPR, "x86-amx-intel"),
        (ICELAKE, "x86-avx512-vnni-intel"),
        (
            {"cpu_model": "Intel Xeon", "machine": "x86_64", "isa_flags": ["avx2", "avx512f"]},
            "x86-avx512-intel",
        ),
        (
            {"cpu_model": "12th Gen Intel Core", "machine": "x86_64", "isa_flags": ["avx2", "avx_vnni"]},
            "x86-avx-vnni-intel",
        ),
        ({"cpu_model": "QEMU Virtual CPU", "machine": "x86_64", "isa_flags": []}, "x86-sse"),
        (
            {"cpu_model": "", "cpu_vendor": "arm", "machine": "aarch64", "isa_flags": ["asimd", "asimddp"]},
            "arm64-dotprod-arm",
        ),
        ({"cpu_model": "", "machine": "aarch64", "isa_flags": ["asimd", "asimddp", "i8mm"]}, "arm64-i8mm"),
        ({}, machine.UNKNOWN_CLASS),
    ],
)
def test_cpu_class_from_isa_flags_and_vendor(m, expected):
    assert machine.cpu_class(m) == expected


def test_py_cpuinfo_spellings_and_a_recorded_class_win():
    assert machine.isa_class(["avx512vnni", "avx512f"]) == "x86-avx512-vnni"  # py-cpuinfo drops "_"
    assert machine.cpu_class({**ZEN3, "cpu_class": "x86-avx2-amd"}) == "x86-avx2-amd"


def test_this_machine_has_a_class_and_reports_it():
    info = machine.machine_info()
    assert info["cpu_class"] == machine.cpu_class() and info["cpu_class"] != machine.UNKNOWN_CLASS
    assert info["cpu_class"].startswith(info["isa_class"])


def test_class_distance_orders_isa_tiers_then_vendor():
    d = machine.class_distance
    assert d("x86-avx2-amd", "x86-avx2-amd") == 0
    assert d("x86-avx512-vnni-intel", "x86-avx512-vnni-amd") == 0.5  # same tier, other vendor
    assert d("x86-avx512-amd", "x86-avx512-vnni-amd") < d("x86-avx512-amd", "x86-avx2-amd")
    assert d("arm64-dotprod-arm", "x86-avx2-amd") >= 100  # other architecture: last resort
    assert machine.split_class("x86-avx512-vnni-amd") == ("x86-avx512-vnni", "amd")


# ------------------------------------------------------------------------------- baselines


def test_committed_baselines_one_per_class_small_and_gating_the_gate_rows():
    found = gate.load_baselines(BASELINES)
    assert set(COMMITTED) <= set(found)
    for cls, (path, base) in found.items():
        assert path.stat().st_size < 32_000, f"{path} should stay small"
        assert [r.id for r in base.rows] == list(gate.GATE_ROWS), cls
        assert base.settings["gate"]["rows"] == list(gate.GATE_ROWS)
        assert base.settings.get("baseline_source"), f"{path} must say where its numbers come from"


def test_the_calibration_set_is_one_build_on_three_classes():
    runs = {n: committed(n) for n in COMMITTED}
    assert {machine.cpu_class(r.machine) for r in runs.values()} == set(COMMITTED)
    assert len({r.settings["student_sha256"] for r in runs.values()}) == 1
    assert all(not gate.weights_differ(runs[a], runs[b]) for a, b in itertools.permutations(runs, 2))
    assert all([r.id for r in run.rows] == list(gate.GATE_ROWS) for run in runs.values())


def test_the_avx2_baseline_keeps_its_known_parity_failure():
    # Zen 3 ran the first landing's saturating U8S8 recipe: ORT INT8 failed parity there. The
    # derived baseline keeps that status (no invented numbers) so the gate names it every time.
    row = committed("x86-avx2-amd").row("student/onnx/int8")
    assert row.status == report.PARITY_FAILED and "agreement 88.02%" in row.reason


def _dir_with(tmp_path: Path, *names: str) -> Path:
    d = tmp_path / "baselines"
    d.mkdir(exist_ok=True)
    for n in names:
        (d / f"{n}.json").write_text((SAME_BUILD / f"{n}.json").read_text())
    return d


def test_choose_exact_class_then_nearest_never_nothing(tmp_path):
    d = _dir_with(tmp_path, *COMMITTED)
    exact = gate.choose_baseline(d, "x86-avx2-amd")
    assert exact.exact and exact.path.name == "x86-avx2-amd.json" and exact.notice() is None
    ice = gate.choose_baseline(d, "x86-avx512-vnni-intel")  # same tier as Zen 4, other vendor
    assert not ice.exact and ice.cpu_class == "x86-avx512-vnni-amd"
    note = ice.notice()
    assert "no baseline for CPU class x86-avx512-vnni-intel" in note and "cross-class" in note
    assert "bench baseline --update" in note and "x86-avx512-vnni-intel.json" in note
    assert "\n" not in note
    arm = gate.choose_baseline(d, "arm64-dotprod-arm")  # no ARM baseline at all: still gated
    assert not arm.exact and arm.cpu_class in COMMITTED


def test_empty_or_missing_baseline_dir_is_a_typed_error_not_a_pass(tmp_path):
    (tmp_path / "empty").mkdir()
    for p in (tmp_path / "empty", tmp_path / "nowhere"):
        with pytest.raises(InputFileError, match="compare nothing") as ei:
            gate.choose_baseline(p, "x86-avx2-amd")
        assert "bench baseline --update" in ei.value.remedy


def test_a_baseline_file_named_for_another_class_is_refused(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    (d / "x86-amx-intel.json").write_text((SAME_BUILD / "x86-avx2-amd.json").read_text())
    with pytest.raises(InputFileError, match="measured on CPU class x86-avx2-amd"):
        gate.load_baselines(d)


# ------------------------------------------------------------------------------- the gate


def test_cross_class_tolerances_cover_every_measured_class_pair_with_margin():
    spread = gate.cross_class_spread({n: committed(n) for n in COMMITTED})
    assert len(spread) == 6
    for pair, s in spread.items():
        assert s["peer_max"] < gate.CROSS_CLASS_TOLERANCE - 0.1, pair
        assert s["anchor_max"] < gate.CROSS_CLASS_TOLERANCE - 0.1, pair
    # …while the raw ratio shifts between classes are far beyond the native tolerance
    assert max(s["raw_max"] for s in spread.values()) > 1.0


@pytest.mark.parametrize(("cur", "base"), list(itertools.permutations(COMMITTED, 2)))
def test_unchanged_build_passes_against_every_other_class_via_the_fallback(cur, base):
    b, run = committed(base), as_run(committed(cur))
    res = gate.compare(b, run)
    assert res.cross_class and res.baseline_class == base and res.current_class == cur
    assert not [r for r in res.regressions if r.what.startswith("latency")]
    # the only other finding is real: Zen 3's ORT INT8 (saturating recipe) failed parity there
    expected = [("student/onnx/int8", "status")] if cur == "x86-avx2-amd" else []
    assert [(r.row_id, r.what) for r in res.regressions] == expected


@pytest.mark.parametrize("cls", COMMITTED)
def test_unchanged_build_passes_against_its_own_class(cls):
    res = gate.compare(committed(cls), as_run(committed(cls)))
    assert res.ok and not res.cross_class and len(res.passed) == len(gate.GATE_ROWS)


@pytest.mark.parametrize("cls", COMMITTED)
@pytest.mark.parametrize("factor", [2.0, 3.0])
def test_a_row_2x_or_3x_slower_fails_against_its_own_class(cls, factor):
    base = committed(cls)
    for rid in latency_gated(base):
        res = gate.compare(base, slowed(base, rid, factor))
        assert [(r.row_id, r.what) for r in res.regressions] == [(rid, "latency@1thr")], rid


@pytest.mark.parametrize(("cur", "base"), list(itertools.permutations(COMMITTED, 2)))
def test_a_row_3x_slower_fails_via_the_fallback_on_every_class_pair(cur, base):
    b, run = committed(base), committed(cur)
    for rid in latency_gated(b):
        res = gate.compare(b, slowed(run, rid, 3.0))
        lat = [r for r in res.regressions if r.what.startswith("latency")]
        if rid == "student/onnx/int8" and cur == "x86-avx2-amd":  # already a regression: its status
            assert not lat and any(r.row_id == rid for r in res.regressions)
            continue
        assert [r.row_id for r in lat] == [rid], (cur, base, rid)
        assert "cross-class tolerance" in lat[0].detail


def test_a_row_2x_slower_fails_via_the_fallback_unless_its_class_shift_hides_it():
    # A 2× slowdown is caught across classes unless the row itself got ≥ 15 % faster than both
    # its peers and the anchor between the two classes (2 × 0.85 = 1.70 = the tolerance).
    caught = total = 0
    spread = gate.cross_class_spread({n: committed(n) for n in COMMITTED})
    for cur, base in itertools.permutations(COMMITTED, 2):
        b, run = committed(base), committed(cur)
        for rid in latency_gated(b):
            res = gate.compare(b, slowed(run, rid, 2.0))
            hit = any(r.row_id == rid for r in res.regressions)
            shifts = spread[f"{cur} vs {base}"]["rows"][rid]
            shift = max(v for k, v in shifts.items() if k != "raw" and v is not None)
            if shift > -0.10:
                assert hit, (cur, base, rid, shift)
            caught += hit
            total += 1
    assert caught / total > 0.6


@pytest.mark.parametrize(("cur", "base"), list(itertools.permutations(COMMITTED, 2)))
def test_a_slower_student_everywhere_fails_via_the_fallback_against_the_anchor(cur, base):
    # Every student row 2× slower at once (a heavier student): the peers' median moves with them,
    # the teacher (fixed weights) does not.
    b, run = committed(base), as_run(committed(cur))
    for row in run.rows:
        if row.id != gate.ANCHOR_ROW and row.id != "pipeline/kmap-stream":
            for lat in row.latency.values():
                lat["ratio"] *= 2.0
    res = gate.compare(b, run)
    lat = [r for r in res.regressions if r.what.startswith("latency")]
    assert lat and all(gate.ANCHOR_ROW in r.detail for r in lat), [r.line() for r in res.regressions]


def test_a_lone_row_cannot_be_judged_across_classes_and_says_so():
    b = committed("x86-avx2-amd")
    b.rows = [b.row("student/onnx/fp32")]
    run = as_run(committed("x86-amx-intel"))
    res = gate.compare(b, run)
    assert [r.detail for r in res.regressions] == ["no other gated row to compare with across CPU classes"]


@pytest.mark.parametrize("cross", [False, True])
def test_a_parity_break_fails_on_both_paths(cross):
    base = committed("x86-amx-intel")
    run = as_run(base)
    row = run.row("student/litert/int8")
    row.parity["vs_student_fp32"].update(agreement=0.9, max_abs_dprob=0.4)
    res = gate.compare(base, run, cross_class=cross)
    assert res.cross_class is cross
    assert {(r.row_id, r.what) for r in res.regressions} == {
        ("student/litert/int8", "parity vs_student_fp32")
    }
    assert any("agreement 90.00%" in r.detail for r in res.regressions)
    row.status, row.reason = report.PARITY_FAILED, "vs FP32 student: agreement 90.00% < 95.00%"
    res = gate.compare(base, run, cross_class=cross)
    assert [(r.row_id, r.what) for r in res.regressions] == [("student/litert/int8", "status")]


def test_known_parity_failure_gates_latency_and_status_not_parity():
    base = committed("x86-avx2-amd")
    same = gate.compare(base, as_run(base))
    assert same.ok and "student/onnx/int8" in same.passed
    assert any("known parity failure" in n and "student/onnx/int8" in n for n in same.notes)
    slow = gate.compare(base, slowed(base, "student/onnx/int8", 2.0))
    assert [(r.row_id, r.what) for r in slow.regressions] == [("student/onnx/int8", "latency@1thr")]
    broke = as_run(base)
    broke.row("student/onnx/int8").status = report.FAILED
    assert [r.what for r in gate.compare(base, broke).regressions] == ["status"]
    fixed = as_run(base)
    fixed.row("student/onnx/int8").status = report.PASSED
    res = gate.compare(base, fixed)
    assert res.ok and any("passes parity now" in n for n in res.notes)


def test_a_gate_that_compares_nothing_fails():
    base = committed("x86-amx-intel")
    empty = report.BenchRun(reference=dict(base.reference), machine=dict(base.machine))
    for b in base.rows:  # every row became a pipeline stage unavailable here: nothing judged
        empty.rows.append(report.Row(id=b.id, kind="pipeline", label=b.label, status=report.UNAVAILABLE))
    res = gate.compare(base, empty)
    assert [r.what for r in res.regressions] == ["nothing compared"]


def test_build_notes_name_a_baseline_measured_for_other_code():
    base = committed("x86-amx-intel")
    notes = gate.build_notes(
        base, {"exporter_sha256": "f" * 64, "student_sha256": base.settings["student_sha256"]}
    )
    assert len(notes) == 1 and "export/calibration code" in notes[0] and "bench baseline --update" in notes[0]


# ------------------------------------------------------------------------------- CLI


def _write(tmp_path: Path, name: str, run: report.BenchRun) -> Path:
    p = tmp_path / name
    p.write_text(report.to_json(run))
    return p


def test_cli_check_uses_the_runs_class_and_says_when_it_falls_back(tmp_path):
    d = _dir_with(tmp_path, "x86-avx2-amd", "x86-avx512-vnni-amd")
    cur = as_run(committed("x86-amx-intel"))  # a class with no baseline in d
    ok = CliRunner().invoke(
        app, ["bench", "check", "--baseline", str(d), "--current", str(_write(tmp_path, "a.json", cur))]
    )
    assert ok.exit_code == 0, ok.output
    assert "NOTICE no baseline for CPU class x86-amx-intel" in ok.output
    assert "cross-class vs x86-avx512-vnni-amd" in ok.output  # nearest: AVX-512 VNNI, not AVX2
    slow = _write(tmp_path, "b.json", slowed(cur, "student/openvino/int8", 3.0))
    bad = CliRunner().invoke(app, ["bench", "check", "--baseline", str(d), "--current", str(slow)])
    assert bad.exit_code != 0
    assert "REGRESSION student/openvino/int8: latency@1thr" in bad.output and "NOTICE" in bad.output


def test_cli_check_against_its_own_class_is_strict(tmp_path):
    d = _dir_with(tmp_path, *COMMITTED)
    base = committed("x86-avx512-vnni-amd")
    ok = CliRunner().invoke(
        app, ["bench", "check", "--baseline", str(d), "--current", str(_write(tmp_path, "a.json", base))]
    )
    assert ok.exit_code == 0 and "NOTICE" not in ok.output and "(CPU class x86-avx512-vnni-amd)" in ok.output
    slow = _write(tmp_path, "b.json", slowed(base, "student/onnx/fp32", 1.5))
    bad = CliRunner().invoke(app, ["bench", "check", "--baseline", str(d), "--current", str(slow)])
    assert bad.exit_code != 0 and "REGRESSION student/onnx/fp32: latency@1thr +50% vs baseline" in bad.output


def test_cli_baseline_from_a_recorded_run_writes_its_class_file_with_the_gate_rows(tmp_path, monkeypatch):
    src = _write(tmp_path, "run.json", as_run(committed("x86-avx2-amd")))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["bench", "baseline", "--update", "--current", str(src)])
    assert r.exit_code == 0, r.output
    out = tmp_path / gate.BASELINE_DIR / "x86-avx2-amd.json"
    data = json.loads(out.read_text())
    assert [row["id"] for row in data["rows"]] == list(gate.GATE_ROWS)
    assert data["machine"]["cpu_class"] == "x86-avx2-amd" and data["settings"]["baseline_source"] == [
        str(src)
    ]


def test_baseline_refuses_runs_of_different_classes():
    with pytest.raises(ScoliGaitError, match="different CPU classes"):
        gate.make_baseline([as_run(committed("x86-avx2-amd")), as_run(committed("x86-amx-intel"))])


def test_check_measures_exactly_the_gated_rows():
    from scoligait_edge.cli.bench_cmd import _options_like

    base = committed("x86-avx2-amd")
    opts = _options_like(base, None)
    assert opts.rows == gate.GATE_ROWS and opts.quick and opts.pipeline
    assert opts.targets == "onnx,openvino,litert" and opts.precisions == "fp32,int8"
