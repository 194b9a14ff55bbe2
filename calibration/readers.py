"""Adapters that feed a :class:`CalibrationSet` to each quantizer (imports stay inside functions)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from scoligait_edge.calibration.dataset import CalibrationSet


def ort_reader(cs: CalibrationSet, batch: int = 1, input_names: list[str] | None = None) -> Any:
    """An ``onnxruntime.quantization.CalibrationDataReader`` yielding ``batch``-sized input dicts.

    ``input_names`` restricts the dict to the graph's inputs (e.g. if the exporter dropped one).
    """
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = cs.batches(batch)
            self._it: Iterator[dict[str, np.ndarray]] = iter(self._batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            b = next(self._it, None)
            if b is None:
                return None
            return {k: v for k, v in b.items() if input_names is None or k in input_names}

        def rewind(self) -> None:
            self._it = iter(self._batches)

        def __len__(self) -> int:
            return len(self._batches)

    return _Reader()


def nncf_dataset(cs: CalibrationSet, input_names: list[str] | None = None) -> Any:
    """A batch-1 ``nncf.Dataset`` whose items are input dicts (OpenVINO model inputs by name)."""
    import nncf

    names = input_names or list(cs.inputs())
    items = [{k: v for k, v in b.items() if k in names} for b in cs.batches(1)]
    return nncf.Dataset(items)


def modelopt_arrays(cs: CalibrationSet, input_names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Name → full array mapping, the form ``modelopt.onnx.quantization.quantize`` takes."""
    return {k: v for k, v in cs.inputs().items() if input_names is None or k in input_names}


def torch_batches(cs: CalibrationSet, batch: int = 1) -> Iterator[tuple[Any, ...]]:
    """Positional torch tensors per batch (PT2E / ExecuTorch calibration)."""
    import torch

    for b in cs.batches(batch):
        yield tuple(torch.from_numpy(b[k]) for k in ("kmap", "silhouette", "prompt_id"))
