"""THE export-target table (like Ultralytics' ``export_formats()``).

One row per target drives CLI validation, export dispatch, :func:`load_bundle` dispatch and the
benchmark. Adding a target = one backend module in ``export/`` + one row in :data:`TARGETS`.

Every backend module implements the same small interface:

``export(model, options, workdir) -> Artifacts``
    write the artifact file(s) into ``workdir`` (the bundle's temporary directory).
``load(bundle_dir, manifest) -> Runner``
    open the artifact(s) of a verified bundle.
``is_available() -> True | str``
    ``True``, or the exact reason the target cannot run here.
``version() -> str``
    the toolkit/runtime versions that matter for the artifact.

Public API used by the CLI and the benchmark::

    get_target("ov")                      # -> Target("openvino"), aliases resolved
    get_target("onxx")                    # TargetError: unknown target 'onxx' — did you mean 'onnx'?
    validate_options("onnx", precision="int8", batch=4)   # -> ExportOptions, or TargetError
    backend("onnx")                       # -> the backend module
    availability("litert")                # -> True | "reason"
    export_formats()                      # -> list of dict rows (for tables)
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from scoligait_edge.export.recipes import (
    LITERT_DYNAMIC,
    NNCF_PORTABLE,
    NNCF_VNNI,
    ORT_FULL_RANGE,
    ORT_PORTABLE,
    TRT_QDQ,
    XNNPACK_STATIC,
    Int8Recipe,
    check_device,
)

from scoligait_edge.errors import TargetError
from scoligait_edge.runtime.parity import Tolerance, tolerance

PRECISIONS = ("fp32", "fp16", "int8")
CALIB_METHODS = ("minmax", "entropy", "percentile")
INT8_MODES = ("static", "dynamic")

#: Options every target accepts (they do not change the artifact's numerics).
COMMON_OPTIONS = frozenset({"precision", "validate", "parity_data", "seed", "device"})


# fp32: float noise (OpenVINO's f32 kernels reorder sums a little more); fp16: half rounding through
# ~10 layers; int8: judged on what matters clinically (decision, probability, AUC, where the
# explanation points), looser per output.
TOL_FP32 = tolerance(1e-3, 2e-4, 5e-3, 1e-3, 1.0, 1e-4)
TOL_FP32_OPENVINO = tolerance(2e-3, 5e-4, 1e-2, 2e-3, 1.0, 1e-4)
TOL_FP16 = tolerance(5e-2, 1e-2, 0.25, 0.02, 0.98, 0.005)
TOL_INT8 = tolerance(1.0, 0.10, 3.0, 0.10, 0.95, 0.02)
_BY_PRECISION = {"fp32": TOL_FP32, "fp16": TOL_FP16, "int8": TOL_INT8}


def default_tolerance(precision: str) -> Tolerance:
    """The table's tolerance for ``precision`` when no target row is known (bench stand-ins)."""
    return _BY_PRECISION.get(precision, TOL_INT8)


@dataclass(frozen=True)
class Target:
    """One row of the target table."""

    name: str
    module: str  #: backend module inside ``scoligait_edge.export``
    description: str
    suffixes: tuple[str, ...]  #: artifact file suffixes in a bundle
    devices: tuple[str, ...]  #: where the artifact runs
    precisions: tuple[str, ...]
    options: frozenset[str]  #: option names accepted besides :data:`COMMON_OPTIONS`
    tolerances: dict[str, Tolerance]
    aliases: tuple[str, ...] = ()
    default_precision: str = "fp32"
    runs_here: bool = True  #: whether its artifact can be executed on a CPU-only host
    #: INT8 recipe per deployment device class (``--device``); ``any`` is the portable default.
    int8_recipes: dict[str, Int8Recipe] = field(default_factory=dict)

    @property
    def device_classes(self) -> tuple[str, ...]:
        return tuple(self.int8_recipes) or ("any",)

    def recipe(self, device: str) -> Int8Recipe | None:
        """The INT8 recipe for ``device`` (``None`` for targets without an INT8 path)."""
        return self.int8_recipes.get(check_device(device, self.device_classes))

    def accepts(self, option: str) -> bool:
        return option in self.options or option in COMMON_OPTIONS

    def tolerance(self, precision: str) -> Tolerance:
        return self.tolerances[precision]


