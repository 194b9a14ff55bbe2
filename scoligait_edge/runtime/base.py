"""The :class:`Runner` every backend returns: same numpy inputs in, same named outputs out.

Usage (any bundle, any backend)::

    from scoligait_edge import load_bundle
    from scoligait_edge.runtime.base import make_inputs

    runner = load_bundle("student_onnx_int8")
    out = runner.run(make_inputs(batch=4))        # {"referral_logit": [4], ..., "saliency": [4,96,238]}
    runner.target, runner.precision, runner.manifest

Inputs are checked against :mod:`scoligait_edge.contract` (names, shapes, dtypes are cast
safely); a runner whose artifact has a static batch splits/pads larger or smaller batches itself, so
callers may always pass any batch size.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from scoligait_edge.contract import (
    INPUT_NAMES,
    INPUTS,
    N_FEATURES,
    OUTPUT_NAMES,
    SIL_H,
    SIL_W,
    WINDOW,
)
from scoligait_edge.errors import ShapeError

Inputs = dict[str, np.ndarray]
Outputs = dict[str, np.ndarray]


def make_inputs(batch: int = 1, seed: int = 0, n_prompts: int = 1) -> Inputs:
    """Deterministic random inputs that satisfy the contract (for smoke tests and benchmarks)."""
    rng = np.random.default_rng(seed)
    return {
        "kmap": rng.standard_normal((batch, WINDOW, N_FEATURES)).astype(np.float32),
        "silhouette": (rng.random((batch, WINDOW, SIL_H, SIL_W)) > 0.5).astype(np.float32),
        "prompt_id": rng.integers(0, n_prompts, size=(batch,), dtype=np.int64),
    }


def check_inputs(inputs: Mapping[str, Any]) -> Inputs:
    """Validate names/shapes against the contract and return C-contiguous arrays of the right dtype.

    Raises :class:`ShapeError` naming the offending input.
    """
    missing = [n for n in INPUT_NAMES if n not in inputs]
    if missing:
        raise ShapeError(f"missing model input(s): {', '.join(missing)}", f"pass {', '.join(INPUT_NAMES)}")
    out: Inputs = {}
    batch = None
    for name in INPUT_NAMES:
        shape, dtype = INPUTS[name]
        a = np.asarray(inputs[name])
        if a.ndim != len(shape) or any(isinstance(s, int) and a.shape[i] != s for i, s in enumerate(shape)):
            want = "x".join(str(s) for s in shape)
            raise ShapeError(
                f"input '{name}' has shape {a.shape}, expected {want}", "check the window builder"
            )
        if batch is None:
            batch = a.shape[0]
        elif a.shape[0] != batch:
            raise ShapeError(
                f"input '{name}' has batch {a.shape[0]} but '{INPUT_NAMES[0]}' has {batch}",
                "pass the same number of windows for every input",
            )
        if dtype.startswith("float") and not np.issubdtype(a.dtype, np.number) and a.dtype != np.bool_:
            raise ShapeError(f"input '{name}' has dtype {a.dtype}, expected {dtype}", "pass numeric arrays")
        if dtype.startswith("int") and not np.issubdtype(a.dtype, np.integer):
            raise ShapeError(
                f"input '{name}' has dtype {a.dtype}, expected {dtype}", "pass integer prompt ids"
            )
        out[name] = np.ascontiguousarray(a, dtype=dtype)
    if batch == 0:
        raise ShapeError("empty batch (0 windows)", "pass at least one window")
    return out


def concat_outputs(parts: list[Outputs]) -> Outputs:
    """Concatenate per-chunk outputs along the batch axis."""
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}


class Runner(ABC):
    """One loaded artifact. Subclasses implement :meth:`_run` on a batch of ``fixed_batch`` (if set).

    Attributes: ``target`` (table name), ``precision`` (fp32|fp16|int8), ``manifest`` (the bundle's
    manifest dict; ``{}`` for in-memory runners), ``input_names``/``output_names`` (contract order),
    ``fixed_batch`` (``None`` when the artifact takes any batch), ``max_batch`` (upper bound of a
    dynamic batch, larger batches are split). ``load_bundle(path, threads=N)`` works for every backend.
    """

    target: str = ""
    precision: str = "fp32"
    fixed_batch: int | None = None
    max_batch: int | None = None  #: dynamic artifacts with an upper batch bound (TensorRT profile)

    def __init__(self, manifest: Mapping[str, Any] | None = None) -> None:
        self.manifest: dict[str, Any] = dict(manifest or {})
        if self.manifest:
            self.target = self.manifest.get("target", self.target)
            self.precision = self.manifest.get("precision", self.precision)

    @property
    def input_names(self) -> tuple[str, ...]:
        return INPUT_NAMES

    @property
    def output_names(self) -> tuple[str, ...]:
        return OUTPUT_NAMES

    @abstractmethod
    def _run(self, inputs: Inputs) -> Outputs:
        """Run one batch of already-checked inputs; return outputs keyed by contract names."""

    @property
    def n_prompts(self) -> int | None:
        """Size of the model's prompt table (from the manifest), if known."""
        n = self.manifest.get("model", {}).get("n_prompts")
        return int(n) if n else None

    def run(self, inputs: Mapping[str, Any]) -> Outputs:
        """Run any batch size; returns ``{output_name: float32 array}`` in contract order."""
        x = check_inputs(inputs)
        n_p = self.n_prompts
        if (
            n_p is not None
            and x["prompt_id"].size
            and (x["prompt_id"].max() >= n_p or x["prompt_id"].min() < 0)
        ):
            bad = int(x["prompt_id"].max() if x["prompt_id"].max() >= n_p else x["prompt_id"].min())
            raise ShapeError(
                f"prompt_id {bad} is outside this model's prompt table (0..{n_p - 1})",
                "build windows with the same prompt table the model was trained with",
            )
        n = x[INPUT_NAMES[0]].shape[0]
        fb = self.fixed_batch
        if fb is None and self.max_batch is not None and n > self.max_batch:
            mb = self.max_batch
            return self._finish(
                concat_outputs([self._run({k: v[s : s + mb] for k, v in x.items()}) for s in range(0, n, mb)])
            )
        if fb is None or n == fb:
            return self._finish(self._run(x))
        parts = []
        for s in range(0, n, fb):
            chunk = {k: v[s : s + fb] for k, v in x.items()}
            m = chunk[INPUT_NAMES[0]].shape[0]
            if m < fb:  # pad the last chunk by repeating its last row, then drop the padding
                chunk = {k: np.concatenate([v, np.repeat(v[-1:], fb - m, axis=0)]) for k, v in chunk.items()}
            out = self._run(chunk)
            parts.append({k: v[:m] for k, v in out.items()})
        return self._finish(concat_outputs(parts))

    __call__ = run

    def _finish(self, out: Outputs) -> Outputs:
        missing = [n for n in OUTPUT_NAMES if n not in out]
        if missing:
            raise ShapeError(
                f"runner '{self.target}' did not return {', '.join(missing)}", "re-export the bundle"
            )
        return {n: np.asarray(out[n], dtype=np.float32) for n in OUTPUT_NAMES}

    def warmup(self, n: int = 3, batch: int = 1) -> None:
        """Run a few throw-away inferences (first-run allocations, lazy compilation)."""
        x = make_inputs(batch)
        for _ in range(n):
            self.run(x)

    def describe(self) -> str:
        return f"{type(self).__name__}(target={self.target}, precision={self.precision})"

    def __repr__(self) -> str:
        return self.describe()


