"""Shared parts of teacher and student: input normalisation, heads, contract outputs, saliency."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from scoligait_edge.contract import N_FEATURES, OUTPUT_NAMES
from scoligait_edge.models.config import ModelConfig
from scoligait_edge.models.embed import KMPatchEmbed
from scoligait_edge.models.layers import rollout_relevance
from scoligait_edge.models.reduce import Transfer

EPS = 1e-8


class ScoliGaitModel(nn.Module):
    """Base class. ``forward(kmap, silhouette, prompt_id)`` returns the contract outputs
    ``referral_logit``, ``referral_prob``, ``cobb_angle`` ``[B]`` and ``saliency [B, 96, 238]``;
    with ``extras=True`` also ``embedding [B, D]`` (pooled) and ``km_relevance [B, T/P, G]``.

    Saliency: the referral head is linear on a mean pool of per-token outputs, so the logit is
    exactly the mean of per-token contributions (class-activation mapping). Their magnitudes
    are carried back through the encoders' attention (rollout) to the knowledge-map tokens,
    then spread over each token's frames × features (`KMPatchEmbed.distribute`). Each
    sample's saliency is non-negative and sums to 1.
    """

    km_embed: KMPatchEmbed | None

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg.validate()
        d = cfg.dim
        self.register_buffer("km_mean", torch.zeros(N_FEATURES))
        self.register_buffer("km_std", torch.ones(N_FEATURES))
        self.register_buffer("cobb_mean", torch.tensor(0.0))
        self.register_buffer("cobb_std", torch.tensor(1.0))
        #: decision threshold on ``referral_prob`` chosen on the validation split (0.5 until trained)
        self.register_buffer("threshold", torch.tensor(0.5))
        self.head_referral = nn.Linear(d, 1)
        self.head_cobb = nn.Linear(d, 1)

    @torch.no_grad()
    def set_normalization(self, km_mean: Tensor, km_std: Tensor, cobb_mean: float, cobb_std: float) -> None:
        """Store training-split statistics (kmap per-feature mean/std, Cobb mean/std) as buffers."""
        self.km_mean.copy_(torch.as_tensor(km_mean, dtype=torch.float32))
        self.km_std.copy_(torch.as_tensor(km_std, dtype=torch.float32).clamp_min(1e-6))
        self.cobb_mean.fill_(float(cobb_mean))
        self.cobb_std.fill_(max(float(cobb_std), 1e-6))

    def normalize(self, kmap: Tensor) -> Tensor:
        return (kmap - self.km_mean) / self.km_std

    def _outputs(
        self,
        y: Tensor,
        x_norm: Tensor,
        fused_maps: Sequence[Tensor | Transfer],
        km_offset: int,
        km_maps: list[Tensor],
        extras: bool,
    ) -> dict[str, Tensor]:
        """Heads + saliency from per-token outputs ``y [B, N, D]`` (mean-pooled)."""
        pooled = y.mean(dim=1)
        logit = self.head_referral(pooled).squeeze(-1)
        cobb = self.head_cobb(pooled).squeeze(-1) * self.cobb_std + self.cobb_mean
        b = y.shape[0]
        if self.km_embed is not None:
            n_km = self.km_embed.n_tokens
            contrib = (y @ self.head_referral.weight[0]).abs()  # [B, N] per-token |logit share|
            rel = rollout_relevance(contrib, fused_maps)[:, km_offset : km_offset + n_km]
            rel = rel / rel.sum(dim=-1, keepdim=True).clamp_min(EPS)
            rel = rollout_relevance(rel, km_maps)
            saliency = self.km_embed.distribute(rel, x_norm)
            km_rel = rel.reshape(b, self.km_embed.n_time, self.km_embed.n_groups)
        else:  # no knowledge-map branch: nothing to attribute, report a uniform map
            saliency = torch.ones_like(x_norm) / x_norm[0].numel()
            km_rel = saliency[:, :1, :1]
        out = {
            "referral_logit": logit,
            "referral_prob": torch.sigmoid(logit),
            "cobb_angle": cobb,
            "saliency": saliency,
        }
        if extras:
            out["embedding"] = pooled
            out["km_relevance"] = km_rel
        return out

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class ExportView(nn.Module):
    """Wraps a model so ``forward`` returns the contract outputs as a tuple in `OUTPUT_NAMES` order."""

    def __init__(self, model: ScoliGaitModel) -> None:
        super().__init__()
        self.model = model
        self.train(model.training)

    def forward(self, kmap: Tensor, silhouette: Tensor, prompt_id: Tensor) -> tuple[Tensor, ...]:
        out = self.model(kmap, silhouette, prompt_id)
        return tuple(out[k] for k in OUTPUT_NAMES)