#: ONNX Runtime INT8 per device class: portable reduce_range by default; full range only where the
#: kernels accumulate in int32 (VNNI, ARM64 dot product), and only when asked for.
_ORT_RECIPES = {
    "any": ORT_PORTABLE,
    "x86-avx2": ORT_PORTABLE,
    "x86-vnni": ORT_FULL_RANGE,
    "arm64": ORT_FULL_RANGE,
}

_ONNX_OPTS = frozenset({"batch", "dynamic", "opset", "simplify"})
_INT8_OPTS = frozenset({"calib", "calib_method", "calib_size", "int8_mode"})

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="pytorch",
            module="pytorch",
            description="PyTorch reference (TorchScript-free: state dict + config, run eagerly)",
            suffixes=(".pt",),
            devices=("cpu",),
            precisions=("fp32",),
            options=frozenset({"batch", "dynamic"}),
            tolerances={"fp32": TOL_FP32},
            aliases=("torch", "pt"),
        ),
        Target(
            name="onnx",
            module="onnx_backend",
            description="ONNX (dynamo exporter) run by ONNX Runtime CPU; INT8 = static QDQ or dynamic",
            suffixes=(".onnx",),
            devices=("cpu",),
            precisions=PRECISIONS,
            options=_ONNX_OPTS | _INT8_OPTS,
            tolerances={"fp32": TOL_FP32, "fp16": TOL_FP16, "int8": TOL_INT8},
            aliases=("onnxruntime", "ort"),
            int8_recipes=_ORT_RECIPES,
        ),
        Target(
            name="tensorrt",
            module="tensorrt",
            description="TensorRT: explicit Q/DQ ONNX + trtexec command; engine where TensorRT + a GPU exist",
            suffixes=(".onnx", ".engine"),
            devices=("jetson", "cuda"),
            precisions=PRECISIONS,
            options=_ONNX_OPTS | frozenset({"calib", "calib_method", "calib_size", "workspace", "dla_core"}),
            tolerances={"fp32": TOL_FP32, "fp16": TOL_FP16, "int8": TOL_INT8},
            aliases=("trt", "engine", "jetson"),
            runs_here=False,
            int8_recipes={"any": TRT_QDQ, "jetson": TRT_QDQ},
        ),
        Target(
            name="openvino",
            module="openvino",
            description="OpenVINO IR (.xml/.bin); INT8 by NNCF post-training quantization (TRANSFORMER)",
            suffixes=(".xml", ".bin"),
            devices=("cpu", "gpu", "npu"),
            precisions=PRECISIONS,
            options=frozenset({"batch", "dynamic", "opset", "calib", "calib_size"}),
            tolerances={"fp32": TOL_FP32_OPENVINO, "fp16": TOL_FP16, "int8": TOL_INT8},
            aliases=("ov", "openvino_ir", "ir"),
            int8_recipes={"any": NNCF_PORTABLE, "x86-avx2": NNCF_PORTABLE, "x86-vnni": NNCF_VNNI},
        ),
        Target(
            name="ort-mobile",
            module="ort_mobile",
            description="ONNX Runtime Mobile .ort + reduced-operator config and mobile-usability report",
            suffixes=(".ort", ".config"),
            devices=("android", "ios", "cpu"),
            precisions=("fp32", "int8"),
            options=frozenset({"batch", "dynamic", "opset"}) | _INT8_OPTS,
            tolerances={"fp32": TOL_FP32, "int8": TOL_INT8},
            aliases=("ort_mobile", "ortmobile", "mobile", "ort-format"),
            int8_recipes=_ORT_RECIPES,
        ),
        Target(
            name="litert",
            module="litert",
            description="LiteRT (TFLite) flatbuffer via litert-torch, run by ai-edge-litert",
            suffixes=(".tflite",),
            devices=("android", "cpu"),
            precisions=("fp32", "int8"),
            options=frozenset({"batch"}),
            tolerances={"fp32": TOL_FP32, "int8": TOL_INT8},
            aliases=("tflite", "tfl", "lite"),
            int8_recipes={"any": LITERT_DYNAMIC, "arm64": LITERT_DYNAMIC},
        ),
        Target(
            name="executorch",
            module="executorch",
            description="ExecuTorch .pte with the XNNPACK delegate; INT8 via the PT2E XNNPACK quantizer",
            suffixes=(".pte",),
            devices=("android", "ios", "cpu"),
            precisions=("fp32", "int8"),
            options=frozenset({"batch", "calib", "calib_size"}),
            tolerances={"fp32": TOL_FP32, "int8": TOL_INT8},
            aliases=("pte", "et", "xnnpack"),
            int8_recipes={"any": XNNPACK_STATIC, "arm64": XNNPACK_STATIC},
        ),
    )
}

