"""Decoupled contrastive alignment of the teacher's modality embeddings (seed ``004_…``).

InfoNCE pulls a window's knowledge-map embedding towards its own text (or video) embedding and
away from the other windows' in the batch. The *decoupled* form (Yeh et al., "Decoupled
Contrastive Learning", ECCV 2022) drops the positive pair from the denominator::

    L_i = −s_ii / τ + log Σ_{j ≠ i, j not masked} exp(s_ij / τ)

with cosine similarities ``s``; without the positive in the denominator the gradient no longer
shrinks as the positive gets easy, so small batches align as well as large ones. Windows that
share a clinical prompt have identical text embeddings, so they are no negatives for each other
(masked), else the loss would push apart what is the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: modality pairs aligned by the loss (knowledge map is the anchor, as in the seed)
PAIRS: tuple[tuple[str, str], ...] = (("km", "text"), ("km", "video"))


def decoupled_nce(a: Tensor, b: Tensor, temperature: float, same: Tensor | None = None) -> Tensor:
    """Symmetric decoupled InfoNCE between row-paired embeddings ``a, b [B, D]``.

    ``same [B, B]`` bool marks pairs that are not negatives (besides the diagonal). Rows left
    without any negative contribute nothing; returns 0 when no row has one.
    """
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    sim = a @ b.T / temperature
    eye = torch.eye(len(a), dtype=torch.bool, device=a.device)
    excluded = eye if same is None else eye | same
    losses = []
    for s in (sim, sim.T):
        neg = s.masked_fill(excluded, float("-inf"))
        has_neg = (~excluded).any(dim=1)
        row = -s.diagonal() + torch.logsumexp(neg, dim=1)
        losses.append(row[has_neg])
    rows = torch.cat(losses)
    return rows.mean() if len(rows) else sim.new_zeros(())


def alignment_loss(out: dict[str, Tensor], prompt_id: Tensor, temperature: float) -> Tensor:
    """Mean decoupled InfoNCE over the `PAIRS` whose two embeddings ``out`` has (teacher ``extras``)."""
    terms = []
    for m1, m2 in PAIRS:
        k1, k2 = f"{m1}_embedding", f"{m2}_embedding"
        if k1 in out and k2 in out:
            same = prompt_id[:, None] == prompt_id[None, :] if "text" in (m1, m2) else None
            terms.append(decoupled_nce(out[k1], out[k2], temperature, same))
    return torch.stack(terms).mean() if terms else prompt_id.new_zeros((), dtype=torch.float32)
