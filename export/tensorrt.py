"""``tensorrt`` target: TensorRT-ready ONNX (explicit Q/DQ for INT8) + the exact ``trtexec`` command,
a Python engine builder, and a TensorRT-RTX parse/build check that runs without a GPU.

INT8 is explicit quantization only (TensorRT ≥ 10 guidance): a Q/DQ ONNX made by NVIDIA ModelOpt
(``modelopt.onnx.quantization.quantize(..., calibration_eps=["cpu"])``, TensorRT's own placement
rules, int8 symmetric, per-channel weights stored as int8 + DequantizeLinear). If ModelOpt is
absent, or for ``--calib-method percentile`` (ModelOpt has max/entropy only), ONNX Runtime's QDQ
quantizer runs with TensorRT settings (int8 symmetric activations and weights, per-channel). The
quantized nodes are the same linear layers as the ``onnx`` target so the graph can be checked with
ONNX Runtime here. A Q/DQ graph never gets a calibration table, and no implicit-calibration path
is offered at all.

Engines are built only where ``tensorrt`` is importable with a GPU (Jetson/JetPack, x86 with
NVIDIA's index): ``python -m scoligait_edge.export.tensorrt BUNDLE_DIR`` or the bundle's
``trtexec.sh``. ``pip install tensorrt`` cannot work on machines without NVIDIA's index.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.onnx_backend import (
    OrtRunner,
    export_onnx,
    finalize_onnx,
    linear_nodes,
    quantize_static_qdq,
    versions,
)
from scoligait_edge.export.pytorch import quiet
from scoligait_edge.export.recipes import TRT_QDQ
from scoligait_edge.export.targets import ExportOptions

from scoligait_edge.contract import INPUTS, OUTPUT_NAMES
from scoligait_edge.errors import BundleError, ExportError, UnavailableError
from scoligait_edge.runtime.base import Inputs, Outputs, Runner

ARTIFACT = "model.onnx"
ENGINE = "model.engine"
TRTEXEC = "trtexec.sh"
TIMING_CACHE = "timing.cache"
RTX_LABEL = "TensorRT-RTX parse check, not a Jetson engine"
MAX_PROFILE_BATCH = 16
PARITY_NOTE = "the TensorRT-bound Q/DQ ONNX is checked by its CPU-independent numerics (Q/DQ as float ops)"


def is_available() -> bool | str:
    """Producing the TensorRT-ready ONNX + command needs only onnx/onnxruntime (engines need TensorRT)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed"
    return True


def can_run() -> bool | str:
    """A TensorRT bundle runs as an engine where TensorRT exists; its Q/DQ ONNX needs ONNX Runtime."""
    return True if importlib.util.find_spec("onnxruntime") else "onnxruntime is not installed"


def engine_available() -> bool | str:
    """``True`` if TensorRT and an NVIDIA GPU are usable here, else the reason."""
    if importlib.util.find_spec("tensorrt") is None:
        return (
            "TensorRT is not installed (it ships with JetPack on Jetson; on x86 install it from NVIDIA's "
            "index — `pip install tensorrt` from PyPI cannot work without it)"
        )
    try:
        import tensorrt  # noqa: F401
        from polygraphy import cuda

        cuda.wrapper()  # loads the CUDA runtime; raises where there is none
    except Exception as e:
        return f"TensorRT present but no usable CUDA runtime/GPU ({type(e).__name__}: {e})"
    return True


def modelopt_available() -> bool:
    return importlib.util.find_spec("modelopt") is not None


def rtx_available() -> bool:
    return importlib.util.find_spec("tensorrt_rtx_bindings") is not None


def version() -> str:
    parts = []
    for mod, label in (
        ("tensorrt", "tensorrt"),
        ("modelopt", "nvidia-modelopt"),
        ("tensorrt_rtx_bindings", "tensorrt-rtx"),
    ):
        if importlib.util.find_spec(mod) is None:
            parts.append(f"{label} not installed")
            continue
        try:
            m = __import__(mod)
            parts.append(f"{label} {getattr(m, '__version__', '?')}")
        except Exception as e:  # broken optional install
            parts.append(f"{label} unusable ({type(e).__name__})")
    return ", ".join(parts)


