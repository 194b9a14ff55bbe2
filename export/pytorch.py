"""PyTorch reference target: a ``torch.export`` ExportedProgram (``model.pt2``) run eagerly.

Also home of :class:`ContractModule`, the wrapper every exporter traces: it fixes the output order
to the contract so ONNX/OpenVINO/LiteRT/ExecuTorch graphs all name their outputs the same way.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scoligait_edge.export.base import Artifacts
from scoligait_edge.export.targets import ExportOptions

from scoligait_edge.contract import INPUT_NAMES, OUTPUT_NAMES
from scoligait_edge.runtime.base import TorchRunner, make_inputs, outputs_to_dict

ARTIFACT = "model.pt2"
MAX_BATCH = 4096


def is_available() -> bool | str:
    return True


def version() -> str:
    import torch

    return f"torch {torch.__version__}"


def contract_module(model: Any) -> Any:
    """Wrap ``model`` so ``forward(kmap, silhouette, prompt_id)`` returns a tuple in contract order."""
    import torch

    class ContractModule(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, kmap: torch.Tensor, silhouette: torch.Tensor, prompt_id: torch.Tensor):
            out = outputs_to_dict(self.inner(kmap, silhouette, prompt_id))
            return tuple(out[n] for n in OUTPUT_NAMES)

    return ContractModule(model).eval()


def example_args(batch: int, seed: int = 0) -> tuple[Any, ...]:
    """Contract example tensors (batch ≥ 2 keeps the dynamo exporter from specialising batch=1)."""
    import torch

    x = make_inputs(batch, seed=seed, n_prompts=1)
    return tuple(torch.from_numpy(x[n]) for n in INPUT_NAMES)


def dynamic_shapes(dynamic: bool) -> tuple[dict[int, Any], ...] | None:
    """``torch.export`` dynamic-shape spec: axis 0 of every input is the shared batch dim."""
    if not dynamic:
        return None
    import torch

    b = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    return tuple({0: b} for _ in INPUT_NAMES)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence exporter chatter (prints, warnings, torch.export logs) unless it fails."""
    buf = io.StringIO()
    loggers = [
        logging.getLogger(n)
        for n in (
            "torch.export",
            "torch._export",
            "torch.onnx",
            "torch._dynamo",
            "torch.utils._pytree",
            "ort_format_model.utils",
            "nncf",
            "",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def export_program(model: Any, options: ExportOptions) -> Any:
    """``torch.export.export`` of the contract-wrapped model (dynamic batch unless ``dynamic=False``)."""
    import torch

    batch = max(2, options.batch) if options.dynamic else options.batch
    with quiet(), torch.no_grad():
        return torch.export.export(
            contract_module(model),
            example_args(batch, options.seed),
            dynamic_shapes=dynamic_shapes(options.dynamic),
        )


def export(model: Any, options: ExportOptions, workdir: Path, meta: dict[str, Any]) -> Artifacts:
    """Save the ExportedProgram as ``model.pt2``."""
    import torch

    ep = export_program(model, options)
    torch.export.save(ep, str(workdir / ARTIFACT))
    return Artifacts(artifact=ARTIFACT, versions={"torch": torch.__version__})


class ProgramRunner(TorchRunner):
    """Runs a loaded ExportedProgram module (outputs are a tuple in contract order)."""

    def __init__(self, module: Any, manifest: dict[str, Any]) -> None:
        super().__init__(module, manifest)
        if not manifest.get("options", {}).get("dynamic", True):
            self.fixed_batch = int(manifest["options"].get("batch", 1))


def load(bundle_dir: Path, manifest: dict[str, Any], threads: int | None = None, **_: Any) -> ProgramRunner:
    import torch

    ep = torch.export.load(str(Path(bundle_dir) / manifest["artifact"]))
    r = ProgramRunner(ep.module(), manifest)
    if threads:
        torch.set_num_threads(threads)
    return r
