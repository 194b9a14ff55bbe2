"""The distilled student: one small joint encoder, cheap silhouette path, constant prompt table."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from scoligait_edge.contract import N_FEATURES, WINDOW
from scoligait_edge.models.base import ScoliGaitModel
from scoligait_edge.models.config import ModelConfig, student_config
from scoligait_edge.models.embed import CheapSilhouetteEmbed, KMPatchEmbed
from scoligait_edge.models.layers import Encoder, LatentAttentionPooling, RopeTable, Rotary
from scoligait_edge.models.reduce import BipartiteMerge, InattentiveFusion, PixelShuffleMerge, Transfer


class Student(ScoliGaitModel):
    """Phone-sized ScoliGait model (INT8 ≤ 1 MB, ≥ 10× fewer FLOPs than the teacher).

    Tokens: knowledge-map patches (``km_patch`` frames × coarse feature groups), one silhouette
    token per time patch (every ``video_stride``-th frame, ``video_pool``² average pooling,
    frames merged into the channel dimension; one posture token more with ``video_posture``)
    and one prompt token looked up in
    ``prompt_table`` — a constant ``[n_prompts, dim]`` buffer projected from the teacher's
    MiniLM table at distillation time (no text encoder on the device). A ``depth``-layer RoPE
    encoder (aligned positions) mixes all tokens; latent attention pooling fuses them. Only
    plain Linear/LayerNorm/MatMul/Softmax/GELU/Gather ops — quantization-friendly.

    Optional token reduction between blocks (`scoligait_edge.models.reduce`): pixel-shuffle
    merging of the knowledge-map grid (``merge``/``merge_at``), EViT fusion of inattentive tokens
    (``keep``/``keep_at``) and ToMe (``tome_r``); saliency is rolled back through each of them.
    """

    def __init__(self, cfg: ModelConfig | None = None) -> None:
        cfg = cfg or student_config()
        super().__init__(cfg)
        d, aligned = cfg.dim, cfg.rope == "aligned"
        self.km_embed = KMPatchEmbed(d, WINDOW, N_FEATURES, cfg.km_patch, cfg.groups)
        self.sil_embed = CheapSilhouetteEmbed(
            d, WINDOW, cfg.sil_hw, cfg.km_patch, cfg.video_stride, cfg.video_pool, cfg.video_posture
        )
        self.register_buffer("prompt_table", torch.zeros(cfg.n_prompts, d))
        self.text_proj = nn.Linear(d, d)
        positions = torch.cat(
            [self.km_embed.positions(aligned), self.sil_embed.positions(aligned), torch.zeros(1)]
        )
        self.encoder = Encoder(d, cfg.depth, cfg.heads, positions, cfg.mlp_ratio, cfg.dropout, cfg.rope_base)
        self.pool = LatentAttentionPooling(d, cfg.latents, cfg.latent_heads, cfg.mlp_ratio)
        self._build_reduction(positions)

    def _build_reduction(self, positions: Tensor) -> None:
        """Reduction modules keyed by the block they run before; token counts are static."""
        cfg, n = self.cfg, len(positions)
        self.merge: PixelShuffleMerge | None = None
        if cfg.merges:
            ke = self.km_embed
            n_fixed = n - ke.n_time * ke.n_groups  # silhouette + prompt tokens pass through
            self.merge = PixelShuffleMerge(cfg.dim, ke.n_time, ke.n_groups, tuple(cfg.merge), n_fixed)
            self.merged_rope = Rotary(self.merge.positions(positions), cfg.dim // cfg.heads, cfg.rope_base)
        self.fuse = nn.ModuleDict()
        self.tome = nn.ModuleDict()
        self.tokens_per_block: list[int] = []
        for i in range(cfg.depth):
            if self.merge is not None and i == cfg.merge_at:
                n = self.merge.n_out + n - self.merge.n_in
            if i in cfg.keep_at:
                self.fuse[str(i)] = InattentiveFusion(n, 1, cfg.keep)
                n = self.fuse[str(i)].n_out
            if cfg.tome_r and i >= max(1, cfg.merge_at):
                self.tome[str(i)] = BipartiteMerge(n, 1, cfg.tome_r)
                n = self.tome[str(i)].n_out
            self.tokens_per_block.append(n)

    def encode(self, z: Tensor) -> tuple[Tensor, list[Tensor | Transfer]]:
        """Run the blocks (with any token reduction); returns tokens and the rollout steps."""
        rope: RopeTable = self.encoder.rope.table()
        steps: list[Tensor | Transfer] = []
        size = None
        for i, blk in enumerate(self.encoder.blocks):
            key = str(i)
            if self.merge is not None and i == self.cfg.merge_at:
                z, t = self.merge(z)
                steps.append(t)
                rope = self.merged_rope.table()
            if key in self.fuse:
                attn = steps[-1]
                assert isinstance(attn, Tensor)
                z, t = self.fuse[key](z, attn)
                steps.append(t)
                rope = rope.mixed(t.matrix)
            if key in self.tome:
                size = torch.ones_like(z[..., 0]) if size is None else size
                z, t, size = self.tome[key](z, size)
                steps.append(t)
                rope = rope.mixed(t.matrix)
            z, w = blk(z, rope)
            steps.append(w)
        return z, steps

    @torch.no_grad()
    def set_prompt_table_from_minilm(self, minilm_table: Tensor) -> None:
        """Project the teacher's MiniLM table ``[n, 384]`` onto its top ``dim`` principal axes
        (unit variance per axis) and store the result as the constant prompt table."""
        t = torch.as_tensor(minilm_table, dtype=torch.float64)
        c = t - t.mean(dim=0, keepdim=True)
        _, s, vh = torch.linalg.svd(c, full_matrices=False)
        k = min(self.cfg.dim, vh.shape[0])
        proj = c @ vh[:k].T / (s[:k] / max(t.shape[0] - 1, 1) ** 0.5).clamp_min(1e-6)
        table = torch.zeros(t.shape[0], self.cfg.dim, dtype=torch.float64)
        table[:, :k] = proj
        self.prompt_table.copy_(table.to(torch.float32))

    def forward(
        self, kmap: Tensor, silhouette: Tensor, prompt_id: Tensor, extras: bool = False
    ) -> dict[str, Tensor]:
        x = self.normalize(kmap)
        text = self.text_proj(self.prompt_table.index_select(0, prompt_id))[:, None, :]
        z = torch.cat([self.km_embed(x), self.sil_embed(silhouette), text], dim=1)
        z, maps = self.encode(z)
        y, _ = self.pool.tokens(z)
        return self._outputs(y, x, maps, 0, [], extras)
