"""INT8 bundles proven on the device classes they are made for: ``verify`` natively and in the
emulated lanes (qemu x86-64 Haswell = AVX2 without VNNI, qemu AArch64 Cortex-A76 = phones/Jetson CPUs).

Expectations never depend on the CPU the tests run on: portable bundles must pass everywhere; the
full-range U8S8 recipe (correct only with VNNI or ARM dot products) must fail on the AVX2 lane,
which emulates the same kernels on every host.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scoligait_edge.export import export_model, load_bundle
from scoligait_edge.export import targets as T
from scoligait_edge.export.bundle import file_entries, read_manifest, write_manifest

from scoligait_edge.errors import BundleError, ParityError, TargetError
from scoligait_edge.runtime import lanes
from scoligait_edge.runtime.verify import verify_in_lane

pytestmark = pytest.mark.slow

#: (bundle id, target, export options) — every INT8 path of the target table, default (portable) device.
INT8_BUNDLES = {
    "onnx": ("onnx", {}),
    "onnx-dynamic": ("onnx", {"int8_mode": "dynamic"}),
    "ort-mobile": ("ort-mobile", {}),
    "openvino": ("openvino", {}),
    "tensorrt": ("tensorrt", {}),
    "litert": ("litert", {}),
    "executorch": ("executorch", {}),
}
LANES = ("native", "x86-avx2", "arm64")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped student exported to every INT8 path (CLI defaults: synthetic calibration/parity)."""
    root = tmp_path_factory.mktemp("int8")
    out = {}
    for key, (target, kw) in INT8_BUNDLES.items():
        if T.availability(target) is not True:
            continue
        out[key] = export_model(None, target, root / key, precision="int8", **kw)
    return out


def _lane_or_skip(lane: str) -> None:
    ok = lanes.availability(lane)
    if ok is not True:
        pytest.skip(f"lane {lane} cannot run here: {ok}")


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize("key", list(INT8_BUNDLES))
def test_int8_bundle_passes_verify_in_lane(bundles: dict[str, Path], key: str, lane: str) -> None:
    if key not in bundles:
        pytest.skip(
            f"target {INT8_BUNDLES[key][0]} cannot export here: {T.availability(INT8_BUNDLES[key][0])}"
        )
    _lane_or_skip(lane)
    rep = verify_in_lane(bundles[key], lane)
    if rep.get("passed") is None:
        pytest.skip(f"lane {lane}: {rep['skipped']}")  # e.g. no OpenVINO wheel in the ARM64 lane
    assert rep["passed"], rep.get("failures") or rep.get("error")
    if lane == "x86-avx2":
        assert rep["cpu"]["device_class"] == "x86-avx2"  # the emulated CPUID, not the host's flags
    if lane == "arm64":
        assert rep["cpu"]["machine"] == "aarch64"
    man = read_manifest(bundles[key])
    assert man["int8_recipe"]["portable"] and man["device_class"] == "any"
    exp = rep["checks"].get("vs_expected")
    if exp is not None:  # the integer kernels compute the quantized graph as its float evaluation does
        assert exp["outputs"]["referral_logit"]["max_abs"] < 0.25


@pytest.fixture(scope="module")
def vnni_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first landing's recipe (U8S8, full-range int8 weights), asked for with ``--device x86-vnni``."""
    root = tmp_path_factory.mktemp("vnni")
    return {
        t: export_model(None, t, root / t, precision="int8", device="x86-vnni", validate=False)
        for t in ("onnx", "ort-mobile")
    }


