"""``executorch`` target: ``.pte`` program with the XNNPACK delegate (static batch).

fp32: ``torch.export`` → ``to_edge_transform_and_lower(XnnpackPartitioner)`` → ``.pte``.
int8: PT2E static quantization with ``XNNPACKQuantizer`` (symmetric, per-channel weights),
calibrated on the calibration set, then lowered the same way; running it needs
``import executorch.kernels.quantized`` (done by the runner).

XNNPACK takes the GEMMs and element-wise ops. The layout ops (permute/view/slice/cat/pad/clone)
and softmax stay on ExecuTorch's portable kernels: with them delegated, the XNNPACK backend
fails at load time here (``xnn_status_unsupported_parameter`` while defining a tensor; softmax
outputs that are also graph outputs trip "pass through arguments are not supported").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.pytorch import contract_module, example_args, quiet
from scoligait_edge.export.targets import ExportOptions

from scoligait_edge.contract import INPUT_NAMES, OUTPUT_NAMES
from scoligait_edge.errors import ExportError
from scoligait_edge.runtime.base import Inputs, Outputs, Runner

ARTIFACT = "model.pte"
#: XNNPACK partitioner configs kept on the portable kernels (see module docstring).
KEEP_PORTABLE = (
    "PermuteConfig",
    "ViewCopyConfig",
    "SliceCopyConfig",
    "CatConfig",
    "ConstantPadConfig",
    "SoftmaxConfig",
    "UnsqueezeCopyConfig",
    "CloneConfig",
    "CloneDimOrderConfig",
    "ToDimOrderCopyConfig",
)


def is_available() -> bool | str:
    for mod, pkg in (("executorch", "executorch"), ("torchao", "torchao")):
        if importlib.util.find_spec(mod) is None:
            return f"{pkg} is not installed (pip install 'scoligait-edge[executorch]')"
    return True


def can_run() -> bool | str:
    return True if importlib.util.find_spec("executorch") else "executorch is not installed"


def version() -> str:
    from importlib.metadata import version as v

    return f"executorch {v('executorch')}"


def needs_calibration(options: ExportOptions) -> bool:
    return options.precision == "int8"


def partitioner() -> Any:
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    return XnnpackPartitioner(configs=[c for c in ALL_PARTITIONER_CONFIGS if c.__name__ not in KEEP_PORTABLE])


def quantize_pt2e(module: Any, args: tuple[Any, ...], cs: Any, batch: int) -> Any:
    """PT2E static INT8 with the XNNPACK quantizer, calibrated on ``cs`` at the export batch."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from scoligait_edge.calibration.readers import torch_batches
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    # Linear layers with both dims >= 16 only (as the ONNX recipe): the attention, latent-array and
    # saliency products and the 1-output heads stay float; quantizing the whole graph moved the
    # saliency map by ~28% of its range here, and the heads carry the decision at no speed gain.
    cfg = get_symmetric_quantization_config(is_per_channel=True)
    q = XNNPACKQuantizer()
    for name, mod in module.named_modules():
        if isinstance(mod, torch.nn.Linear) and min(mod.in_features, mod.out_features) >= 16:
            q.set_module_name(name, cfg)
        elif isinstance(mod, torch.nn.Conv1d) and min(mod.in_channels, mod.out_channels) >= 16:
            q.set_module_name(name, cfg)  # the grouped 1x1 conv of the knowledge-map patch embedding
    gm = torch.export.export(module, args).module()
    prepared = prepare_pt2e(gm, q)
    for b in torch_batches(cs, batch):
        if b[0].shape[0] == batch:
            prepared(*b)
    return convert_pt2e(prepared)


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    import torch

    with quiet():
        from executorch.exir import to_edge_transform_and_lower
    module = contract_module(model)
    args = example_args(options.batch, options.seed)
    info: dict[str, Any] = {
        "delegate": "XNNPACK",
        "portable_ops": list(KEEP_PORTABLE),
        "static_batch": options.batch,
    }
    numerics = None
    try:
        with quiet(), torch.no_grad():
            if options.precision == "int8":
                module = quantize_pt2e(module, args, options.calib, options.batch)
                numerics = _torch_numerics(module, options.batch)
                info["int8"] = (
                    "PT2E XNNPACKQuantizer on Linear/Conv1d >= 16x16 (symmetric int8, per-channel weights)"
                )
            ep = torch.export.export(module, args)
            prog = to_edge_transform_and_lower(ep, partitioner=[partitioner()]).to_executorch()
    except Exception as e:
        raise ExportError(
            f"ExecuTorch lowering failed: {type(e).__name__}: {str(e)[:200]}", "see docs/export.md"
        ) from e
    (workdir / ARTIFACT).write_bytes(prog.buffer)
    from importlib.metadata import version as v

    return Artifacts(
        artifact=ARTIFACT,
        info=info,
        versions={"torch": torch.__version__, "executorch": v("executorch"), "torchao": v("torchao")},
        numerics=numerics,
        numerics_how="the PT2E-converted graph in PyTorch eager (quantize/dequantize as float ops)"
        if numerics
        else "not quantized: the artifact's kernels are float",
    )


def _torch_numerics(module: Any, batch: int) -> Any:
    """Factory of a runner over the converted PT2E module (its q/dq ops run in float in eager mode)."""
    from scoligait_edge.runtime.base import TorchRunner

    def make() -> TorchRunner:
        r = TorchRunner(module, {"target": "executorch", "precision": "int8"})
        r.fixed_batch = batch  # traced at the export batch
        return r

    return make


class ExecuTorchRunner(Runner):
    """``executorch.runtime`` program, method ``forward``, at the bundle's static batch."""

    def __init__(self, path: Path, manifest: dict[str, Any] | None = None) -> None:
        super().__init__(manifest)
        import executorch.kernels.quantized  # noqa: F401  (registers the quantized kernels)
        import torch
        from executorch.runtime import Runtime

        self._torch = torch
        self.program = Runtime.get().load_program(str(path))
        self.method = self.program.load_method("forward")
        self.fixed_batch = int((manifest or {}).get("options", {}).get("batch", 1))

    def _run(self, inputs: Inputs) -> Outputs:
        out = self.method.execute([self._torch.from_numpy(inputs[n]) for n in INPUT_NAMES])
        return {n: o.numpy().copy() for n, o in zip(OUTPUT_NAMES, out, strict=True)}


def load(bundle_dir: Path, manifest: dict[str, Any], **_: Any) -> ExecuTorchRunner:
    return ExecuTorchRunner(Path(bundle_dir) / manifest["artifact"], manifest)
