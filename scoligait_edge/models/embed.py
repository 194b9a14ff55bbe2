"""Patch embeddings: knowledge-map (time × feature-group) tokens and silhouette tubelets.

Token order is time-major everywhere (all tokens of time patch 0, then patch 1, …), and each
embedding reports the frame positions of its tokens so the rotary tables can align modalities.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from scoligait_edge.models.config import DOMAIN_SIZES


def feature_groups(groups: tuple[int, ...]) -> list[np.ndarray]:
    """Split each domain into ``groups[i]`` contiguous feature groups; returns global indices."""
    out, start = [], 0
    for (_, size), g in zip(DOMAIN_SIZES, groups, strict=True):
        out.extend(chunk + start for chunk in np.array_split(np.arange(size), g))
        start += size
    return out


def token_positions(n_time: int, per_time: int, patch: int, aligned: bool) -> Tensor:
    """Rotary positions of ``n_time × per_time`` time-major tokens.

    Aligned: the centre frame of the token's time patch, shared by every token (of any
    modality) covering those frames. Unaligned: the token's raster index in its own sequence.
    """
    if aligned:
        centres = torch.arange(n_time, dtype=torch.float32) * patch + (patch - 1) / 2.0
        return centres.repeat_interleave(per_time)
    return torch.arange(n_time * per_time, dtype=torch.float32)


class KMPatchEmbed(nn.Module):
    """Knowledge-map tokens: ``patch`` frames × one feature group, one linear map per group.

    ``distribute`` maps per-token relevance back onto the ``[T, F]`` map, splitting each
    token's share over its frames × features in proportion to ``|x| · ‖W column‖`` (how
    strongly each input cell drives the token's embedding).
    """

    def __init__(self, dim: int, window: int, n_features: int, patch: int, groups: tuple[int, ...]) -> None:
        super().__init__()
        grp = feature_groups(groups)
        self.n_groups, self.patch, self.n_time = len(grp), patch, window // patch
        self.gmax = max(len(g) for g in grp)
        gather = np.full((self.n_groups, self.gmax), n_features, dtype=np.int64)  # pad → zero column
        scatter = np.zeros(n_features, dtype=np.int64)
        group_of = np.zeros(n_features, dtype=np.int64)
        for i, g in enumerate(grp):
            gather[i, : len(g)] = g
            scatter[g] = i * self.gmax + np.arange(len(g))
            group_of[g] = i
        self.register_buffer("gather_idx", torch.from_numpy(gather.reshape(-1)), persistent=False)
        self.register_buffer("scatter_idx", torch.from_numpy(scatter), persistent=False)
        self.register_buffer("group_of", torch.from_numpy(group_of), persistent=False)
        onehot = torch.nn.functional.one_hot(torch.from_numpy(group_of), self.n_groups).float()
        self.register_buffer("group_onehot", onehot, persistent=False)  # [F, G]
        self.register_buffer("group_onehot_t", onehot.T.contiguous(), persistent=False)  # [G, F]
        self.dim = dim
        # one linear map per group = a grouped 1×1 convolution (quantizes like any Conv)
        self.proj = nn.Conv1d(self.n_groups * patch * self.gmax, self.n_groups * dim, 1, groups=self.n_groups)
        # eval/export read the column norms from this small constant, not from the fp32 weight (so an
        # INT8 graph keeps no float copy of the weight); refreshed on eval() and after loading weights
        self.register_buffer("col_norm", torch.zeros(self.n_groups, patch * self.gmax), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _keys: module.refresh_col_norm())
        self.refresh_col_norm()

    @property
    def n_tokens(self) -> int:
        return self.n_time * self.n_groups

    def grouped(self, x: Tensor) -> Tensor:
        """``[B, T, F] -> [B, T/P, G·gmax, P]``: per time patch, feature-major rows of ``P`` frames,
        each group zero-padded to ``gmax`` rows.

        Transposing first makes the gather copy whole rows of ``P`` frames (block copies);
        gathering single features along the last axis was the slowest op of the exported graph.
        """
        b = x.shape[0]
        xt = x.reshape(b, self.n_time, self.patch, -1).transpose(2, 3)  # [B, T/P, F, P]
        xt = nn.functional.pad(xt, (0, 0, 0, 1))  # row F is the zero pad row
        return xt.index_select(2, self.gather_idx)

    def conv_weight(self) -> Tensor:
        """``proj``'s kernel with its input channels reordered from (frame, feature) to
        (feature, frame), matching `grouped`; the export folds this into the initializer."""
        w = self.proj.weight.reshape(self.n_groups * self.dim, self.patch, self.gmax)
        return w.transpose(1, 2).reshape(self.n_groups * self.dim, self.gmax * self.patch, 1)

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        xg = self.grouped(x).reshape(b * self.n_time, self.n_groups * self.gmax * self.patch, 1)
        y = nn.functional.conv1d(xg, self.conv_weight(), self.proj.bias, groups=self.n_groups)
        return y.reshape(b, self.n_tokens, self.dim)

    def column_norms(self) -> Tensor:
        """``[G, P·gmax]``: how strongly each input cell of a group drives its token embedding."""
        return self.proj.weight.detach().reshape(self.n_groups, self.dim, -1).norm(dim=1)

    @torch.no_grad()
    def refresh_col_norm(self) -> None:
        self.col_norm.copy_(self.column_norms())

    def train(self, mode: bool = True) -> KMPatchEmbed:
        if not mode:
            self.refresh_col_norm()
        return super().train(mode)

    def distribute(self, relevance: Tensor, x: Tensor) -> Tensor:
        """Token relevance ``[B, T/P·G]`` → cell saliency ``[B, T, F]`` (sums are preserved).

        Works in the input layout: group sums and the spread back onto features are products
        with the constant ``[F, G]`` one-hot group matrix, so the graph has no gather/scatter.
        """
        b, g, t, p, f = x.shape[0], self.n_groups, self.n_time, self.patch, x.shape[-1]
        norms = self.column_norms() if self.training else self.col_norm  # [G, P·gmax]
        norms = norms.reshape(g, p, self.gmax).transpose(0, 1).reshape(p, g * self.gmax)
        norms = norms.index_select(1, self.scatter_idx)  # [P, F], a constant in eval/export
        w = x.abs().reshape(b, t, p, f) * norms + 1e-6
        share = relevance.reshape(b, t, g) / (w.sum(dim=2) @ self.group_onehot)  # [B, T/P, G]
        return (w * (share @ self.group_onehot_t)[:, :, None, :]).reshape(b, t * p, f)

    def positions(self, aligned: bool) -> Tensor:
        return token_positions(self.n_time, self.n_groups, self.patch, aligned)


class TubeletEmbed(nn.Module):
    """Silhouette tubelets (``pt`` frames × ``ph × pw`` pixels) → tokens, plus a learned spatial embedding.

    ``posture=True`` appends one token per ``ph × pw`` patch of the *window-mean* silhouette: the
    body outline averaged over the gait cycle, where a rib hump or a shifted trunk stands still
    while arms and legs blur out (a clinician's standing-posture view; ``docs/models.md``). Each
    posture token sees its patch of the mean and of the mean's left–right antisymmetric part
    (mean − mirrored mean), so a one-sided bulge is an input, not a difference the encoder has to
    learn between distant patches.
    """

    def __init__(
        self, dim: int, window: int, hw: tuple[int, int], patch: tuple[int, int, int], posture: bool = False
    ) -> None:
        super().__init__()
        self.pt, self.ph, self.pw = patch
        self.nt, self.nh, self.nw = window // self.pt, hw[0] // self.ph, hw[1] // self.pw
        self.proj = nn.Linear(self.pt * self.ph * self.pw, dim)
        self.spatial = nn.Parameter(torch.zeros(self.nh * self.nw, dim))
        self.posture = posture
        if posture:
            self.posture_proj = nn.Linear(2 * self.ph * self.pw, dim)
            self.posture_spatial = nn.Parameter(torch.zeros(self.nh * self.nw, dim))

    @property
    def n_tokens(self) -> int:
        return (self.nt + int(self.posture)) * self.nh * self.nw

    def forward(self, v: Tensor) -> Tensor:
        b = v.shape[0]
        x = v.reshape(b, self.nt, self.pt, self.nh, self.ph, self.nw, self.pw)
        x = x.permute(0, 1, 3, 5, 2, 4, 6).reshape(b, self.nt, self.nh * self.nw, -1)
        tok = (self.proj(x) + self.spatial).reshape(b, self.nt * self.nh * self.nw, -1)
        if not self.posture:
            return tok
        m = v.mean(dim=1)
        m = torch.stack([m, m - m.flip(-1)], dim=1).reshape(b, 2, self.nh, self.ph, self.nw, self.pw)
        m = m.permute(0, 2, 4, 1, 3, 5).reshape(b, self.nh * self.nw, 2 * self.ph * self.pw)
        return torch.cat([tok, self.posture_proj(m) + self.posture_spatial], dim=1)

    def positions(self, aligned: bool) -> Tensor:
        """Tubelets as `token_positions`; posture tokens cover the whole window, so aligned they
        sit at its centre frame and unaligned they continue the raster index."""
        pos = token_positions(self.nt, self.nh * self.nw, self.pt, aligned)
        if not self.posture:
            return pos
        n = self.nh * self.nw
        extra = (
            torch.full((n,), (self.nt * self.pt - 1) / 2.0)
            if aligned
            else torch.arange(len(pos), len(pos) + n, dtype=torch.float32)
        )
        return torch.cat([pos, extra])


class CheapSilhouetteEmbed(nn.Module):
    """Student silhouette path: keep every ``stride``-th frame, average-pool ``pool × pool`` pixels,
    and merge one time patch of pooled frames into a single token (pixel-shuffle-style merging).

    ``posture=True`` adds one token from the mean of those pooled frames and its left–right
    antisymmetric part — the teacher's posture tokens (`TubeletEmbed`) at the student's resolution.
    """

    def __init__(
        self,
        dim: int,
        window: int,
        hw: tuple[int, int],
        patch: int,
        stride: int,
        pool: int,
        posture: bool = False,
    ) -> None:
        super().__init__()
        self.patch, self.stride, self.pool = patch, stride, pool
        self.nt, self.h, self.w = window // patch, hw[0] // pool, hw[1] // pool
        self.per = patch // stride
        self.proj = nn.Linear(self.per * self.h * self.w, dim)
        self.posture = posture
        if posture:
            self.posture_proj = nn.Linear(2 * self.h * self.w, dim)

    @property
    def n_tokens(self) -> int:
        return self.nt + int(self.posture)

    def forward(self, v: Tensor) -> Tensor:
        b = v.shape[0]
        x = v.reshape(b, self.nt * self.per, self.stride, -1)[:, :, 0]  # every stride-th frame
        # pool × pool average pooling as two single-axis means on 3-D views: one mean over two
        # strided axes of a 6-D view ran on OpenVINO's reference kernel (60% of its run time)
        x = x.reshape(-1, self.pool, self.w * self.pool).mean(dim=1)  # rows
        x = x.reshape(-1, self.w, self.pool).mean(dim=-1)  # columns
        tok = self.proj(x.reshape(b, self.nt, self.per * self.h * self.w))
        if not self.posture:
            return tok
        m = x.reshape(b, self.nt * self.per, self.h, self.w).mean(dim=1)
        m = torch.cat([m, m - m.flip(-1)], dim=1).reshape(b, 1, 2 * self.h * self.w)
        return torch.cat([tok, self.posture_proj(m)], dim=1)

    def positions(self, aligned: bool) -> Tensor:
        pos = token_positions(self.nt, 1, self.patch, aligned)
        if not self.posture:
            return pos
        extra = torch.tensor([(self.nt * self.patch - 1) / 2.0 if aligned else float(len(pos))])
        return torch.cat([pos, extra])