_ALIASES: dict[str, str] = {a: t.name for t in TARGETS.values() for a in (t.name, *t.aliases)}


@dataclass
class ExportOptions:
    """Validated export options (one object handed to every backend).

    ``calib`` is a calibration ``.npz`` path or a :class:`~scoligait_edge.calibration.CalibrationSet`;
    ``parity_data`` is a dict of held-out arrays (``kmap``, ``silhouette``, ``prompt_id``, optional
    ``labels``) or a data directory.
    """

    target: str
    precision: str = "fp32"
    batch: int = 1  #: static batch, or the opt batch of a dynamic profile
    dynamic: bool = True  #: dynamic batch axis
    opset: int = 20
    simplify: bool = True  #: run onnxslim on the exported graph
    calib: Any = None
    calib_method: str = "minmax"
    calib_size: int = 300
    int8_mode: str = "static"  #: ONNX Runtime INT8: static QDQ or dynamic
    workspace: float = 1.0  #: TensorRT workspace, GiB
    dla_core: int | None = None  #: TensorRT DLA core (Jetson) with GPU fallback
    validate: bool = True
    parity_data: Any = None
    seed: int = 0
    device: str = "any"  #: deployment device class the INT8 recipe is chosen for
    extra: dict[str, Any] = field(default_factory=dict)

    def as_manifest(self) -> dict[str, Any]:
        """The JSON-safe options recorded in the manifest."""
        skip = {"calib", "parity_data", "extra"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ExportOptions)}


def target_names(include_aliases: bool = False) -> list[str]:
    """Canonical target names (optionally with their aliases)."""
    return sorted(_ALIASES) if include_aliases else list(TARGETS)


def get_target(name: str | Target) -> Target:
    """Resolve a target name or alias; unknown names raise :class:`TargetError` with a suggestion."""
    if isinstance(name, Target):
        return name
    key = str(name).strip().lower().replace("_", "-")
    for candidate in (key, key.replace("-", "_"), key.replace("-", "")):
        if candidate in _ALIASES:
            return TARGETS[_ALIASES[candidate]]
    close = difflib.get_close_matches(key, list(_ALIASES), n=1, cutoff=0.5)
    hint = f"did you mean '{_ALIASES[close[0]]}'?" if close else ""
    raise TargetError(
        f"unknown export target '{name}'",
        f"{hint + ' ' if hint else ''}choose one of: {', '.join(TARGETS)}",
    )


