"""The device profile: `pip install scoligait-edge` (no extras) has no torch, and still runs
`verify` and `screen` with an exported bundle; full-install commands fail with one line.

The venv is built once per pyproject/constraints content under the main venv's share directory
(pip from the registries configured on the machine, pinned by constraints.txt).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scoligait_edge.export import export_model

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _device_venv() -> Path:
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes())
    base = Path(sys.prefix) / "share" / "scoligait-edge"
    venv = base / f"device-venv-{key.hexdigest()[:12]}"
    if (venv / ".ok").is_file():
        return venv
    for old in base.glob("device-venv-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = base / f".device-venv-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
    res = subprocess.run(
        [str(tmp / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
         "-e", str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"could not build the device venv: {res.stderr.strip().splitlines()[-1][:300]}")
    # venvs are not relocatable: rebuild at the final path's name by renaming and fixing nothing — the
    # console scripts use absolute shebangs, so run everything through `python -m` below
    tmp.rename(venv)
    (venv / ".ok").write_text("ok\n")
    return venv


@pytest.fixture(scope="module")
def device_python() -> Path:
    return _device_venv() / "bin" / "python"


@pytest.fixture(scope="module")
def bundle_and_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from scoligait_edge.data.synth import make_dataset

    d = tmp_path_factory.mktemp("dev")
    bundle = export_model(None, "onnx", d / "bundle", precision="int8", validate=False)
    make_dataset(d / "ds", subjects=3, clips_per_subject=1, frames=160, seed=5)
    return bundle, next((d / "ds" / "clips").glob("*.npz"))


def _cli(py: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), "-m", "scoligait_edge.cli", *args], capture_output=True, text=True)


def test_device_install_has_no_torch(device_python: Path) -> None:
    res = subprocess.run(
        [str(device_python), "-c", "import importlib.util as u; "
         "print([m for m in ('torch', 'onnx', 'openvino', 'sklearn', 'pandas') if u.find_spec(m)])"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


def test_device_install_verifies_and_screens(
    device_python: Path, bundle_and_clip: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, clip = bundle_and_clip
    res = _cli(device_python, "verify", str(bundle))
    assert res.returncode == 0 and "PASS" in res.stdout, res.stderr[-500:]
    out = tmp_path / "screen"
    res = _cli(device_python, "screen", str(clip), "--bundle", str(bundle), "--out", str(out))
    assert res.returncode == 0, res.stderr[-800:]
    assert (out / clip.stem / "result.json").is_file() and (out / clip.stem / "report.html").is_file()


def test_full_install_commands_fail_with_one_line(device_python: Path, tmp_path: Path) -> None:
    res = _cli(device_python, "export", "--target", "onnx", "--out", str(tmp_path / "x"))
    errors = [line for line in res.stderr.splitlines() if line.startswith(("error", "internal error"))]
    assert res.returncode == 1 and len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "cannot export here" in errors[0] and "scoligait-edge[full]" in errors[0]
    assert not (tmp_path / "x").exists()
