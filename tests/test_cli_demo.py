"""The CLI shell (one-line errors, every command documented) and the demo job end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.cli import app, main

EXE = [sys.executable, "-m", "scoligait_edge.cli"]


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_every_command_has_one_line_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    names = sorted(group.commands)
    for expected in (
        "synth",
        "pose",
        "kmap",
        "train",
        "distill",
        "evaluate",
        "explain",
        "export",
        "bench",
        "demo",
    ):
        assert expected in names
    for name, cmd in group.commands.items():
        assert cmd.help and cmd.help.strip(), f"command {name} has no help"


def test_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    res = _run(["kmap", str(bad), "--out", str(tmp_path / "m.npy")])
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "broken.npz" in lines[0] and "—" in lines[0]
    assert not (tmp_path / "m.npy").exists()


def test_main_turns_typed_errors_into_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["kmap", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "x.npy")])
    assert exc.value.code == 1
    assert "missing.npz" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_runs_end_to_end_and_refuses_foreign_dirs(tmp_path: Path) -> None:
    from scoligait_edge.data.dataset import load_index
    from scoligait_edge.demo import run_demo
    from scoligait_edge.errors import OutputExistsError

    out = tmp_path / "demo"
    summary = run_demo(out, subjects=10, frames=192, seed=1, export_target="onnx")
    index = load_index(out / "data")
    held_out = index[index["split"] != "train"]
    assert summary["clips"] == len(held_out) > 0
    assert {r["clip_id"] for r in summary["rows"]} == set(held_out["clip_id"])
    assert summary["export"]["bytes"] < 1_000_000
    assert summary["export"]["parity"], "the INT8 bundle carries a parity report"
    assert summary["stream_max_abs_diff"] <= 1e-5
    assert Path(summary["heatmap"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    explanation = json.loads((out / "explanation.json").read_text())
    assert set(explanation["top_features"]) == {"motion", "skeleton", "crosscorr"}
    probs = np.array([r["referral_prob"] for r in summary["rows"]])
    assert np.all((probs >= 0) & (probs <= 1))
    # re-running without --force refuses; a directory the demo did not make is never deleted
    with pytest.raises(OutputExistsError):
        run_demo(out, subjects=6, frames=128, seed=1, export_target="none")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(OutputExistsError):
        run_demo(foreign, subjects=6, frames=128, seed=1, export_target="none", force=True)
    assert (foreign / "precious.txt").read_text() == "keep me"