def validate_options(target: str | Target, **options: Any) -> ExportOptions:
    """Check ``options`` against the target's row; return :class:`ExportOptions`.

    ``None`` values mean "not given" and are ignored, so CLI defaults pass through. A non-default
    value for an option the target does not take raises :class:`TargetError`.
    """
    t = get_target(target)
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(k for k in given if k not in _DEFAULTS or k == "target")
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(_DEFAULTS), n=1)
        raise TargetError(
            f"unknown export option '{unknown[0]}'",
            f"did you mean '{close[0]}'?" if close else f"options: {', '.join(sorted(_DEFAULTS))}",
        )
    for k, v in given.items():
        if not t.accepts(k) and v != _DEFAULTS[k]:
            takes = ", ".join(sorted(t.options | COMMON_OPTIONS))
            raise TargetError(f"target '{t.name}' does not take option '{k}'", f"it takes: {takes}")
    opts = ExportOptions(target=t.name, **given)
    if "dynamic" not in t.options:  # static-batch targets (LiteRT, ExecuTorch)
        opts.dynamic = False
    opts.precision = str(opts.precision).lower()
    if opts.precision not in t.precisions:
        raise TargetError(
            f"target '{t.name}' does not support precision '{opts.precision}'",
            f"use one of: {', '.join(t.precisions)}",
        )
    opts.device = check_device(opts.device, t.device_classes)
    if opts.calib_method not in CALIB_METHODS:
        raise TargetError(
            f"unknown calibration method '{opts.calib_method}'", f"use {'|'.join(CALIB_METHODS)}"
        )
    if opts.int8_mode not in INT8_MODES:
        raise TargetError(f"unknown INT8 mode '{opts.int8_mode}'", f"use {'|'.join(INT8_MODES)}")
    if opts.precision != "int8" and (
        given.get("calib") is not None or given.get("calib_method", "minmax") != "minmax"
    ):
        raise TargetError(
            f"calibration options only apply to --precision int8 (got {opts.precision})",
            "drop --calib/--calib-method or pass --precision int8",
        )
    if not 1 <= int(opts.batch) <= 4096:
        raise TargetError(f"batch must be in 1..4096, got {opts.batch}", "pass --batch N with N >= 1")
    if not 17 <= int(opts.opset) <= 23:
        raise TargetError(
            f"opset {opts.opset} is not supported", "use an opset between 17 and 23 (default 20)"
        )
    if opts.workspace <= 0:
        raise TargetError(f"workspace must be > 0 GiB, got {opts.workspace}", "pass --workspace 1")
    if opts.dla_core is not None and opts.dla_core < 0:
        raise TargetError(f"DLA core must be >= 0, got {opts.dla_core}", "pass --dla-core 0 or 1 on Jetson")
    if opts.calib_size < 16:
        raise TargetError(f"calibration size {opts.calib_size} is too small", "use --calib-size >= 16")
    return opts


def backend(target: str | Target) -> ModuleType:
    """Import and return the backend module of ``target``."""
    t = get_target(target)
    return importlib.import_module(f"scoligait_edge.export.{t.module}")


def availability(target: str | Target) -> bool | str:
    """``True`` if the target can export here, else the exact reason (never raises)."""
    t = get_target(target)
    try:
        return backend(t).is_available()
    except Exception as e:  # a broken optional install must not break the table
        return f"backend import failed: {type(e).__name__}: {e}"


def backend_version(target: str | Target) -> str:
    """Versions of the toolkit/runtime of ``target`` ('' if unavailable)."""
    try:
        return str(backend(target).version())
    except Exception:
        return ""


def artifact_files(target: str | Target, bundle_dir: str | Path) -> list[Path]:
    """Artifact files of ``target`` present in a bundle directory."""
    t = get_target(target)
    d = Path(bundle_dir)
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix in t.suffixes)


def export_formats(check_availability: bool = False) -> list[dict[str, Any]]:
    """The table as rows (name, aliases, suffixes, devices, precisions, options, available)."""
    rows = []
    for t in TARGETS.values():
        row: dict[str, Any] = {
            "target": t.name,
            "aliases": ", ".join(t.aliases),
            "suffix": " ".join(t.suffixes),
            "devices": ", ".join(t.devices),
            "int8 device classes": ", ".join(t.device_classes) if "int8" in t.precisions else "",
            "precisions": ", ".join(t.precisions),
            "options": ", ".join(sorted(t.options)),
            "description": t.description,
        }
        if check_availability:
            a = availability(t)
            row["available"] = "yes" if a is True else f"no: {a}"
            eng = getattr(backend(t), "engine_available", None) if a is True else None
            if eng is not None and (why := eng()) is not True:
                row["available"] = f"yes (ONNX + trtexec command; no engine here: {why})"
        rows.append(row)
    return rows
