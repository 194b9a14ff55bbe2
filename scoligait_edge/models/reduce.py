"""Token reduction between encoder blocks: pixel-shuffle merging, EViT fusion and ToMe.

- `PixelShuffleMerge` (seed 004, InternVL's projector): space-to-depth on the knowledge-map token
  grid (time patch × feature group), ``(T, G, D) → (T/r_t, G/r_g, D·r_t·r_g)``, LayerNorm, Linear
  back to ``D``. The seed's factor 4 is ``(2, 2)``.
- `InattentiveFusion` (seed 003, EViT): keep the ``k`` tokens that receive the most attention in
  the previous block and fuse the rest into one token weighted by that attention.
- `BipartiteMerge` (ToMe, Bolya et al. 2023): at inference, average the ``r`` most similar pairs
  of an alternating bipartite split (no training, no new weights).

All have static shapes (merge factor, ``k`` and ``r`` fixed at build time) and use only
Reshape/Transpose/MatMul/TopK/Equal, so every export target runs them. Each returns a `Transfer`
``R [B, N_out, N_in]`` with rows summing to 1 — output token ``i`` stands for input tokens in
proportions ``R[i]`` — which attention rollout multiplies through, so saliency still reaches every
knowledge-map cell of the original grid. The token order is ``[grid tokens…, fixed tokens…]``: the
last ``n_fixed`` tokens (the prompt token) are never merged or pruned, like EViT's class token.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

EPS = 1e-6


class Transfer(NamedTuple):
    """``matrix [B, N_out, N_in]``: how each output token's relevance splits over input tokens."""

    matrix: Tensor


def _with_fixed(head: Tensor, eye: Tensor) -> Tensor:
    """Block-diagonal ``[[head, 0], [0, eye]]`` for a batch of ``head [B, n_out, n_in]``.

    ``eye [n_fixed, n_fixed]`` is the identity of the pass-through tokens: a buffer where the module
    can hold one (``torch.eye`` in a forward lowers to ``STABLEHLO_IOTA`` in LiteRT, an op the TFLite
    interpreter lacks), built in ``forward`` by ToMe, whose buffers ExecuTorch cannot lower.
    """
    n_fixed = eye.shape[0]
    if n_fixed == 0:
        return head
    b, n_out, n_in = head.shape
    top = torch.cat([head, head.new_zeros(b, n_out, n_fixed)], dim=-1)
    bottom = torch.cat([head.new_zeros(b, n_fixed, n_in), eye.to(head.dtype).expand(b, -1, -1)], dim=-1)
    return torch.cat([top, bottom], dim=1)