def needs_calibration(options: ExportOptions) -> bool:
    return options.precision == "int8"


# ---------------------------------------------------------------------------------- quantization ---


@contextlib.contextmanager
def _restore_ort_quantization() -> Iterator[None]:
    """ModelOpt monkeypatches ONNX Runtime's calibrators/quantizers for good when it runs (its
    ``patch_ort_modules``); that broke later ORT Percentile calibration in the same process. Put
    every patched class attribute and ``calibrate.create_calibrator`` back afterwards."""
    from onnxruntime.quantization import base_quantizer, calibrate, qdq_quantizer

    classes = [
        calibrate.CalibraterBase,
        calibrate.MinMaxCalibrater,
        calibrate.HistogramCalibrater,
        calibrate.HistogramCollector,
        qdq_quantizer.QDQQuantizer,
        base_quantizer.BaseQuantizer,
    ]
    saved = [(c, dict(vars(c))) for c in classes]
    create = calibrate.create_calibrator
    try:
        yield
    finally:
        for c, attrs in saved:
            for name in [n for n in vars(c) if n not in attrs]:
                delattr(c, name)
            for name, value in attrs.items():
                if name not in ("__dict__", "__weakref__") and vars(c).get(name) is not value:
                    setattr(c, name, value)
        calibrate.create_calibrator = create


def quantize_modelopt(fp32: Path, out: Path, cs: Any, method: str) -> dict[str, Any]:
    """ModelOpt ONNX PTQ on the CPU: int8 Q/DQ placed for TensorRT, linear layers only, int8 weights."""
    from modelopt.onnx.quantization import quantize
    from scoligait_edge.calibration.readers import modelopt_arrays

    nodes = linear_nodes(fp32)
    with quiet(), _restore_ort_quantization():
        quantize(
            str(fp32),
            quantize_mode="int8",
            calibration_data=modelopt_arrays(cs, _input_names(fp32)),
            calibration_method={"minmax": "max", "entropy": "entropy"}[method],
            calibration_eps=["cpu"],
            nodes_to_quantize=nodes,
            high_precision_dtype="fp32",
            dq_only=True,
            output_path=str(out),
            log_level="ERROR",
        )
    import modelopt

    return {
        "int8": "nvidia-modelopt modelopt.onnx.quantization.quantize (Q/DQ, calibration_eps=['cpu'])",
        "why": "ModelOpt places Q/DQ the way TensorRT fuses them (NVIDIA's explicit-quantization tool)",
        "modelopt": modelopt.__version__,
        "calibration_method": method,
        "nodes_quantized": len(nodes),
        "weights": "int8 symmetric per-channel (DequantizeLinear only)",
        "activations": "int8 symmetric",
    }