@pytest.mark.parametrize("target", ["onnx", "ort-mobile"])
def test_saturating_recipe_is_caught_on_the_avx2_lane(vnni_only: dict[str, Path], target: str) -> None:
    _lane_or_skip("x86-avx2")
    man = read_manifest(vnni_only[target])
    assert man["device_class"] == "x86-vnni" and not man["int8_recipe"]["portable"]
    assert "x86-avx2" not in man["int8_recipe"]["valid_on"] and not man["int8_recipe"]["reduce_range"]
    rep = verify_in_lane(vnni_only[target], "x86-avx2")
    assert rep["passed"] is False and rep["recipe_valid_here"] is False
    gap = rep["checks"]["vs_expected"]["outputs"]["referral_logit"]["max_abs"]
    assert gap > 0.25, "int16 saturation must move logits far beyond the kernel tolerance"
    assert any(f.startswith("vs_expected:") for f in rep["failures"])


def test_saturating_recipe_is_correct_on_arm64(vnni_only: dict[str, Path]) -> None:
    _lane_or_skip("arm64")
    rep = verify_in_lane(vnni_only["onnx"], "arm64")
    assert rep["passed"], rep.get("failures")  # ARM dot-product kernels accumulate in int32
    assert rep["recipe_valid_here"] is True


def test_verify_cli_exits_nonzero_with_one_line(vnni_only: dict[str, Path]) -> None:
    _lane_or_skip("x86-avx2")
    exe = Path(sys.executable).with_name("scoligait-edge")
    res = subprocess.run(
        [str(exe), "verify", str(vnni_only["onnx"]), "--lane", "x86-avx2"], capture_output=True, text=True
    )
    assert res.returncode == 1
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "fails its golden vectors in lane(s) x86-avx2" in err[0]
    assert "Traceback" not in res.stderr


def test_verify_needs_no_torch(bundles: dict[str, Path]) -> None:
    """The device side imports numpy and the runtime only (phones and the ARM64 lane have no torch)."""
    code = (
        "import sys; from scoligait_edge.runtime.verify import verify; "
        f"r = verify({str(bundles['onnx'])!r}); "
        "assert r['passed'], r; bad = [m for m in ('torch', 'onnxscript', 'sklearn') if m in sys.modules]; "
        "assert not bad, bad; print('ok')"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-500:]


def _rehash(path: Path) -> None:
    man = read_manifest(path)
    man["files"] = file_entries(path)
    write_manifest(path, man)


def test_self_test_refuses_a_bundle_whose_golden_outputs_disagree(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    """A runtime that computes wrong numbers (simulated: expected outputs moved by 1 logit) is refused."""
    p = tmp_path / "b"
    shutil.copytree(bundles["onnx"], p)
    with np.load(p / "golden.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["expected/referral_logit"] = arrays["expected/referral_logit"] + 1.0
    np.savez_compressed(p / "golden.npz", **arrays)
    with pytest.raises(BundleError, match=r"bundle file golden\.npz"):
        load_bundle(p)
    _rehash(p)
    assert load_bundle(p).run  # loads without the self-test…
    with pytest.raises(ParityError, match=r"vs_expected: referral_logit max \|Δ\| 1 > 0.25"):
        load_bundle(p, self_test=True)  # …and is refused with it


def test_old_schema_bundles_are_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    p = tmp_path / "v1"
    shutil.copytree(bundles["onnx"], p)
    man = json.loads((p / "manifest.json").read_text())
    man["schema_version"] = 1
    (p / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(BundleError, match="schema version 1, this toolkit reads 2"):
        load_bundle(p)


def test_device_option_is_validated() -> None:
    with pytest.raises(TargetError, match="did you mean 'x86-vnni'"):
        T.validate_options("onnx", precision="int8", device="x86-vnn")
    with pytest.raises(TargetError, match="use one of: any, jetson"):
        T.validate_options("tensorrt", precision="int8", device="arm64")
    assert T.get_target("openvino").recipe("any").overflow_fix == "ENABLE"
    assert T.get_target("onnx").recipe("x86-vnni").valid_on == ("x86-vnni", "arm64")
    for t in T.TARGETS.values():  # the default device class of every INT8 path is portable
        if "int8" in t.precisions and t.int8_recipes:
            assert t.recipe("any").portable, t.name
