"""Physical reference: the student's FLOPs and a measured fp32 matmul peak on this machine."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from scoligait_edge.bench.timing import thread_limit


def model_flops(model, example: Mapping[str, np.ndarray]) -> int | None:
    """FLOPs of one forward pass (batch as in ``example``), counted by ``torch.utils.flop_counter``.

    Counts matmul/conv/attention FLOPs (2 per multiply-add), which dominate a transformer;
    element-wise ops are not counted, as in every published FLOP figure.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in example.items()}
    counter = FlopCounterMode(display=False)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad(), counter:
            model(**tensors)
    finally:
        if was_training:
            model.train()
    total = counter.get_total_flops()
    return int(total) if total else None


def matmul_peak(threads: int, n: int = 512, seconds: float = 0.4) -> dict[str, float]:
    """Best sustained fp32 GEMM rate (FLOP/s) of ``torch.mm`` on ``n``×``n`` at ``threads`` threads.

    Best-of (not median): a peak is what the hardware can do, and interference only ever
    lowers it. ``n`` = 512 fits in L2/L3 and saturates AVX-512 FMA units on one core.
    """
    import torch

    with thread_limit(threads), torch.no_grad():
        g = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=g)
        b = torch.randn(n, n, generator=g)
        c = torch.empty(n, n)
        for _ in range(3):
            torch.mm(a, b, out=c)
        best = math.inf
        reps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or reps < 5:
            t0 = time.perf_counter()
            torch.mm(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
            reps += 1
    flops = 2.0 * n**3
    return {"threads": threads, "n": n, "flop_per_s": flops / best, "best_ms": best * 1e3, "reps": reps}