def _input_names(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


def quantize_for_tensorrt(fp32: Path, out: Path, cs: Any, method: str) -> dict[str, Any]:
    """ModelOpt when installed and the method is max/entropy; else ORT QDQ with TensorRT settings."""
    if modelopt_available() and method in ("minmax", "entropy"):
        try:
            return quantize_modelopt(fp32, out, cs, method)
        except Exception as e:  # fall back, and say why
            reason = f"ModelOpt failed ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
    else:
        reason = (
            "ModelOpt not installed" if not modelopt_available() else f"ModelOpt has no '{method}' method"
        )
    info = quantize_static_qdq(fp32, out, cs, method=method, recipe=TRT_QDQ)
    info["why"] = (
        f"{reason}; used ONNX Runtime QDQ with TensorRT settings (int8 symmetric activations/weights)"
    )
    return info


# ------------------------------------------------------------------------------------ commands ---


def shapes(batch: int, dynamic: bool) -> dict[str, tuple[int, int, int]]:
    """min/opt/max batch of the optimization profile."""
    if not dynamic:
        return {"batch": (batch, batch, batch)}
    return {"batch": (1, batch, max(MAX_PROFILE_BATCH, batch))}


def _shape_arg(b: int) -> str:
    return ",".join(
        f"{n}:" + "x".join(str(b if s == "batch" else s) for s in shape) for n, (shape, _) in INPUTS.items()
    )


def trtexec_command(
    precision: str, batch: int, dynamic: bool, workspace_gb: float, dla_core: int | None
) -> str:
    """The exact ``trtexec`` command that builds the engine from this bundle's ONNX on the device."""
    mn, op, mx = shapes(batch, dynamic)["batch"]
    args = ["trtexec", f"--onnx={ARTIFACT}", f"--saveEngine={ENGINE}", f"--timingCacheFile={TIMING_CACHE}"]
    if dynamic:
        args += [
            f"--minShapes={_shape_arg(mn)}",
            f"--optShapes={_shape_arg(op)}",
            f"--maxShapes={_shape_arg(mx)}",
        ]
    args.append(f"--memPoolSize=workspace:{int(workspace_gb * 1024)}M")
    if precision == "fp16":
        args.append("--fp16")
    elif precision == "int8":
        args += ["--int8", "--fp16"]  # Q/DQ layers run int8; the rest may use fp16
    if dla_core is not None:
        args += [f"--useDLACore={dla_core}", "--allowGPUFallback"]
    return " ".join(shlex.quote(a) for a in args)


def _script(cmd: str) -> str:
    return (
        "#!/bin/sh\n"
        "# Build the TensorRT engine on the target device (Jetson: trtexec is in /usr/src/tensorrt/bin).\n"
        "# Q/DQ (explicit) INT8: no calibration cache is used or needed.\n"
        'cd "$(dirname "$0")" || exit 1\n'
        f"{cmd}\n"
    )


# --------------------------------------------------------------------------------- engine build ---


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    precision: str = "fp32",
    batch: int = 1,
    dynamic: bool = True,
    workspace_gb: float = 1.0,
    dla_core: int | None = None,
    timing_cache: Path | None = None,
    trt: Any = None,
) -> dict[str, Any]:
    """Build a serialized engine with the TensorRT Python API (``trt`` = the tensorrt module).

    fp16/int8 builder flags (int8 only with the Q/DQ graph: explicit quantization), workspace
    limit, an optimization profile over the batch axis, optional DLA core with GPU fallback, and
    a timing cache read from / written to ``timing_cache``.
    """
    if trt is None:
        ok = engine_available()
        if ok is not True:
            raise UnavailableError(
                f"cannot build a TensorRT engine here: {ok}", "run trtexec.sh on the Jetson"
            )
        import tensorrt as trt
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit_batch = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if explicit_batch is None else 1 << int(explicit_batch))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT could not parse {onnx_path.name}: {errs[:300]}", "see docs/export.md")
    config = builder.create_builder_config()
    if hasattr(config, "set_memory_pool_limit") and hasattr(trt, "MemoryPoolType"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    flags = []
    if precision in ("fp16", "int8") and hasattr(trt.BuilderFlag, "FP16"):
        flags.append(trt.BuilderFlag.FP16)
    if precision == "int8" and hasattr(trt.BuilderFlag, "INT8"):
        flags.append(trt.BuilderFlag.INT8)
    for f in flags:
        config.set_flag(f)
    if dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    mn, op, mx = shapes(batch, dynamic)["batch"]
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        dims = list(t.shape)
        profile.set_shape(t.name, *([b if d == -1 else d for d in dims] for b in (mn, op, mx)))
    config.add_optimization_profile(profile)
    cache_bytes = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise ExportError(
            f"TensorRT failed to build an engine from {onnx_path.name}", "run trtexec.sh --verbose"
        )
    engine_path.write_bytes(bytes(blob))
    if timing_cache is not None:
        timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    return {
        "engine_bytes": engine_path.stat().st_size,
        "layers": network.num_layers,
        "flags": [str(f) for f in flags],
        "profile_batch": [mn, op, mx],
        "dla_core": dla_core,
    }


def rtx_parse_check(onnx_path: Path, batch: int, dynamic: bool, workspace_gb: float) -> dict[str, Any]:
    """Parse and build the ONNX with the TensorRT-RTX builder (works without a GPU here).

    Proves a TensorRT-family parser accepts the graph (ops, Q/DQ placement, dynamic profile). It is
    a parse check, not a Jetson engine: the built plan is discarded.
    """
    import tensorrt_rtx_bindings as rtx

    res: dict[str, Any] = {"label": RTX_LABEL, "tensorrt_rtx": rtx.__version__}
    logger = rtx.Logger(rtx.Logger.ERROR)
    builder = rtx.Builder(logger)
    network = builder.create_network(0)
    parser = rtx.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(onnx_path))
    res["parsed"] = bool(ok)
    if not ok:
        res["errors"] = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
        return res
    res["layers"] = network.num_layers
    config = builder.create_builder_config()
    config.set_memory_pool_limit(rtx.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    mn, op, mx = shapes(batch, dynamic)["batch"]
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        profile.set_shape(t.name, *([b if d == -1 else d for d in t.shape] for b in (mn, op, mx)))
    config.add_optimization_profile(profile)
    try:
        blob = builder.build_serialized_network(network, config)
        res["built"] = blob is not None
        res["plan_bytes"] = None if blob is None else int(blob.nbytes)
    except Exception as e:
        res["built"] = False
        res["build_error"] = f"{type(e).__name__}: {e}"[:300]
    return res


# ---------------------------------------------------------------------------------------- export ---


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    """TensorRT-ready ONNX (fp32 graph for fp32/fp16 builds, Q/DQ graph for int8) + trtexec.sh."""
    out = workdir / ARTIFACT
    tmp = Path(tempfile.mkdtemp(prefix=".trt.", dir=workdir.parent))
    try:
        fp32 = tmp / "fp32.onnx"
        info: dict[str, Any] = {"onnx": export_onnx(model, fp32, options)}
        if options.precision == "int8":
            if options.calib is None:
                raise ExportError(
                    "TensorRT INT8 needs a calibration set", "pass --calib CALIB.npz or --data DIR"
                )
            info |= quantize_for_tensorrt(fp32, out, options.calib, options.calib_method)
            info["calibration_table"] = "none (explicit Q/DQ graph)"
        else:
            shutil.move(fp32, out)
            info["onnx_precision"] = (
                "fp32 (TensorRT lowers to fp16 with --fp16)" if options.precision == "fp16" else "fp32"
            )
        finalize_onnx(out, meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cmd = trtexec_command(
        options.precision, options.batch, options.dynamic, options.workspace, options.dla_core
    )
    (workdir / TRTEXEC).write_text(_script(cmd), encoding="utf-8")
    (workdir / TRTEXEC).chmod(0o755)
    info |= {
        "trtexec": cmd,
        "python_build": "python -m scoligait_edge.export.tensorrt <bundle-dir>",
        "profile_batch": list(shapes(options.batch, options.dynamic)["batch"]),
        "workspace_gb": options.workspace,
        "dla_core": options.dla_core,
    }
    if rtx_available():
        with quiet():
            rtx = rtx_parse_check(out, options.batch, options.dynamic, options.workspace)
        if not rtx["parsed"]:
            raise ExportError(
                f"the TensorRT-RTX ONNX parser rejected the graph: {'; '.join(rtx['errors'])[:300]}",
                "see docs/export.md (unsupported op or Q/DQ placement)",
            )
        info["tensorrt_rtx_check"] = rtx
    else:
        info["tensorrt_rtx_check"] = {"label": RTX_LABEL, "skipped": "tensorrt-rtx bindings not installed"}
    ok = engine_available()
    if ok is True:  # a real TensorRT with a GPU: build the engine into the bundle
        info["engine"] = build_engine(
            out, workdir / ENGINE, options.precision, options.batch, options.dynamic, options.workspace,
            options.dla_core, workdir / TIMING_CACHE,
        )  # fmt: skip
    else:
        info["engine"] = {"built": False, "reason": ok}
    v = versions()
    v["tensorrt"] = version()
    data = out.read_bytes()
    return Artifacts(
        artifact=ARTIFACT,
        info=info,
        versions=v,
        numerics=lambda: OrtRunner(data, {"target": "tensorrt"}, cpu_independent=True),
        numerics_how="ONNX Runtime with graph optimizations off (Q/DQ evaluated as float ops)"
        + ("" if options.precision == "int8" else "; fp32 graph (TensorRT lowers precision itself)"),
    )


# --------------------------------------------------------------------------------------- runtime ---


class TensorRTRunner(Runner):
    """Runs a serialized engine with polygraphy's ``TrtRunner`` (needs TensorRT + an NVIDIA GPU)."""

    def __init__(self, engine_path: Path, manifest: dict[str, Any]) -> None:
        super().__init__(manifest)
        from polygraphy.backend.common import BytesFromPath
        from polygraphy.backend.trt import EngineFromBytes, TrtRunner

        self._runner = TrtRunner(EngineFromBytes(BytesFromPath(str(engine_path))))
        self._runner.activate()
        lo, _, hi = manifest.get("backend", {}).get("profile_batch", [1, 1, MAX_PROFILE_BATCH])
        if lo == hi:
            self.fixed_batch = lo
        else:
            self.max_batch = hi

    def _run(self, inputs: Inputs) -> Outputs:
        out = self._runner.infer(inputs)
        return {n: out[n].copy() for n in OUTPUT_NAMES}


def kernel_runner(bundle_dir: Path, manifest: dict[str, Any]) -> Runner | str:
    """The engine where TensorRT and a GPU exist; otherwise why not (ORT's CPU kernels are not
    TensorRT's, so the Q/DQ graph is judged by its CPU-independent numerics instead)."""
    ok = engine_available()
    if ENGINE in manifest.get("files", {}) and ok is True:
        return TensorRTRunner(Path(bundle_dir) / ENGINE, manifest)
    why = "the bundle has no engine" if ok is True else ok
    return f"no TensorRT engine here ({why}); {PARITY_NOTE}"


def verify_runner(bundle_dir: Path, manifest: dict[str, Any]) -> tuple[Runner, str]:
    """What ``verify`` runs: the engine where one can run, else the Q/DQ graph's CPU-independent numerics."""
    k = kernel_runner(bundle_dir, manifest)
    if not isinstance(k, str):
        return k, "TensorRT engine"
    r = OrtRunner(Path(bundle_dir) / ARTIFACT, manifest, cpu_independent=True)
    return r, "TensorRT Q/DQ numerics under ONNX Runtime (Q/DQ as float ops; no engine here)"


def load(bundle_dir: Path, manifest: dict[str, Any], onnx_fallback: bool = False, **_: Any) -> Runner:
    """The TensorRT engine runner. ``onnx_fallback=True`` gives the ONNX under ORT where no engine can run."""
    ok = engine_available()
    if ENGINE in manifest.get("files", {}) and ok is True:
        return TensorRTRunner(Path(bundle_dir) / ENGINE, manifest)
    if onnx_fallback:
        r = OrtRunner(Path(bundle_dir) / ARTIFACT, manifest)
        r.parity_note = PARITY_NOTE  # type: ignore[attr-defined]
        return r
    why = "the bundle has no engine" if ok is True else ok
    raise UnavailableError(
        f"cannot run this TensorRT bundle here: {why}",
        "build the engine on the device with trtexec.sh (or python -m scoligait_edge.export.tensorrt), "
        "or pass onnx_fallback=True to check the ONNX with ONNX Runtime",
    )


def build_bundle_engine(bundle_dir: Path) -> Path:
    """Build ``model.engine`` inside an existing, verified bundle and re-hash its manifest."""
    from scoligait_edge.export.bundle import file_entries, verify_bundle, write_manifest

    man = verify_bundle(bundle_dir)
    if man["target"] != "tensorrt":
        raise BundleError(f"{bundle_dir} is a '{man['target']}' bundle", "pass a tensorrt bundle")
    o = man["options"]
    info = build_engine(
        Path(bundle_dir) / ARTIFACT, Path(bundle_dir) / ENGINE, man["precision"], o["batch"], o["dynamic"],
        o["workspace"], o.get("dla_core"), Path(bundle_dir) / TIMING_CACHE,
    )  # fmt: skip
    man["backend"]["engine"] = info | {"built": True}
    man["files"] = file_entries(Path(bundle_dir))
    write_manifest(Path(bundle_dir), man)
    return Path(bundle_dir) / ENGINE


def main(argv: list[str] | None = None) -> int:
    """``python -m scoligait_edge.export.tensorrt BUNDLE_DIR``: build the engine on a TensorRT device."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scoligait_edge.export.tensorrt BUNDLE_DIR", file=sys.stderr)
        return 2
    path = build_bundle_engine(Path(args[0]))
    print(json.dumps({"engine": str(path), "bytes": path.stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
