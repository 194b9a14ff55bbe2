"""``openvino`` target: OpenVINO IR (``model.xml`` + ``model.bin``) converted from our ONNX export.

fp32: f32 weights, run with ``INFERENCE_PRECISION_HINT=f32`` (OpenVINO would otherwise run bf16 on
CPUs with AMX/AVX512-BF16, ≈5e-3 error). fp16: fp16-compressed weights, the device's default
inference precision. int8: NNCF post-training quantization of the OpenVINO model
(``model_type=TRANSFORMER``, batch-1 ``nncf.Dataset`` from the calibration set).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.onnx_backend import export_onnx, input_layers, linear_nodes
from scoligait_edge.export.pytorch import quiet
from scoligait_edge.export.recipes import NNCF_PORTABLE, Int8Recipe
from scoligait_edge.export.targets import ExportOptions, get_target

from scoligait_edge.contract import OUTPUT_NAMES
from scoligait_edge.errors import ExportError
from scoligait_edge.runtime.base import Inputs, Outputs, Runner

ARTIFACT = "model.xml"


def is_available() -> bool | str:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "openvino is not installed (pip install openvino)"
    return True


def version() -> str:
    import openvino as ov

    return f"openvino {ov.get_version()}"


def needs_calibration(options: ExportOptions) -> bool:
    return options.precision == "int8"


def _hint(precision: str) -> str | None:
    return None if precision == "fp16" else "f32"


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    """ONNX (fp32) → ``ov.convert_model`` → [NNCF INT8] → ``ov.save_model``."""
    import openvino as ov

    tmp = Path(tempfile.mkdtemp(prefix=".ov.", dir=workdir.parent))
    info: dict[str, Any] = {"converted_from": "onnx (dynamo exporter)"}
    try:
        onnx_path = tmp / "model.onnx"
        info |= {"onnx": export_onnx(model, onnx_path, options)}
        ov_model = ov.convert_model(str(onnx_path))
        if options.precision == "int8":
            recipe = get_target(options.target).recipe(options.device) or NNCF_PORTABLE
            # the silhouette pixel projections stay in float: quantized by NNCF they move the
            # Cobb estimate by > 3° (docs/export.md), and they carry a few % of the multiply-adds
            pixel = set(input_layers(onnx_path, "silhouette"))
            info |= quantize_nncf(ov_model, options.calib, set(linear_nodes(onnx_path)) - pixel, recipe)
            info["float_pixel_layers"] = sorted(pixel)
            ov_model = info.pop("_model")
        for k, v in meta.items():
            ov_model.set_rt_info(str(v), ["scoligait", k])
        ov.save_model(ov_model, str(workdir / ARTIFACT), compress_to_fp16=options.precision == "fp16")
    except ExportError:
        raise
    except Exception as e:
        raise ExportError(
            f"OpenVINO conversion failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}",
            "see docs/export.md",
        ) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["inference_precision_hint"] = _hint(options.precision) or "device default"
    path = workdir / ARTIFACT
    numerics = (
        (lambda: OpenVINORunner(path, {"precision": "int8"}, cpu_independent=True))
        if options.precision == "int8"
        else None
    )
    how = (
        "OpenVINO CPU with low-precision transformations off (LP_TRANSFORMS_MODE=False, f32): "
        "FakeQuantize evaluated as float ops"
        if numerics
        else "not quantized: the artifact's kernels are float"
    )
    return Artifacts(
        artifact=ARTIFACT,
        info=info,
        versions=_versions(options.precision == "int8"),
        numerics=numerics,
        numerics_how=how,
    )


def quantize_nncf(
    ov_model: Any, cs: Any, linear: set[str] | None = None, recipe: Int8Recipe = NNCF_PORTABLE
) -> dict[str, Any]:
    """NNCF PTQ (TRANSFORMER preset) on the OpenVINO model; returns info with the model under ``_model``.

    ``recipe.overflow_fix`` picks NNCF's ``OverflowFix`` (``ENABLE`` = 7-bit weights on every layer,
    the portable choice for CPUs without VNNI; ``FIRST_LAYER`` = NNCF's default).

    ``linear``: names of the linear-layer MatMuls (from the ONNX graph) — every other MatMul
    (attention scores/values, latent array, output heads, saliency) is put in NNCF's ignored
    scope, the same recipe as the ONNX Runtime target.
    """
    import nncf
    from scoligait_edge.calibration.readers import nncf_dataset

    names = [i.get_any_name() for i in ov_model.inputs]
    ignored = []
    if linear is not None:
        for op in ov_model.get_ops():
            name = op.get_friendly_name()
            if op.get_type_name() == "MatMul" and name.split("/")[0] not in linear:
                ignored.append(name)
    with quiet():
        q = nncf.quantize(
            ov_model,
            nncf_dataset(cs, names),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(cs),
            advanced_parameters=nncf.AdvancedQuantizationParameters(
                overflow_fix=getattr(nncf.OverflowFix, recipe.overflow_fix or "FIRST_LAYER")
            ),
            ignored_scope=nncf.IgnoredScope(names=ignored, validate=False) if ignored else None,
        )
    n_fq = sum(1 for op in q.get_ops() if op.get_type_name() == "FakeQuantize")
    return {
        "_model": q,
        "int8": "nncf.quantize(model_type=TRANSFORMER), linear-layer MatMuls only",
        "nncf": nncf.__version__,
        "fake_quantize_ops": n_fq,
        "overflow_fix": recipe.overflow_fix,
        "recipe": recipe.name,
        "ignored_matmuls": len(ignored),
        "calibration_windows": len(cs),
    }


def _versions(with_nncf: bool) -> dict[str, str]:
    import openvino as ov
    from scoligait_edge.export.onnx_backend import versions

    v = versions() | {"openvino": ov.get_version()}
    if with_nncf:
        import nncf

        v["nncf"] = nncf.__version__
    return v


class OpenVINORunner(Runner):
    """A compiled OpenVINO model on ``device`` (CPU by default).

    ``cpu_independent=True`` disables the low-precision transformations, so the NNCF FakeQuantize
    ops run as f32 arithmetic instead of integer kernels (same numbers on every CPU class).
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any] | None = None,
        device: str = "CPU",
        threads: int | None = None,
        cpu_independent: bool = False,
    ) -> None:
        super().__init__(manifest)
        import openvino as ov

        core = ov.Core()
        cfg: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        hint = _hint(self.precision)
        if hint and device == "CPU":
            cfg["INFERENCE_PRECISION_HINT"] = hint
        if cpu_independent:  # FakeQuantize as float ops: the quantized graph's own numerics
            cfg |= {"LP_TRANSFORMS_MODE": False, "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            cfg["INFERENCE_NUM_THREADS"] = threads
        model = core.read_model(str(path))
        self.compiled = core.compile_model(model, device, cfg)
        self.request = self.compiled.create_infer_request()
        self._feeds = [i.get_any_name() for i in self.compiled.inputs]
        ps = self.compiled.inputs[0].get_partial_shape()
        self.fixed_batch = ps[0].get_length() if ps[0].is_static else None

    def _run(self, inputs: Inputs) -> Outputs:
        # share_inputs: no copy of the (1 MB) silhouette per call; outputs are copied below
        res = self.request.infer({k: inputs[k] for k in self._feeds}, share_inputs=True)
        return {n: res[self.compiled.output(n)].copy() for n in OUTPUT_NAMES}


def load(
    bundle_dir: Path, manifest: dict[str, Any], device: str = "CPU", threads: int | None = None, **_: Any
) -> OpenVINORunner:
    return OpenVINORunner(Path(bundle_dir) / manifest["artifact"], manifest, device=device, threads=threads)
