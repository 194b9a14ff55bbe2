"""The ScoliGait teacher: KM-ViT + video-ViT + MiniLM prompt embedding, fused by latent attention pooling."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from scoligait_edge.contract import N_FEATURES, TEXT_DIM, WINDOW
from scoligait_edge.models.base import ScoliGaitModel
from scoligait_edge.models.config import ModelConfig, teacher_config
from scoligait_edge.models.embed import KMPatchEmbed, TubeletEmbed
from scoligait_edge.models.layers import Block, Encoder, LatentAttentionPooling, Rotary


class Teacher(ScoliGaitModel):
    """Three-modality teacher (the paper's design).

    - knowledge-map ViT: tokens of ``km_patch`` frames × one feature group, ``depth`` blocks;
    - silhouette-video ViT: same backbone, tubelet embedding (plus window-mean posture tokens with
      ``video_posture``), ``depth`` blocks;
    - text: all-MiniLM-L6-v2 embeddings of the finite clinical-prompt set. The encoder is
      run once over `scoligait_edge.prompts.PROMPTS` (see `models.text.minilm_table`) and the
      ``[n_prompts, 384]`` result is kept as the ``text_table`` buffer indexed by ``prompt_id``
      — identical to running MiniLM per sample, without shipping its 90 MB of weights;
    - per-modality projections to a shared width, concatenation, then fusion ``cat`` (mean pool),
      ``cat+attention`` (one joint RoPE block, mean pool) or ``cat+latent`` (latent attention pooling);
    - rotary positions ``aligned`` (tokens of the same frames share positions across modalities)
      or ``unaligned`` (each modality's raster index).
    """

    def __init__(self, cfg: ModelConfig | None = None) -> None:
        cfg = cfg or teacher_config()
        super().__init__(cfg)
        d, aligned = cfg.dim, cfg.rope == "aligned"
        mods = cfg.modalities
        self.use_km, self.use_video, self.use_text = "km" in mods, "video" in mods, "text" in mods
        positions = []
        self.km_embed = None
        if self.use_km:
            self.km_embed = KMPatchEmbed(d, WINDOW, N_FEATURES, cfg.km_patch, cfg.groups)
            pos = self.km_embed.positions(aligned)
            self.km_encoder = Encoder(d, cfg.depth, cfg.heads, pos, cfg.mlp_ratio, cfg.dropout, cfg.rope_base)
            self.km_proj = nn.Linear(d, d)
            positions.append(pos)
        if self.use_video:
            self.video_embed = TubeletEmbed(d, WINDOW, cfg.sil_hw, cfg.video_patch, cfg.video_posture)
            pos = self.video_embed.positions(aligned)
            self.video_encoder = Encoder(
                d, cfg.depth, cfg.heads, pos, cfg.mlp_ratio, cfg.dropout, cfg.rope_base
            )
            self.video_proj = nn.Linear(d, d)
            positions.append(pos)
        if self.use_text:
            self.register_buffer("text_table", torch.zeros(cfg.n_prompts, TEXT_DIM))
            self.text_proj = nn.Linear(TEXT_DIM, d)
            positions.append(torch.zeros(1))
        if cfg.fusion == "cat+attention":
            self.fusion_rope = Rotary(torch.cat(positions), d // cfg.heads, cfg.rope_base)
            self.fusion_block = Block(d, cfg.heads, cfg.mlp_ratio, cfg.dropout)
        elif cfg.fusion == "cat+latent":
            self.pool = LatentAttentionPooling(d, cfg.latents, cfg.latent_heads, cfg.mlp_ratio)
        if cfg.fusion != "cat+latent":
            self.norm_out = nn.LayerNorm(d)

    @torch.no_grad()
    def set_text_table(self, table: Tensor) -> None:
        """Install the MiniLM prompt embeddings ``[n_prompts, 384]``."""
        self.text_table.copy_(torch.as_tensor(table, dtype=torch.float32))

    def forward(
        self, kmap: Tensor, silhouette: Tensor, prompt_id: Tensor, extras: bool = False
    ) -> dict[str, Tensor]:
        x = self.normalize(kmap)
        parts: list[Tensor] = []
        km_maps: list[Tensor] = []
        if self.use_km:
            km_tok, km_maps = self.km_encoder(self.km_embed(x))
            parts.append(self.km_proj(km_tok))
        if self.use_video:
            v_tok, _ = self.video_encoder(self.video_embed(silhouette))
            parts.append(self.video_proj(v_tok))
        if self.use_text:
            parts.append(self.text_proj(self.text_table.index_select(0, prompt_id))[:, None, :])
        z = torch.cat(parts, dim=1)
        fused_maps: list[Tensor] = []
        if self.cfg.fusion == "cat+latent":
            y, _ = self.pool.tokens(z)
        elif self.cfg.fusion == "cat+attention":
            z, w = self.fusion_block(z, self.fusion_rope)
            fused_maps = [w]
            y = self.norm_out(z)
        else:
            y = self.norm_out(z)
        out = self._outputs(y, x, fused_maps, 0, km_maps, extras)
        if extras:  # per-modality pooled embeddings before fusion (contrastive alignment)
            mods = self.cfg.modalities_in_order
            out.update({f"{m}_embedding": t.mean(dim=1) for m, t in zip(mods, parts, strict=True)})
        return out
