"""FLOP counting with `torch.utils.flop_counter.FlopCounterMode` (matmul-class ops)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from scoligait_edge.contract import N_FEATURES, SIL_H, SIL_W, WINDOW


def example_inputs(batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random contract-shaped inputs ``(kmap, silhouette, prompt_id)``."""
    g = torch.Generator().manual_seed(seed)
    kmap = torch.randn(batch, WINDOW, N_FEATURES, generator=g)
    sil = (torch.rand(batch, WINDOW, SIL_H, SIL_W, generator=g) > 0.5).float()
    return kmap, sil, torch.zeros(batch, dtype=torch.int64)


def count_flops(model: torch.nn.Module, batch: int = 1) -> int:
    """Forward FLOPs (2 per multiply-accumulate) of one contract forward pass at ``batch``."""
    was = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(*example_inputs(batch))
    model.train(was)
    return int(fc.get_total_flops())
