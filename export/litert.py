"""``litert`` target: LiteRT (TFLite) flatbuffer via ``litert-torch``, run by ``ai-edge-litert``.

fp32: ``litert_torch.convert`` of the contract-wrapped model at a static batch (``--batch``).
int8: dynamic-range INT8 with ``ai-edge-quantizer`` restricted to FULLY_CONNECTED and CONV_2D ops
(int8 per-channel weights, activations quantized at run time). The full-graph recipes fail here:
``dynamic_wi8_afp32`` on all ops trips the BATCH_MATMUL kernel (float lhs × int8 rhs unsupported),
``weight_only_wi8_afp32`` crashes in ai-edge-quantizer 0.10, and static int8 is inaccurate.
TFLite takes ``prompt_id`` as int32; the runner casts.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.pytorch import contract_module, example_args, quiet
from scoligait_edge.export.targets import ExportOptions

from scoligait_edge.contract import INPUT_NAMES, OUTPUT_NAMES
from scoligait_edge.errors import BundleError, ExportError
from scoligait_edge.runtime.base import Inputs, Outputs, Runner

ARTIFACT = "model.tflite"


def is_available() -> bool | str:
    for mod, pkg in (("litert_torch", "litert-torch"), ("ai_edge_litert", "ai-edge-litert")):
        if importlib.util.find_spec(mod) is None:
            return f"{pkg} is not installed (pip install 'scoligait-edge[litert]')"
    return True


def can_run() -> bool | str:
    """Running a .tflite needs ai-edge-litert only (not the litert-torch converter)."""
    return True if importlib.util.find_spec("ai_edge_litert") else "ai-edge-litert is not installed"


def version() -> str:
    from importlib.metadata import version as v

    return f"litert-torch {v('litert-torch')}, ai-edge-litert {v('ai-edge-litert')}"


def needs_calibration(options: ExportOptions) -> bool:
    return False  # dynamic-range INT8: no calibration set


def _versions() -> dict[str, str]:
    from importlib.metadata import version as v

    import torch

    out = {
        "torch": torch.__version__,
        "litert-torch": v("litert-torch"),
        "ai-edge-litert": v("ai-edge-litert"),
    }
    if importlib.util.find_spec("ai_edge_quantizer"):
        out["ai-edge-quantizer"] = v("ai-edge-quantizer")
    return out


#: Ops given dynamic-range INT8 weights (the linear layers and the grouped patch-embedding conv).
INT8_OPS = ("FULLY_CONNECTED", "CONV_2D")


def int8_recipe() -> list[dict[str, Any]]:
    """ai-edge-quantizer dynamic INT8 recipe (per-channel int8 weights) limited to :data:`INT8_OPS`."""
    import copy

    from ai_edge_quantizer import recipe

    base = recipe.dynamic_wi8_afp32()[0]
    rules = []
    for op in INT8_OPS:
        rule = copy.deepcopy(base)
        rule["operation"] = op
        rules.append(rule)
    return rules


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    import torch

    out = workdir / ARTIFACT
    try:
        with quiet(), torch.no_grad():
            import litert_torch

            edge = litert_torch.convert(contract_module(model), example_args(options.batch, options.seed))
            edge.export(str(out))
    except Exception as e:
        raise ExportError(
            f"litert-torch conversion failed: {type(e).__name__}: {str(e)[:200]}", "see docs/export.md"
        ) from e
    info: dict[str, Any] = {"converter": "litert_torch.convert", "static_batch": options.batch}
    if options.precision == "int8":
        from ai_edge_quantizer import quantizer

        with quiet():
            q = quantizer.Quantizer(str(out), int8_recipe())
            res = q.quantize(enable_progress_report=False)
            res.export_model(str(out), overwrite=True)
        info |= {
            "int8": "ai-edge-quantizer dynamic_wi8_afp32 on FULLY_CONNECTED only (BATCH_MATMUL stays float)"
        }
    numerics = (
        (lambda: LiteRTRunner(out, {"precision": "int8"}, reference_kernels=True))
        if options.precision == "int8"
        else None
    )
    how = (
        "ai-edge-litert with the BUILTIN_REF op resolver (portable reference kernels, no XNNPACK)"
        if numerics
        else "not quantized: the artifact's kernels are float"
    )
    return Artifacts(artifact=ARTIFACT, info=info, versions=_versions(), numerics=numerics, numerics_how=how)


class LiteRTRunner(Runner):
    """ai-edge-litert ``Interpreter`` (XNNPACK delegate by default) at the bundle's static batch.

    ``reference_kernels=True`` uses TFLite's portable reference kernels (no SIMD, no delegate):
    the CPU-independent evaluation of the same quantized flatbuffer.
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any] | None = None,
        threads: int | None = None,
        reference_kernels: bool = False,
    ) -> None:
        super().__init__(manifest)
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference_kernels else {}
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads or 1, **kw)
        except ValueError as e:  # e.g. "Didn't find op for builtin opcode 'STABLEHLO_IOTA'"
            raise BundleError(
                f"the TFLite interpreter cannot load {path.name}: {str(e).splitlines()[0]}",
                "the graph uses an op this LiteRT runtime lacks (torch.eye/arange in a forward lower"
                " to STABLEHLO_IOTA): export another target, or build such constants outside forward",
            ) from e
        sig = self.interpreter.get_signature_list()
        key = next(iter(sig))
        self._runner = self.interpreter.get_signature_runner(key)
        self._in = sig[key]["inputs"]  # args_0.. in contract order
        self._out = sig[key]["outputs"]  # output_0.. in contract order
        details = self._runner.get_input_details()
        self._dtypes = {k: details[k]["dtype"] for k in self._in}
        self.fixed_batch = int(details[self._in[0]]["shape"][0])

    def _run(self, inputs: Inputs) -> Outputs:
        feed = {
            k: np.ascontiguousarray(inputs[n], dtype=self._dtypes[k])
            for k, n in zip(self._in, INPUT_NAMES, strict=True)
        }
        res = self._runner(**feed)
        return {n: np.asarray(res[k]) for n, k in zip(OUTPUT_NAMES, self._out, strict=True)}


def load(bundle_dir: Path, manifest: dict[str, Any], threads: int | None = None, **_: Any) -> LiteRTRunner:
    return LiteRTRunner(Path(bundle_dir) / manifest["artifact"], manifest, threads=threads)
