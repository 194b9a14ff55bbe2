"""Every target that can work here: export → bundle → load_bundle → same Runner API → parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scoligait_edge.calibration import CalibrationSet
from scoligait_edge.export import export_model, load_bundle
from scoligait_edge.export import targets as T
from scoligait_edge.export.sources import random_heldout

from scoligait_edge.errors import UnavailableError
from scoligait_edge.models import Student, student_config
from scoligait_edge.runtime.base import TorchRunner, make_inputs

torch.set_num_threads(1)


def tiny_student(seed: int = 0) -> Student:
    torch.manual_seed(seed)
    m = Student(student_config(dim=32, depth=1, heads=2, latents=4, latent_heads=2, n_prompts=2))
    m.set_normalization(torch.zeros(238), torch.ones(238), 15.0, 10.0)
    with torch.no_grad():  # an untrained head puts every window near one logit: spread the logits and
        m.head_referral.weight.mul_(30.0)  # put the 0.5 threshold in the widest gap of the held-out
        x = make_inputs(12, seed=3, n_prompts=2)  # logits, so agreement checks measure quantization
        lg = np.sort(m.eval()(*(torch.from_numpy(v) for v in x.values()))["referral_logit"].numpy())
        mid = lg[3:9]
        k = int(np.argmax(np.diff(mid)))
        m.head_referral.bias -= float(mid[k] + mid[k + 1]) / 2
    return m.eval()


@pytest.fixture(scope="module")
def model() -> Student:
    return tiny_student()


@pytest.fixture(scope="module")
def calib() -> CalibrationSet:
    return CalibrationSet(**make_inputs(24, seed=11, n_prompts=2), source="random test windows")


@pytest.fixture(scope="module")
def held(model: Student) -> dict:
    h = random_heldout(12, seed=3)
    # labels = the reference decisions (classes separated by a wide logit margin), so the report's
    # AUC/F1 deltas measure quantization and not ties among random labels
    h["labels"] = (TorchRunner(model).run(h)["referral_prob"] >= 0.5).astype(int)
    assert 0 < h["labels"].sum() < len(h["labels"])
    return h


def _manifest(p: Path) -> dict:
    return json.loads((p / "manifest.json").read_text())


def _check_runner(path: Path, model: Student, atol: float, **load_kw: object) -> dict:
    r = load_bundle(path, **load_kw)
    x = make_inputs(3, seed=21, n_prompts=2)
    got, ref = r.run(x), TorchRunner(model).run(x)
    assert list(got) == list(ref) and got["saliency"].shape == (3, 96, 238)
    assert all(v.dtype == np.float32 for v in got.values())
    assert np.abs(got["referral_prob"] - ref["referral_prob"]).max() <= atol
    return _manifest(path)


def _size(p: Path, name: str) -> int:
    return _manifest(p)["files"][name]["bytes"]


@pytest.fixture(scope="module")
def onnx_fp32(tmp_path_factory: pytest.TempPathFactory, model: Student, held: dict) -> Path:
    return export_model(model, "onnx", tmp_path_factory.mktemp("e") / "fp32", parity_data=held)


def test_onnx_fp32_dynamic_batch_and_parity(onnx_fp32: Path, model: Student) -> None:
    man = _check_runner(onnx_fp32, model, 1e-5)
    p = man["parity"]["kernels"]
    assert p["passed"] and p["decision_agreement"] == 1.0 and p["auc_delta"] == pytest.approx(0, abs=1e-6)
    assert p["outputs"]["referral_logit"]["max_abs"] < 1e-4
    assert "skipped" in man["parity"]["numerics"]  # fp32: nothing quantized to evaluate separately
    assert man["backend"]["onnxslim"] is True
    import onnx

    m = onnx.load(str(onnx_fp32 / "model.onnx"))
    onnx.checker.check_model(m, full_check=True)
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    assert m.opset_import[0].version >= 18


def test_input_layers_are_the_first_projections_of_an_input(onnx_fp32: Path) -> None:
    from scoligait_edge.export.onnx_backend import input_layers, linear_nodes

    onnx_file = onnx_fp32 / "model.onnx"
    pixel, km = input_layers(onnx_file, "silhouette"), input_layers(onnx_file, "kmap")
    assert len(pixel) == 1 and set(pixel) <= set(linear_nodes(onnx_file))  # the frames → tokens MatMul
    assert km and not set(km) & set(pixel)  # the kmap patch embedding is another layer
    assert input_layers(onnx_file, "no_such_input") == []


def test_onnx_static_batch_runner_chunks_and_pads(tmp_path: Path, model: Student) -> None:
    p = export_model(model, "onnx", tmp_path / "b2", dynamic=False, batch=2, validate=False)
    r = load_bundle(p)
    assert r.fixed_batch == 2 and _manifest(p)["inputs"][0]["shape"][0] == 2
    x = make_inputs(5, seed=4, n_prompts=2)
    np.testing.assert_allclose(r.run(x)["cobb_angle"], TorchRunner(model).run(x)["cobb_angle"], atol=1e-4)


def test_onnx_fp16_is_half_size(tmp_path: Path, model: Student, onnx_fp32: Path, held: dict) -> None:
    p = export_model(model, "onnx", tmp_path / "fp16", precision="fp16", parity_data=held)
    _check_runner(p, model, 1e-2)
    assert _size(p, "model.onnx") < 0.6 * _size(onnx_fp32, "model.onnx")


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_onnx_int8_static_qdq(
    tmp_path: Path, model: Student, calib: CalibrationSet, held: dict, method: str
) -> None:
    p = export_model(
        model, "onnx", tmp_path / method, precision="int8", calib=calib, calib_method=method, parity_data=held
    )
    man = _check_runner(p, model, 0.1)
    b = man["backend"]
    assert b["calibration_method"] == method and b["per_channel"] and b["nodes_quantized"] >= 5
    assert b["quantized_nodes"]["QuantizeLinear"] > 0
    assert man["calibration"]["hash"] == calib.hash and man["calibration"]["method"] == method
    par = man["parity"]
    assert par["passed"] and "auc_delta" in par["kernels"] and "auc_delta" in par["numerics"]
    assert par["kernel_gap"]["passed"] and par["golden"]["passed"]
    # the portable recipe (the default): 7-bit weights, correct on every CPU class
    assert man["device_class"] == "any" and man["int8_recipe"]["reduce_range"] and b["reduce_range"]
    assert man["int8_recipe"]["portable"] and set(man["int8_recipe"]["valid_on"]) >= {"x86-avx2", "arm64"}


def test_entropy_calibration_differs_from_minmax(
    tmp_path: Path, model: Student, calib: CalibrationSet
) -> None:
    """Entropy with explicit histogram bins must not silently equal MinMax (ORT's default pitfall)."""
    outs = {}
    for method in ("minmax", "entropy"):
        p = export_model(
            model,
            "onnx",
            tmp_path / method,
            precision="int8",
            calib=calib,
            calib_method=method,
            validate=False,
        )
        outs[method] = load_bundle(p).run(make_inputs(4, seed=5, n_prompts=2))["referral_logit"]
    assert not np.array_equal(outs["minmax"], outs["entropy"])


def test_onnx_int8_dynamic_needs_no_calibration(
    tmp_path: Path, model: Student, calib: CalibrationSet, held: dict
) -> None:
    kw = {"precision": "int8", "int8_mode": "dynamic", "calib": calib}  # a given set is not used
    p = export_model(model, "onnx", tmp_path / "dyn", parity_data=held, **kw)
    man = _check_runner(p, model, 0.1)
    assert man["calibration"] is None and man["backend"]["quantized_nodes"].get("MatMulInteger", 0) > 0
    assert man["backend"]["reduce_range"] and "ReferenceEvaluator" in man["parity"]["numerics"]["how"]
    assert man["parity"]["numerics"]["passed"] and man["parity"]["kernel_gap"]["passed"]


def test_pytorch_reference_bundle(tmp_path: Path, model: Student, held: dict) -> None:
    p = export_model(model, "pytorch", tmp_path / "pt", parity_data=held)
    _check_runner(p, model, 1e-6)


@pytest.mark.slow
def test_openvino_fp32_and_int8(tmp_path: Path, model: Student, calib: CalibrationSet, held: dict) -> None:
    p32 = export_model(model, "openvino", tmp_path / "ov32", parity_data=held)
    man = _check_runner(p32, model, 1e-4)
    assert man["backend"]["inference_precision_hint"] == "f32" and {"model.xml", "model.bin"} <= set(
        man["files"]
    )
    p8 = export_model(model, "openvino", tmp_path / "ov8", precision="int8", calib=calib, parity_data=held)
    man8 = _check_runner(p8, model, 0.1)
    assert man8["backend"]["fake_quantize_ops"] > 0 and man8["parity"]["passed"]
    assert man8["backend"]["overflow_fix"] == "ENABLE" and man8["parity"]["numerics"]["passed"]
    assert "LP_TRANSFORMS_MODE" in man8["parity"]["numerics"]["how"]
    # the silhouette pixel projection (frames → tokens) stays in float; every other linear layer is INT8
    assert len(man8["backend"]["float_pixel_layers"]) == 1
    assert _size(p8, "model.bin") < 0.5 * _size(p32, "model.bin")


def test_ort_mobile_int8(tmp_path: Path, model: Student, calib: CalibrationSet, held: dict) -> None:
    p = export_model(model, "ort-mobile", tmp_path / "m8", precision="int8", calib=calib, parity_data=held)
    man = _check_runner(p, model, 0.1)
    assert {"model.ort", "model.required_operators.config", "mobile_usability.txt"} <= set(man["files"])
    cfg = (p / "model.required_operators.config").read_text()
    assert "ai.onnx;" in cfg and "QuantizeLinear" in cfg and "MatMul" in cfg
    assert "usability" in (p / "mobile_usability.txt").read_text().lower()
    assert man["int8_recipe"]["reduce_range"] and man["parity"]["numerics"]["passed"]
    assert "converted from" in man["parity"]["numerics"]["how"]  # numerics of the .ort's Q/DQ source


def test_tensorrt_int8_qdq_command_and_rtx_parse_check(
    tmp_path: Path, model: Student, calib: CalibrationSet, held: dict
) -> None:
    from scoligait_edge.export import tensorrt as trt_backend

    p = export_model(
        model,
        "tensorrt",
        tmp_path / "trt8",
        precision="int8",
        calib=calib,
        parity_data=held,
        batch=4,
        workspace=2,
    )
    man = _manifest(p)
    b = man["backend"]
    assert "modelopt" in b["int8"] and b["calibration_table"].startswith("none")
    assert b["tensorrt_rtx_check"]["parsed"] and b["tensorrt_rtx_check"]["built"]
    assert b["tensorrt_rtx_check"]["label"] == "TensorRT-RTX parse check, not a Jetson engine"
    cmd = next(line for line in (p / "trtexec.sh").read_text().splitlines() if line.startswith("trtexec"))
    assert cmd == b["trtexec"]
    flags = ["--onnx=model.onnx", "--int8", "--minShapes=kmap:1x96x238", "--optShapes=kmap:4x96x238"]
    flags += ["--maxShapes=kmap:16x96x238", "--memPoolSize=workspace:2048M", "--timingCacheFile=timing.cache"]
    for flag in flags:
        assert flag in cmd
    assert "--calib" not in cmd  # never a calibration table on a Q/DQ graph
    par = man["parity"]
    assert par["passed"] and par["numerics"]["passed"] and "Q/DQ evaluated as float" in par["numerics"]["how"]
    assert man["int8_recipe"]["activation_symmetric"] and man["int8_recipe"]["valid_on"] == ["jetson"]
    if trt_backend.engine_available() is not True:  # ORT's CPU kernels are not TensorRT's: not judged
        assert "no TensorRT engine here" in par["kernels"]["skipped"]
    if trt_backend.engine_available() is not True:
        with pytest.raises(UnavailableError, match="TensorRT is not installed"):
            load_bundle(p)
    r = load_bundle(p, onnx_fallback=True)
    assert r.run(make_inputs(2, n_prompts=2))["referral_prob"].shape == (2,)


def test_tensorrt_dla_option_in_command(tmp_path: Path, model: Student) -> None:
    p = export_model(model, "tensorrt", tmp_path / "dla", precision="fp16", dla_core=1, validate=False)
    cmd = _manifest(p)["backend"]["trtexec"]
    assert "--fp16" in cmd and "--useDLACore=1" in cmd and "--allowGPUFallback" in cmd


def test_engine_builder_code_path_with_rtx_builder(tmp_path: Path, onnx_fp32: Path) -> None:
    """Our TensorRT builder function, driven with the TensorRT-RTX module (builds without a GPU)."""
    rtx = pytest.importorskip("tensorrt_rtx_bindings", reason="tensorrt-rtx bindings not installed")
    from scoligait_edge.export.tensorrt import build_engine

    info = build_engine(
        onnx_fp32 / "model.onnx",
        tmp_path / "m.plan",
        "fp32",
        batch=2,
        timing_cache=tmp_path / "t.cache",
        trt=rtx,
    )
    assert (tmp_path / "m.plan").stat().st_size > 10_000 and info["profile_batch"] == [1, 2, 16]
    assert (tmp_path / "t.cache").is_file()


@pytest.mark.gpu
def test_tensorrt_engine_build_and_parity_on_gpu(
    tmp_path: Path, model: Student, calib: CalibrationSet, held: dict
) -> None:
    from scoligait_edge.export.tensorrt import engine_available

    ok = engine_available()
    if ok is not True:
        pytest.skip(f"TensorRT engine path needs TensorRT with an NVIDIA GPU: {ok}")
    p = export_model(model, "tensorrt", tmp_path / "eng", precision="int8", calib=calib, parity_data=held)
    assert "model.engine" in _manifest(p)["files"]
    _check_runner(p, model, 0.1)


@pytest.mark.slow
def test_litert_fp32_and_int8(tmp_path: Path, model: Student, held: dict) -> None:
    ok = T.availability("litert")
    if ok is not True:
        pytest.skip(str(ok))
    p = export_model(model, "litert", tmp_path / "l32", parity_data=held)
    assert load_bundle(p).fixed_batch == 1
    _check_runner(p, model, 1e-4)
    p8 = export_model(model, "litert", tmp_path / "l8", precision="int8", parity_data=held)
    man8 = _check_runner(p8, model, 0.1)
    assert _size(p8, "model.tflite") < _size(p, "model.tflite")
    assert man8["parity"]["numerics"]["passed"] and "BUILTIN_REF" in man8["parity"]["numerics"]["how"]


@pytest.mark.slow
def test_executorch_fp32_and_int8(tmp_path: Path, model: Student, calib: CalibrationSet, held: dict) -> None:
    ok = T.availability("executorch")
    if ok is not True:
        pytest.skip(str(ok))
    p = export_model(model, "executorch", tmp_path / "et32", parity_data=held)
    _check_runner(p, model, 1e-4)
    p8 = export_model(model, "executorch", tmp_path / "et8", precision="int8", calib=calib, parity_data=held)
    man = _check_runner(p8, model, 0.1)
    assert "XNNPACKQuantizer" in man["backend"]["int8"] and man["parity"]["passed"]
    assert man["parity"]["numerics"]["passed"] and "PT2E" in man["parity"]["numerics"]["how"]


def test_unavailable_target_says_why(tmp_path: Path, model: Student, monkeypatch: pytest.MonkeyPatch) -> None:
    from scoligait_edge.export import litert

    monkeypatch.setattr(litert, "is_available", lambda: "litert-torch is not installed (test)")
    with pytest.raises(
        UnavailableError, match="target 'litert' cannot export here: litert-torch is not installed"
    ):
        export_model(model, "litert", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_modelopt_leaves_onnxruntime_quantization_unpatched(
    tmp_path: Path, model: Student, calib: CalibrationSet, held: dict
) -> None:
    """ModelOpt monkeypatches ORT's calibrators; later ORT exports in the process must not see that."""
    from onnxruntime.quantization import calibrate

    before = (calibrate.create_calibrator, calibrate.HistogramCollector.collect_absolute_value)
    export_model(model, "tensorrt", tmp_path / "t", precision="int8", calib=calib, validate=False)
    assert (calibrate.create_calibrator, calibrate.HistogramCollector.collect_absolute_value) == before
    kw = {"precision": "int8", "calib": calib, "calib_method": "percentile", "parity_data": held}
    p = export_model(model, "onnx", tmp_path / "p", **kw)
    assert _manifest(p)["parity"]["passed"]
