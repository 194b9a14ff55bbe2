"""``onnx`` target: dynamo-exported ONNX run by ONNX Runtime (CPU); fp32, fp16, INT8 (static QDQ / dynamic).

Named ``onnx_backend`` so it does not shadow the ``onnx`` library inside this package. The helpers
here (:func:`export_onnx`, :func:`quantize_static_qdq`, :func:`set_metadata`, :class:`OrtRunner`)
are reused by the ``tensorrt``, ``openvino`` and ``ort-mobile`` targets.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.bundle import onnx_metadata
from scoligait_edge.export.pytorch import contract_module, dynamic_shapes, example_args, quiet
from scoligait_edge.export.recipes import ORT_PORTABLE, Int8Recipe
from scoligait_edge.export.targets import ExportOptions, get_target

from scoligait_edge.contract import INPUT_NAMES, OUTPUT_NAMES
from scoligait_edge.errors import ExportError
from scoligait_edge.runtime.base import Inputs, Outputs, Runner

ARTIFACT = "model.onnx"
#: Op types quantized by default: the GEMMs carry nearly all FLOPs of the student. Quantizing the
#: element-wise/softmax/normalisation ops only adds Q/DQ pairs (slower on CPU, less accurate).
DEFAULT_INT8_OPS = ("MatMul", "Gemm", "Conv")
CALIB_CHUNK = 32  #: windows per calibration pass (bounds memory of intermediate activations)


def is_available() -> bool | str:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed (pip install onnx onnxscript onnxruntime)"
    return True


def can_run() -> bool | str:
    """Running the artifact needs ONNX Runtime only (not onnx/onnxscript)."""
    import importlib.util

    return True if importlib.util.find_spec("onnxruntime") else "onnxruntime is not installed"


def version() -> str:
    import onnx
    import onnxruntime

    return f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}"


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxscript
    import torch

    return {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


# --------------------------------------------------------------------------------------- export ---


def export_onnx(
    model: Any, path: Path, options: ExportOptions, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Export ``model`` to an fp32 ONNX file with the dynamo exporter; check it; embed metadata.

    A dynamic batch is exported from an example batch ≥ 2 (a batch-1 example makes the dynamo
    exporter fix the batch at 1). Returns info for the manifest (opset, node count, slimmed).
    """
    import onnx
    import torch

    batch = max(2, options.batch) if options.dynamic else options.batch
    try:
        with quiet(), torch.no_grad():
            torch.onnx.export(
                contract_module(model),
                example_args(batch, options.seed),
                str(path),
                input_names=list(INPUT_NAMES),
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes=dynamic_shapes(options.dynamic),
                opset_version=options.opset,
                dynamo=True,
                optimize=True,
                external_data=False,
            )
    except Exception as e:
        raise ExportError(
            f"torch.onnx.export failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}",
            "make forward() free of data-dependent control flow (see docs/export.md)",
        ) from e
    m = onnx.load(str(path))
    nodes_before = len(m.graph.node)
    slimmed = False
    if options.simplify:
        m, slimmed = _slim(m)
    _check_io(m, options)
    if meta:
        set_metadata(m, meta)
    onnx.save(m, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return {
        "opset": options.opset,
        "exporter": "torch.onnx.export(dynamo=True)",
        "nodes": len(m.graph.node),
        "nodes_before_slim": nodes_before,
        "onnxslim": slimmed,
    }


def _slim(m: Any) -> tuple[Any, bool]:
    """onnxslim (constant folding, dead-node and shape-op cleanup); keep the original if it fails."""
    try:
        import onnxslim

        with quiet():
            out = onnxslim.slim(m)
        return (out, True) if out is not None and len(out.graph.node) <= len(m.graph.node) else (m, False)
    except Exception:
        return m, False


def _check_io(m: Any, options: ExportOptions) -> None:
    names_in = [i.name for i in m.graph.input]
    names_out = [o.name for o in m.graph.output]
    if names_out != list(OUTPUT_NAMES):
        raise ExportError(
            f"exported outputs are {names_out}, expected {list(OUTPUT_NAMES)}", "check the model"
        )
    if not set(names_in) <= set(INPUT_NAMES):
        raise ExportError(f"exported inputs are {names_in}, expected {list(INPUT_NAMES)}", "check the model")
    if options.dynamic:
        d0 = m.graph.input[0].type.tensor_type.shape.dim[0]
        if not d0.dim_param:
            raise ExportError(
                "exported batch axis is static although --dynamic was asked", "report this model"
            )


def set_metadata(m: Any, fields: dict[str, Any]) -> None:
    """Store the manifest's key fields in ``metadata_props`` (replacing older ``scoligait.*`` keys)."""
    import onnx

    keep = [p for p in m.metadata_props if not p.key.startswith("scoligait.")]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    onnx.helper.set_model_props(m, {**{p.key: p.value for p in keep}, **onnx_metadata(fields)})
    m.producer_name = "scoligait-edge"


def read_metadata(path: Path) -> dict[str, str]:
    """The ``scoligait.*`` metadata of an ONNX file."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in m.metadata_props if p.key.startswith("scoligait.")}


def toposort(m: Any) -> Any:
    """Topologically sort (and clean) a graph with onnx-graphsurgeon (converters may append nodes)."""
    import onnx_graphsurgeon as gs

    g = gs.import_onnx(m)
    g.cleanup().toposort()
    out = gs.export_onnx(g)
    del out.opset_import[:]
    out.opset_import.extend(m.opset_import)
    out.ir_version = m.ir_version
    del out.metadata_props[:]
    out.metadata_props.extend(m.metadata_props)
    return out


def to_fp16(src: Path, dst: Path) -> dict[str, Any]:
    """fp16 weights/compute with fp32 graph inputs/outputs (ORT's float16 converter)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    m = onnx.load(str(src))
    with quiet():
        m16 = convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=False)
    onnx.save(toposort(m16), str(dst))
    onnx.checker.check_model(str(dst), full_check=True)
    return {"fp16": "onnxruntime.transformers.float16(keep_io_types=True)"}


# ----------------------------------------------------------------------------------------- int8 ---


def _calib_method(name: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    return {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[name]


def _calib_extra(method: str, symmetric: bool) -> dict[str, Any]:
    # Entropy needs its histogram bins set explicitly: with ORT's defaults it collapses to MinMax.
    if method == "entropy":
        return {"num_bins": 512, "num_quantized_bins": 128, "symmetric": symmetric}
    if method == "percentile":
        return {"num_bins": 2048, "percentile": 99.99, "symmetric": True}
    return {"symmetric": symmetric}  # MinMax merges ranges per collect_data call (we feed chunks)


def compute_ranges(
    model_path: Path, cs: Any, method: str, op_types: tuple[str, ...], symmetric: bool, tmp: Path
) -> Path:
    """Run the ORT calibrator chunk-by-chunk (bounded memory) and save its ranges as a calibration cache."""
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    calibrator = create_calibrator(
        model_path,
        list(op_types),
        augmented_model_path=str(tmp / "augmented.onnx"),
        calibrate_method=_calib_method(method),
        extra_options=_calib_extra(method, symmetric),
    )
    names = _input_names(model_path)
    for s in range(0, len(cs), CALIB_CHUNK):
        calibrator.collect_data(_rows_reader(cs, s, min(len(cs), s + CALIB_CHUNK), names))
    ranges = calibrator.compute_data()
    cache = tmp / "calibration_cache.json"
    save_tensors_data(ranges, cache)
    return cache


def _rows_reader(cs: Any, start: int, stop: int, names: list[str]) -> Any:
    """A batch-1 ``CalibrationDataReader`` over rows ``start:stop`` of a calibration set."""
    from onnxruntime.quantization import CalibrationDataReader

    inputs = cs.inputs()
    rows = [{k: inputs[k][i : i + 1] for k in names} for i in range(start, stop)]

    class _Rows(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(rows)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    return _Rows()


def _input_names(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


def pre_process(src: Path, dst: Path) -> None:
    """ORT's ``quant_pre_process``. Its symbolic shape inference (for transformer fusions) fails on
    the TopK/Equal token selection of EViT/ToMe students (``'NoneType' has no len()``); those graphs
    are pre-processed with ONNX shape inference only, as the ORT docs allow (``skip_symbolic_shape``)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=False)
    except TypeError:
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)


def quantize_static_qdq(
    fp32_path: Path,
    out_path: Path,
    cs: Any,
    method: str = "minmax",
    recipe: Int8Recipe = ORT_PORTABLE,
    op_types: tuple[str, ...] = DEFAULT_INT8_OPS,
    nodes_to_exclude: list[str] | None = None,
) -> dict[str, Any]:
    """ORT static INT8 (QDQ): ``quant_pre_process`` → calibration → ``quantize_static``.

    ``recipe`` (see :mod:`~scoligait_edge.export.recipes`) sets activation/weight types, symmetry,
    per-channel and ``reduce_range``: the portable default keeps U8S8 pair sums inside int16 on
    CPUs without VNNI; int8 symmetric activations give the TensorRT-style graph.
    """
    symmetric_activations = recipe.activation_symmetric
    per_channel = recipe.per_channel
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    tmp = Path(tempfile.mkdtemp(prefix=".quant.", dir=out_path.parent))
    try:
        pre = tmp / "pre.onnx"
        with quiet():
            pre_process(fp32_path, pre)
            nodes = linear_nodes(pre)
            cache = compute_ranges(pre, cs, method, op_types, symmetric_activations, tmp)
            act = QuantType.QInt8 if symmetric_activations else QuantType.QUInt8
            quantize_static(
                str(pre),
                str(out_path),
                calibration_data_reader=None,
                calibration_cache_path=str(cache),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(op_types),
                per_channel=per_channel,
                reduce_range=recipe.reduce_range,
                activation_type=act,
                weight_type=QuantType.QInt8 if recipe.weights == "int8" else QuantType.QUInt8,
                calibrate_method=_calib_method(method),
                nodes_to_quantize=nodes,
                nodes_to_exclude=nodes_to_exclude or [],
                extra_options={
                    "ActivationSymmetric": symmetric_activations,
                    "WeightSymmetric": recipe.weight_symmetric,
                },
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "int8": "onnxruntime.quantization.quantize_static (QDQ)",
        "calibration_method": method,
        "op_types_quantized": list(op_types),
        "per_channel": per_channel,
        "activations": "int8 symmetric" if symmetric_activations else "uint8 asymmetric",
        "weights": f"{recipe.weights} {'symmetric' if recipe.weight_symmetric else 'asymmetric'}",
        "reduce_range": recipe.reduce_range,
        "recipe": recipe.name,
        "nodes_quantized": len(nodes),
        "nodes_excluded": list(nodes_to_exclude or []),
        "quantized_nodes": count_qdq(out_path),
    }


def quantize_dynamic_int8(
    fp32_path: Path,
    out_path: Path,
    recipe: Int8Recipe = ORT_PORTABLE,
    op_types: tuple[str, ...] = DEFAULT_INT8_OPS,
) -> dict[str, Any]:
    """ORT dynamic INT8: int8 weights, activation ranges computed at run time (no calibration)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = Path(tempfile.mkdtemp(prefix=".quant.", dir=out_path.parent))
    try:
        pre = tmp / "pre.onnx"
        with quiet():
            pre_process(fp32_path, pre)
            nodes = linear_nodes(pre)
            quantize_dynamic(
                str(pre),
                str(out_path),
                op_types_to_quantize=list(op_types),
                nodes_to_quantize=nodes,
                per_channel=True,
                reduce_range=recipe.reduce_range,
                weight_type=QuantType.QInt8,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "int8": "onnxruntime.quantization.quantize_dynamic",
        "op_types_quantized": list(op_types),
        "nodes_quantized": len(nodes),
        "per_channel": True,
        "reduce_range": recipe.reduce_range,
        "recipe": recipe.name,
        "quantized_nodes": count_qdq(out_path),
    }


def linear_nodes(path: Path, min_dim: int = 16) -> list[str]:
    """The linear layers: MatMul/Gemm with a 2-D constant weight and Conv with a constant weight,
    whose output and input widths are both ≥ ``min_dim``.

    These carry nearly all multiply-adds of the student (the knowledge-map patch embedding is a
    grouped 1×1 Conv). Left in float: attention score/value products (activation × activation),
    the latent-array products (3-D constants), the 1-output heads and the saliency projection —
    quantizing those costs accuracy and gains no speed.
    """
    import onnx

    g = onnx.load(str(path)).graph
    dims = {i.name: list(i.dims) for i in g.initializer}
    picked = []
    for n in g.node:
        if len(n.input) < 2 or (w := dims.get(n.input[1])) is None:
            continue
        gemm = n.op_type in ("MatMul", "Gemm") and len(w) == 2 and min(w) >= min_dim
        conv = n.op_type == "Conv" and len(w) >= 3 and min(w[0], int(np.prod(w[1:]))) >= min_dim
        if gemm or conv:
            picked.append(n.name)
    return picked


def input_layers(path: Path, input_name: str) -> list[str]:
    """The first linear layers (MatMul / Gemm / Conv) that read graph input ``input_name`` through
    reshapes, slices and pooling only — e.g. the projections of raw silhouette pixels."""
    import onnx

    g = onnx.load(str(path)).graph
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    found, seen, todo = [], set(), [input_name]
    while todo:
        for n in consumers.get(todo.pop(), []):
            if n.name in seen:
                continue
            seen.add(n.name)
            if n.op_type in ("MatMul", "Gemm", "Conv"):
                found.append(n.name)
            else:
                todo.extend(n.output)
    return found


def count_qdq(path: Path) -> dict[str, int]:
    """Counts of quantization-related node types in an ONNX file."""
    import onnx

    counts: dict[str, int] = {}
    for n in onnx.load(str(path)).graph.node:
        if n.op_type in (
            "QuantizeLinear",
            "DequantizeLinear",
            "DynamicQuantizeMatMul",
            "MatMulInteger",
            "QLinearMatMul",
        ):
            counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def recipe_of(options: ExportOptions) -> Int8Recipe:
    """The INT8 recipe the target table names for ``options.device``."""
    r = get_target(options.target).recipe(options.device)
    return r if r is not None else ORT_PORTABLE


def export_onnx_precision(
    model: Any, options: ExportOptions, out: Path, meta: dict[str, Any]
) -> dict[str, Any]:
    """fp32/fp16/int8 ONNX at ``out`` (int8 mode from ``options.int8_mode``); returns manifest info."""
    tmp = Path(tempfile.mkdtemp(prefix=".onnx.", dir=out.parent))
    try:
        fp32 = tmp / "fp32.onnx"
        info = export_onnx(model, fp32, options, None)
        if options.precision == "fp32":
            shutil.move(fp32, out)
        elif options.precision == "fp16":
            info |= to_fp16(fp32, out)
        elif options.int8_mode == "dynamic":
            info |= quantize_dynamic_int8(fp32, out, recipe_of(options))
        else:
            if options.calib is None:
                raise ExportError(
                    "static INT8 needs a calibration set", "pass --calib CALIB.npz or --data DIR"
                )
            info |= quantize_static_qdq(fp32, out, options.calib, options.calib_method, recipe_of(options))
        finalize_onnx(out, meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def finalize_onnx(path: Path, meta: dict[str, Any]) -> None:
    """Embed metadata, re-save and run ``onnx.checker`` on a final artifact."""
    import onnx

    m = onnx.load(str(path))
    set_metadata(m, meta)
    onnx.save(m, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    info = export_onnx_precision(model, options, workdir / ARTIFACT, meta)
    numerics, how = numerics_factory(workdir / ARTIFACT, options)
    return Artifacts(artifact=ARTIFACT, info=info, versions=versions(), numerics=numerics, numerics_how=how)


# --------------------------------------------------------------------------------------- runtime ---


class OrtRunner(Runner):
    """ONNX Runtime session on the CPU provider (feeds only the inputs the graph kept).

    ``cpu_independent=True`` turns every graph optimization off, so a Q/DQ graph is evaluated as
    float QuantizeLinear/DequantizeLinear ops instead of fused integer kernels: the quantized
    graph's own numerics, the same on every CPU (not meaningful for dynamic INT8, whose integer
    ops are in the file itself — see :class:`ReferenceRunner`).
    """

    def __init__(
        self,
        path: Path | bytes,
        manifest: dict[str, Any] | None = None,
        threads: int | None = None,
        providers: list[str] | None = None,
        cpu_independent: bool = False,
    ) -> None:
        super().__init__(manifest)
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            if cpu_independent
            else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        )
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        so.log_severity_level = 3
        src = path if isinstance(path, bytes) else str(path)
        self.session = ort.InferenceSession(src, so, providers=providers or ["CPUExecutionProvider"])
        self._feeds = [i.name for i in self.session.get_inputs()]
        b = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = b if isinstance(b, int) and b > 0 else None

    def _run(self, inputs: Inputs) -> Outputs:
        outs = self.session.run(list(OUTPUT_NAMES), {k: inputs[k] for k in self._feeds})
        return dict(zip(OUTPUT_NAMES, outs, strict=True))


class ReferenceRunner(Runner):
    """The ONNX reference evaluator (``onnx.reference``, numpy): exact integer ops on every CPU.

    The CPU-independent evaluation of a dynamically quantized graph (MatMulInteger in int32).
    """

    def __init__(self, model: Any, manifest: dict[str, Any] | None = None) -> None:
        super().__init__(manifest)
        from onnx.reference import ReferenceEvaluator

        self.evaluator = ReferenceEvaluator(model)
        self._feeds = list(self.evaluator.input_names)

    def _run(self, inputs: Inputs) -> Outputs:
        outs = self.evaluator.run(list(OUTPUT_NAMES), {k: inputs[k] for k in self._feeds})
        return dict(zip(OUTPUT_NAMES, outs, strict=True))


def numerics_factory(path: Path, options: ExportOptions) -> tuple[Any, str]:
    """(factory, how) of the CPU-independent runner for an ONNX artifact at ``path`` (int8 only)."""
    if options.precision != "int8":
        return None, "not quantized: the artifact's kernels are float"
    import onnx

    data = onnx.load(str(path)).SerializeToString()
    if options.int8_mode == "dynamic":
        return (
            lambda: ReferenceRunner(onnx.load_from_string(data)),
            "onnx.reference.ReferenceEvaluator (numpy; exact int32 MatMulInteger)",
        )
    return (
        lambda: OrtRunner(data, cpu_independent=True),
        "ONNX Runtime with graph optimizations off (Q/DQ evaluated as float ops)",
    )


def load(bundle_dir: Path, manifest: dict[str, Any], threads: int | None = None, **_: Any) -> OrtRunner:
    return OrtRunner(Path(bundle_dir) / manifest["artifact"], manifest, threads=threads)


def metadata_json(path: Path, key: str) -> Any:
    """Decode one ``scoligait.<key>`` metadata value."""
    v = read_metadata(path).get(f"scoligait.{key}")
    try:
        return None if v is None else json.loads(v)
    except json.JSONDecodeError:
        return v


def needs_calibration(options: ExportOptions) -> bool:
    """Static INT8 needs a calibration set; dynamic INT8 computes activation ranges at run time."""
    return options.precision == "int8" and options.int8_mode == "static"