def outputs_to_dict(result: Any) -> dict[str, Any]:
    """Map a model's forward result (dict, namedtuple, dataclass or tuple in contract order) to a dict."""
    if isinstance(result, Mapping):
        return {n: result[n] for n in OUTPUT_NAMES}
    if hasattr(result, "_asdict"):
        d = result._asdict()
        return {n: d[n] for n in OUTPUT_NAMES}
    if all(hasattr(result, n) for n in OUTPUT_NAMES):
        return {n: getattr(result, n) for n in OUTPUT_NAMES}
    if isinstance(result, (tuple, list)) and len(result) == len(OUTPUT_NAMES):
        return dict(zip(OUTPUT_NAMES, result, strict=True))
    raise ShapeError(
        f"model returned {type(result).__name__}, not the contract outputs",
        f"return a dict/tuple with {', '.join(OUTPUT_NAMES)}",
    )


class TorchRunner(Runner):
    """The PyTorch reference: runs an ``nn.Module`` eagerly under ``torch.inference_mode``."""

    target = "pytorch"
    precision = "fp32"

    def __init__(self, model: Any, manifest: Mapping[str, Any] | None = None, threads: int | None = None):
        super().__init__(manifest)
        import torch

        self._torch = torch
        self.model = model
        with contextlib.suppress(NotImplementedError):  # a torch.export module cannot .eval()
            model.eval()
        if threads:
            torch.set_num_threads(threads)

    def _run(self, inputs: Inputs) -> Outputs:
        torch = self._torch
        with torch.inference_mode():
            res = self.model(*(torch.from_numpy(inputs[n]) for n in INPUT_NAMES))
        return {k: v.detach().float().cpu().numpy() for k, v in outputs_to_dict(res).items()}
