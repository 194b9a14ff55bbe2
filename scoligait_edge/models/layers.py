"""Transformer building blocks: RoPE attention exposing its weights, pre-norm blocks, latent pooling.

Everything here is export-friendly: explicit matmul + softmax attention (so the weights can be
returned for explanations), constant rotary tables, no data-dependent Python control flow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scoligait_edge.models.reduce import Transfer

NEG_INF = -1e4  #: additive mask value (finite so fp16/INT8 graphs stay NaN-free)


def rope_angles(positions: Tensor, head_dim: int, base: float = 1000.0) -> Tensor:
    """Rotation angles ``[N, head_dim // 2]`` for token ``positions`` (frames, may be fractional)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    return (positions.to(torch.float64)[:, None] * inv_freq[None, :]).to(torch.float32)


class Rotary(nn.Module):
    """Rotary position embedding with fixed token positions (rotate-half convention).

    Tokens with equal positions get identical rotations; this is how knowledge-map and
    video tokens covering the same frames are *aligned*.
    """

    def __init__(self, positions: Tensor, head_dim: int, base: float = 1000.0) -> None:
        super().__init__()
        ang = rope_angles(positions, head_dim, base)
        self.register_buffer("positions", positions.to(torch.float32), persistent=False)
        self.register_buffer("angles", ang, persistent=False)
        self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1), persistent=False)
        self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Rotate ``x`` of shape ``[B, H, N, Dh]``."""
        return rotate(x, self.cos, self.sin)

    def table(self) -> RopeTable:
        return RopeTable(self.cos, self.sin)


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate-half RoPE of ``x [B, H, N, Dh]`` by ``cos``/``sin`` ``[N, Dh]`` or ``[B, 1, N, Dh]``."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class RopeTable(NamedTuple):
    """A rotary table for the current token sequence (per-sample after EViT / ToMe reduction)."""

    cos: Tensor
    sin: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        return rotate(x, self.cos, self.sin)

    def mixed(self, transfer: Tensor) -> RopeTable:
        """The table of tokens built as ``transfer [B, N_out, N_in] @ tokens``: rows that copy one
        token keep its rotation exactly; fused rows get the weighted mean of their sources'."""
        cos = self.cos if self.cos.dim() == 2 else self.cos[:, 0]
        sin = self.sin if self.sin.dim() == 2 else self.sin[:, 0]
        return RopeTable((transfer @ cos)[:, None], (transfer @ sin)[:, None])


class Attention(nn.Module):
    """Multi-head self-attention that also returns its head-averaged weights ``[B, N, N]``."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, rope: Callable[[Tensor], Tensor] | None = None, key_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = rope(q), rope(k)
        logits = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        if key_mask is not None:
            logits = logits + (1.0 - key_mask[:, None, None, :].to(logits.dtype)) * NEG_INF
        attn = logits.softmax(dim=-1)
        out = (self.drop(attn) @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out), attn.mean(dim=1)


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.drop(F.gelu(self.fc1(x))))


class GEGLU(nn.Module):
    """GELU-gated linear unit MLP (Shazeer 2020): ``W2 (a ⊙ GELU(g))`` with ``[a, g] = W1 x``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 2 * hidden), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        a, g = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(a * F.gelu(g))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + Attn(LN x)``, ``x + MLP(LN x)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, rope: Callable[[Tensor], Tensor] | None = None, key_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        a, w = self.attn(self.norm1(x), rope, key_mask)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.norm2(x))), w


class Encoder(nn.Module):
    """A ViT-style stack of pre-norm blocks sharing one rotary table; returns per-layer attention."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        positions: Tensor,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        rope_base: float = 1000.0,
    ) -> None:
        super().__init__()
        self.rope = Rotary(positions, dim // heads, rope_base)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        maps = []
        for blk in self.blocks:
            x, w = blk(x, self.rope, key_mask)
            maps.append(w)
        return x, maps


def rollout_relevance(relevance: Tensor, maps: Sequence[Tensor | Transfer]) -> Tensor:
    """Attention rollout run backwards: carry output-token relevance ``[B, N]`` to input tokens.

    Each layer's residual attention is ``0.5 A + 0.5 I`` (rows sum to 1), so the total
    relevance is preserved (Abnar & Zuidema 2020). Token-reduction steps in ``maps`` are
    `~scoligait_edge.models.reduce.Transfer` matrices ``[B, N_out, N_in]`` (rows sum to 1),
    applied as ``relevance @ R``.
    """
    for a in reversed(maps):
        if isinstance(a, Transfer):
            relevance = (relevance[:, None, :] @ a.matrix).squeeze(1)
        else:
            relevance = 0.5 * (relevance[:, None, :] @ a).squeeze(1) + 0.5 * relevance
    return relevance


def masked_mean(x: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over tokens ``[B, N, D] -> [B, D]`` counting only tokens with ``mask == 1``."""
    if mask is None:
        return x.mean(dim=1)
    m = mask.to(x.dtype)[..., None]
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


class LatentAttentionPooling(nn.Module):
    """NV-Embed latent attention pooling (Lee et al. 2024).

    Tokens are the queries; a trainable latent array ``[K, D]`` supplies keys and values.
    Multi-head cross-attention ``O = softmax(Q Kᵀ/√d) V`` with a residual, a GEGLU MLP with a
    residual, a final LayerNorm, then a masked mean pool over tokens. Because attention runs
    per token over the latents, each pooled token depends on that token only, and a linear
    head on the pool decomposes exactly into per-token contributions (used for saliency).
    """

    def __init__(self, dim: int, latents: int, heads: int, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.latents = nn.Parameter(torch.randn(latents, dim) * 0.02)
        self.norm_q = nn.LayerNorm(dim)
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = GEGLU(dim, int(dim * mlp_ratio))
        self.norm_out = nn.LayerNorm(dim)

    def tokens(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-token outputs ``[B, N, D]`` (before pooling) and attention over latents ``[B, H, N, K]``."""
        b, n, d = x.shape
        kk = self.latents.shape[0]
        q = self.q(self.norm_q(x)).reshape(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(self.latents).reshape(kk, self.heads, self.head_dim).transpose(0, 1)
        v = self.v(self.latents).reshape(kk, self.heads, self.head_dim).transpose(0, 1)
        attn = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))).softmax(dim=-1)
        h = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))
        h = h + self.mlp(self.norm_mlp(h))
        return self.norm_out(h), attn

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        y, _ = self.tokens(x)
        return masked_mean(y, mask)