class PixelShuffleMerge(nn.Module):
    """Merge ``factor = (r_t, r_g)`` neighbouring knowledge-map tokens into one (learned projector).

    The first ``n_time · n_groups`` tokens are the time-major grid; the remaining tokens pass
    through. A merged token's relevance splits over its sources in proportion to each source's
    contribution ``‖W_j · LN(x)_j‖`` to the merged embedding.
    """

    def __init__(self, dim: int, n_time: int, n_groups: int, factor: tuple[int, int], n_fixed: int) -> None:
        super().__init__()
        self.rt, self.rg = factor
        self.nt, self.ng, self.dim = n_time, n_groups, dim
        self.r = self.rt * self.rg
        self.norm = nn.LayerNorm(dim * self.r)
        self.proj = nn.Linear(dim * self.r, dim)
        src = torch.arange(n_time * n_groups).reshape(
            n_time // self.rt, self.rt, n_groups // self.rg, self.rg
        )
        src = src.permute(0, 2, 1, 3).reshape(self.n_out, self.r)  # merged token -> its source tokens
        onehot = torch.nn.functional.one_hot(src, n_time * n_groups).to(torch.float32)
        self.register_buffer("source_onehot", onehot, persistent=False)  # [n_out, r, n_in]
        self.register_buffer("fixed_eye", torch.eye(n_fixed), persistent=False)  # tokens after the grid

    @property
    def n_in(self) -> int:
        return self.nt * self.ng

    @property
    def n_out(self) -> int:
        return (self.nt // self.rt) * (self.ng // self.rg)

    def positions(self, positions: Tensor) -> Tensor:
        """Rotary positions after merging: the mean frame of each merged token's sources."""
        grid = positions[: self.n_in]
        merged = (self.source_onehot.sum(1) @ grid) / self.r
        return torch.cat([merged, positions[self.n_in :]])

    def forward(self, z: Tensor) -> tuple[Tensor, Transfer]:
        b, n, d = z.shape
        x = z[:, : self.n_in].reshape(b, self.nt // self.rt, self.rt, self.ng // self.rg, self.rg, d)
        x = self.norm(x.permute(0, 1, 3, 2, 4, 5).reshape(b, self.n_out, self.r * d))
        merged = self.proj(x)
        # per-source contribution W_j x̂_j: [B, r, n_out, d] @ [r, d, D] -> [B, r, n_out, D]
        w = self.proj.weight.reshape(d, self.r, d).permute(1, 2, 0)
        xs = x.reshape(b, self.n_out, self.r, d).transpose(1, 2)
        contrib = (xs @ w).norm(dim=-1).transpose(1, 2) + EPS  # [B, n_out, r]
        share = contrib / contrib.sum(dim=-1, keepdim=True)
        head = (share[:, :, None, :] @ self.source_onehot).squeeze(2)  # [B, n_out, n_in]
        out = torch.cat([merged, z[:, self.n_in :]], dim=1)
        if n != self.n_in + self.fixed_eye.shape[0]:
            raise ValueError(f"{n} tokens, built for {self.n_in} grid + {self.fixed_eye.shape[0]} fixed")
        return out, Transfer(_with_fixed(head, self.fixed_eye))


class InattentiveFusion(nn.Module):
    """EViT token reorganisation: keep the top-``k`` attended candidates, fuse the rest into one.

    Candidates are the first ``n_in - n_fixed`` tokens. Attentiveness is the attention a token
    receives averaged over heads and over all queries: the models pool by a *mean* over tokens
    (no class token), so the mean query is their class query.
    """

    def __init__(self, n_in: int, n_fixed: int, keep: float) -> None:
        super().__init__()
        self.n_cand, self.n_fixed = n_in - n_fixed, n_fixed
        self.k = min(self.n_cand - 1, max(1, round(keep * self.n_cand)))
        self.register_buffer("cand_index", torch.arange(self.n_cand), persistent=False)
        self.register_buffer("fixed_eye", torch.eye(n_fixed), persistent=False)

    @property
    def n_out(self) -> int:
        return self.k + 1 + self.n_fixed

    def forward(self, z: Tensor, attn: Tensor) -> tuple[Tensor, Transfer]:
        """``attn [B, N, N]``: the previous block's head-averaged attention over the same tokens."""
        imp = attn.mean(dim=1)[:, : self.n_cand]  # attention received, [B, n_cand]
        idx = imp.topk(self.k, dim=-1).indices  # [B, k]
        keep = (idx[:, :, None] == self.cand_index).to(z.dtype)  # one-hot rows [B, k, n_cand]
        rest = imp * (1.0 - keep.sum(dim=1))
        rest = rest / rest.sum(dim=-1, keepdim=True).clamp_min(EPS)
        r = _with_fixed(torch.cat([keep, rest[:, None, :]], dim=1), self.fixed_eye)
        return r @ z, Transfer(r)


class BipartiteMerge(nn.Module):
    """ToMe bipartite soft matching: split candidates alternately into A and B, match each A token
    to its most similar B token (cosine of the tokens), and average the ``r`` best-matched A tokens
    into their partners (size-weighted). Parameter-free: it applies to a trained model as is."""

    def __init__(self, n_in: int, n_fixed: int, r: int) -> None:
        super().__init__()
        self.n_cand, self.n_fixed = n_in - n_fixed, n_fixed
        self.na, self.nb = (self.n_cand + 1) // 2, self.n_cand // 2
        self.r = min(r, self.na)

    @property
    def n_out(self) -> int:
        return self.n_cand - self.r + self.n_fixed

    def forward(self, z: Tensor, size: Tensor) -> tuple[Tensor, Transfer, Tensor]:
        """``size [B, N]``: how many input tokens each token already stands for (1 at the start)."""
        # selection constants are built here, not kept as buffers: ExecuTorch's lowering finds no
        # input spec for lifted constant buffers of this module ("Missing input spec for lifted tensor")
        eye = torch.eye(self.n_cand, dtype=z.dtype, device=z.device)
        a_rows, b_rows_1 = eye[0::2], eye[1::2]  # [na, n_cand], [nb, n_cand]
        a_index = torch.arange(self.na, device=z.device)
        b_index = torch.arange(self.nb, device=z.device)
        cand = z[:, : self.n_cand]
        k = cand / cand.norm(dim=-1, keepdim=True).clamp_min(EPS)
        ka, kb = k[:, 0::2], k[:, 1::2]
        best, partner = (ka @ kb.transpose(1, 2)).max(dim=-1)  # [B, na]
        order = best.topk(self.na, dim=-1).indices  # most similar first
        merged_a = (order[:, : self.r, None] == a_index).to(z.dtype)  # [B, r, na]
        kept_a = (order[:, self.r :, None] == a_index).to(z.dtype)  # [B, na - r, na]
        dest = (partner[:, :, None] == b_index).to(z.dtype)  # [B, na, nb]: A -> its B partner
        # output rows: unmerged A tokens, then every B token absorbing the A tokens merged into it
        s_cand = size[:, : self.n_cand]
        b_rows = b_rows_1.expand(z.shape[0], -1, -1)
        absorb = (merged_a @ dest).transpose(1, 2) @ (merged_a @ a_rows)  # [B, nb, n_cand]
        weights = torch.cat([kept_a @ a_rows, b_rows + absorb], dim=1) * s_cand[:, None, :]
        new_size = weights.sum(dim=-1)
        head = weights / new_size[..., None]
        r = _with_fixed(head, torch.eye(self.n_fixed, dtype=z.dtype, device=z.device))
        sizes = torch.cat([new_size, size[:, self.n_cand :]], dim=1)
        return r @ z, Transfer(r), sizes
