"""What the suite measures: one ``Case`` per table row, plus the evaluation set for parity.

A case is data plus small callables, so a row can come from anything that has a
``run(inputs) -> outputs`` method (an exported bundle's runner, a PyTorch model, a test's
stand-in) or from a zero-argument workload (a pipeline stage). A missing piece is a case
with a preset ``unavailable``/``failed`` status and its reason — never a crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.bench.report import FAILED, UNAVAILABLE
from scoligait_edge.bench.timing import Workload
from scoligait_edge.runtime.base import Runner


@dataclass
class Case:
    """One row to measure.

    Model rows give ``load(threads) -> Runner``; pipeline rows give ``setup(threads) -> Workload``.
    ``role`` marks the parity references: ``teacher`` and ``student_fp32``.
    """

    id: str
    kind: str
    label: str
    target: str = ""
    precision: str = ""
    unit: str = "window"
    load: Callable[[int], Runner] | None = None
    setup: Callable[[int], Workload] | None = None
    size_bytes: int | None = None
    threshold: float = 0.5
    floors: dict[str, float] | None = None
    role: str | None = None
    flops: int | None = None
    status: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    items_per_call: int = 1  #: a workload call processes this many ``unit``s (latency is reported per unit)
    cleanups: list[Callable[[], object]] = field(default_factory=list)  #: run by the suite when done timing
    artifact: Path | None = None  #: the bundle directory a model row loads
    gate_latency: bool = True  #: False: the gate checks this row's status but not its latency…
    gate_why: str = ""  #: …for this reason

    def close(self) -> None:
        """Release what ``setup``/``load`` opened (e.g. a MediaPipe landmarker)."""
        while self.cleanups:
            with contextlib.suppress(Exception):  # cleanup must never hide the row's figures
                self.cleanups.pop()()

    @property
    def runnable(self) -> bool:
        return self.status is None and (self.load is not None or self.setup is not None)


def unavailable(case_id: str, kind: str, label: str, reason: str, **kw: Any) -> Case:
    """A ⏭ row: the backend or stage cannot run on this machine, for ``reason``."""
    return Case(id=case_id, kind=kind, label=label, status=UNAVAILABLE, reason=one_line(reason), **kw)


def failed(case_id: str, kind: str, label: str, reason: str, **kw: Any) -> Case:
    """A ❌ row: export or loading failed, for ``reason``."""
    return Case(id=case_id, kind=kind, label=label, status=FAILED, reason=one_line(reason), **kw)


def one_line(reason: object, limit: int = 160) -> str:
    """An exception or message squeezed onto one line for the table."""
    if isinstance(reason, BaseException):
        text = str(reason) or reason.__class__.__name__
        if not getattr(reason, "cause", None):  # ScoliGaitError already reads well
            text = f"{reason.__class__.__name__}: {text}"
    else:
        text = str(reason)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class EvalSet:
    """Windows the parity figures are computed on (batch axis first) and their labels."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def example(self, batch: int = 1) -> dict[str, np.ndarray]:
        """The first ``batch`` windows (contiguous copies, so timing never pays for a view)."""
        return {k: np.ascontiguousarray(v[:batch]) for k, v in self.inputs.items()}

    def describe(self) -> dict[str, Any]:
        pos = int(np.sum(self.labels)) if self.labels is not None else None
        return {"source": self.source, "n": len(self), "positives": pos}


def predict_probs(runner: Runner, inputs: Mapping[str, np.ndarray], chunk: int = 32) -> np.ndarray:
    """Referral probabilities for every window, batched; falls back to batch 1 if batching fails."""
    n = len(next(iter(inputs.values())))

    def probs(out: Mapping[str, np.ndarray]) -> np.ndarray:
        if "referral_prob" in out:
            return np.asarray(out["referral_prob"], dtype=np.float64).reshape(-1)
        logit = np.asarray(out["referral_logit"], dtype=np.float64).reshape(-1)
        return 1.0 / (1.0 + np.exp(-logit))

    parts: list[np.ndarray] = []
    try:
        for i in range(0, n, chunk):
            parts.append(
                probs(runner.run({k: np.ascontiguousarray(v[i : i + chunk]) for k, v in inputs.items()}))
            )
    except Exception:
        parts = [
            probs(runner.run({k: np.ascontiguousarray(v[i : i + 1]) for k, v in inputs.items()}))
            for i in range(n)
        ]
    return np.concatenate(parts) if parts else np.zeros(0)


class TorchModuleRunner:
    """Minimal runner over a ``torch.nn.Module`` whose ``forward(**inputs)`` returns a dict.

    Used when ``scoligait_edge.runtime`` has no ``TorchRunner`` (and by tests); PyTorch's thread
    count is the process-wide setting, which the suite sets per thread group.
    """

    target = "torch"

    def __init__(self, model: Any, precision: str = "fp32") -> None:
        import torch

        self._torch = torch
        self.model = model.eval()
        self.precision = precision

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(**{k: torch.from_numpy(np.asarray(v)) for k, v in inputs.items()})
        if not isinstance(out, Mapping):
            out = {"referral_logit": out}
        return {
            k: v.detach().float().numpy() if hasattr(v, "detach") else np.asarray(v) for k, v in out.items()
        }
