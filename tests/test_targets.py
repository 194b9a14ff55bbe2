"""The export-target table: name/alias resolution, option validation, backend interface."""

from __future__ import annotations

import pytest
from scoligait_edge.export import targets as T

from scoligait_edge.errors import TargetError


@pytest.mark.parametrize(
    ("name", "want"),
    [("onnx", "onnx"), ("ORT", "onnx"), ("ov", "openvino"), ("trt", "tensorrt"), ("ort_mobile", "ort-mobile"),
     ("tflite", "litert"), ("pte", "executorch"), ("torch", "pytorch")],
)  # fmt: skip
def test_aliases_resolve(name: str, want: str) -> None:
    assert T.get_target(name).name == want


@pytest.mark.parametrize(
    ("typo", "suggest"), [("onxx", "onnx"), ("openvno", "openvino"), ("tensort", "tensorrt")]
)
def test_unknown_target_suggests_closest(typo: str, suggest: str) -> None:
    with pytest.raises(TargetError) as e:
        T.get_target(typo)
    assert f"did you mean '{suggest}'" in str(e.value)


def test_unknown_target_without_match_lists_targets() -> None:
    with pytest.raises(TargetError, match="choose one of: pytorch, onnx"):
        T.get_target("zzzzzz")


def test_option_not_taken_by_target_is_rejected() -> None:
    with pytest.raises(TargetError, match="target 'onnx' does not take option 'dla_core'"):
        T.validate_options("onnx", dla_core=0)
    with pytest.raises(TargetError, match="does not take option 'calib_method'"):
        T.validate_options("openvino", precision="int8", calib_method="entropy")
    # defaults passed explicitly (as the CLI does) are fine
    assert T.validate_options("litert", dynamic=True).dynamic is False  # static-batch target


def test_unknown_option_name_gets_suggestion() -> None:
    with pytest.raises(TargetError, match="did you mean 'calib_method'"):
        T.validate_options("onnx", calib_methd="entropy")


def test_precision_and_values_are_checked() -> None:
    with pytest.raises(TargetError, match="does not support precision 'fp16'"):
        T.validate_options("litert", precision="fp16")
    with pytest.raises(TargetError, match="unknown calibration method 'kl'"):
        T.validate_options("onnx", precision="int8", calib_method="kl")
    with pytest.raises(TargetError, match="only apply to --precision int8"):
        T.validate_options("onnx", precision="fp32", calib="x.npz")
    with pytest.raises(TargetError, match="batch must be in"):
        T.validate_options("onnx", batch=0)
    with pytest.raises(TargetError, match="opset 12"):
        T.validate_options("onnx", opset=12)
    opts = T.validate_options("tensorrt", precision="INT8", workspace=2, dla_core=1, batch=4)
    assert (opts.precision, opts.workspace, opts.dla_core, opts.batch) == ("int8", 2, 1, 4)


def test_every_row_has_a_backend_with_the_interface_and_tolerances() -> None:
    for t in T.TARGETS.values():
        mod = T.backend(t)
        for fn in ("export", "load", "is_available", "version"):
            assert callable(getattr(mod, fn, None)), f"{t.name} backend lacks {fn}()"
        assert set(t.tolerances) == set(t.precisions), t.name
        assert t.default_precision in t.precisions
        a = T.availability(t)
        assert a is True or (isinstance(a, str) and a), t.name


def test_tolerances_get_looser_with_lower_precision() -> None:
    onnx = T.get_target("onnx")
    for name in ("referral_logit", "referral_prob", "cobb_angle"):
        assert (
            onnx.tolerance("fp32").atol[name]
            < onnx.tolerance("fp16").atol[name]
            < onnx.tolerance("int8").atol[name]
        )
    assert onnx.tolerance("fp32").min_agreement >= onnx.tolerance("int8").min_agreement


def test_export_formats_rows() -> None:
    rows = T.export_formats(check_availability=True)
    assert [r["target"] for r in rows] == list(T.TARGETS)
    onnx = next(r for r in rows if r["target"] == "onnx")
    assert onnx["suffix"] == ".onnx" and "int8" in onnx["precisions"] and onnx["available"] == "yes"
