"""``ort-mobile`` target: ONNX Runtime Mobile ``.ort`` + reduced-operator config + usability report.

The ONNX graph is the same as the ``onnx`` target's (fp32, or INT8 static QDQ / dynamic); it is
converted with ``onnxruntime.tools.convert_onnx_models_to_ort`` (Fixed optimization style), which
also writes ``model.required_operators.config`` for a reduced-operator ORT Mobile build. The
``check_onnx_model_mobile_usability`` analysis (NNAPI / CoreML partitioning) is saved as
``mobile_usability.txt``.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.onnx_backend import OrtRunner, export_onnx_precision, numerics_factory, versions
from scoligait_edge.export.onnx_backend import can_run as can_run
from scoligait_edge.export.onnx_backend import needs_calibration as needs_calibration
from scoligait_edge.export.pytorch import quiet
from scoligait_edge.export.targets import ExportOptions

from scoligait_edge.errors import ExportError

ARTIFACT = "model.ort"
CONFIG = "model.required_operators.config"
REPORT = "mobile_usability.txt"


def is_available() -> bool | str:
    try:
        import onnxruntime.tools.convert_onnx_models_to_ort
        import onnxruntime.tools.mobile_helpers.usability_checker  # noqa: F401
    except ImportError as e:
        return f"onnxruntime tools unavailable ({e})"
    return True


def version() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__} (ORT format)"


def usability_report(onnx_path: Path) -> tuple[str, bool]:
    """Run ORT's mobile usability checker; return its log text and whether NNAPI/CoreML may help."""
    from onnxruntime.tools.mobile_helpers.usability_checker import analyze_model

    buf = io.StringIO()
    logger = logging.getLogger("scoligait.ort_mobile.usability")
    logger.handlers[:] = [logging.StreamHandler(buf)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        ok = bool(analyze_model(onnx_path, skip_optimize=False, logger=logger))
    finally:
        logger.handlers[:] = []
    return buf.getvalue(), ok


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    tmp = Path(tempfile.mkdtemp(prefix=".ortm.", dir=workdir.parent))
    try:
        src = tmp / "model.onnx"
        info = export_onnx_precision(model, options, src, meta)
        numerics, how = numerics_factory(src, options)  # the .ort's Q/DQ source graph, in memory
        text, eps_ok = usability_report(src)
        (workdir / REPORT).write_text(text, encoding="utf-8")
        out = tmp / "ort"
        with quiet():
            convert_onnx_models_to_ort(src, output_dir=out, optimization_styles=[OptimizationStyle.Fixed])
        ort_files = sorted(out.glob("*.ort"))
        cfg_files = sorted(out.glob("*.config"))
        if len(ort_files) != 1 or not cfg_files:
            raise ExportError(
                f"ORT conversion produced {[p.name for p in out.iterdir()]}", "see docs/export.md"
            )
        shutil.move(ort_files[0], workdir / ARTIFACT)
        shutil.move(cfg_files[0], workdir / CONFIG)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info |= {
        "converter": "onnxruntime.tools.convert_onnx_models_to_ort (optimization style Fixed)",
        "reduced_operator_config": CONFIG,
        "mobile_usability_report": REPORT,
        "nnapi_or_coreml_may_help": eps_ok,
    }
    how = how and f"{how}, on the Q/DQ ONNX the .ort was converted from"
    return Artifacts(artifact=ARTIFACT, info=info, versions=versions(), numerics=numerics, numerics_how=how)


def load(bundle_dir: Path, manifest: dict[str, Any], threads: int | None = None, **_: Any) -> OrtRunner:
    """ORT loads ``.ort`` files directly (the same CPU kernels ORT Mobile runs)."""
    return OrtRunner(Path(bundle_dir) / manifest["artifact"], manifest, threads=threads)
