"""`scoligait-edge export | calibrate | targets`: typed errors become one line + exit 1; summaries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from scoligait_edge.cli import main
from scoligait_edge.models import Student, save_model, student_config
from scoligait_edge.prompts import PROMPTS

torch.set_num_threads(1)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    m = Student(student_config(dim=32, depth=1, heads=2, latents=4, latent_heads=2, n_prompts=len(PROMPTS)))
    return save_model(m, tmp_path_factory.mktemp("m") / "tiny.pt")


def test_unknown_target_is_one_line_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "export", "--target", "onxx")
    assert code == 1 and "did you mean 'onnx'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_option_the_target_does_not_take(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "export", "--target", "onnx", "--dla-core", "0")
    assert code == 1 and "does not take option 'dla_core'" in err
    code, _, err = _run(capsys, "export", "--target", "onnx", "--calib", "x.npz")
    assert code == 1 and "only apply to --precision int8" in err


def test_export_writes_bundle_and_prints_summary(
    capsys: pytest.CaptureFixture[str], ckpt: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b"
    code, stdout, err = _run(
        capsys, "export", "--target", "onnx", "--model", str(ckpt), "--out", str(out), "--no-validate"
    )
    assert code == 0, err
    assert f"wrote {out}" in stdout and "model.onnx" in stdout and "parity: skipped" in stdout
    assert json.loads((out / "manifest.json").read_text())["model"]["parameters"] > 0
    code, _, err = _run(
        capsys, "export", "--target", "onnx", "--model", str(ckpt), "--out", str(out), "--no-validate"
    )
    assert code == 1 and "already exists" in err and "--force" in err


def test_missing_model_is_typed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(
        capsys, "export", "--target", "onnx", "--model", str(tmp_path / "no.pt"), "--out", str(tmp_path / "o")
    )
    assert code == 1 and "not found" in err and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_calibrate_then_export_int8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from scoligait_edge.data.synth import make_dataset

    data = make_dataset(tmp_path / "d", subjects=12, clips_per_subject=2, frames=192, seed=1)
    calib = tmp_path / "c.npz"
    code, stdout, err = _run(capsys, "calibrate", "--data", str(data), "--out", str(calib), "--size", "24")
    assert code == 0, err and "windows" in stdout
    code, stdout, err = _run(
        capsys, "export", "-t", "onnx", "-p", "int8", "--calib", str(calib),  # the shipped student
        "--data", str(data), "--calib-method", "percentile", "--out", str(tmp_path / "q"),
    )  # fmt: skip
    assert code == 0, err
    man = json.loads((tmp_path / "q" / "manifest.json").read_text())
    assert man["calibration"]["method"] == "percentile" and man["parity"]["passed"]
    assert man["parity"]["data"].startswith("d:") and "agreement" in stdout
    code, _, err = _run(capsys, "calibrate", "--data", str(data), "--out", str(calib))
    assert code == 1 and "already exists" in err


def test_calibrate_rejects_small_size(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = _run(
        capsys, "calibrate", "--data", str(tmp_path), "--out", str(tmp_path / "c.npz"), "--size", "4"
    )
    assert code != 0 and not (tmp_path / "c.npz").exists()


def test_targets_lists_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(capsys, "targets", "--no-check")
    assert code == 0
    for name in ("onnx", "tensorrt", "openvino", "ort-mobile", "litert", "executorch"):
        assert name in stdout
    assert np.char.count(stdout, "int8") >= 5
