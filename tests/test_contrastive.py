"""Decoupled contrastive alignment: the loss itself, its masking, and its use in teacher training."""

from __future__ import annotations

import math

import pytest
import torch

from scoligait_edge.errors import ModelError
from scoligait_edge.train.contrastive import alignment_loss, decoupled_nce
from scoligait_edge.train.loop import TrainConfig


def test_decoupled_nce_matches_the_formula_by_hand() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = torch.tensor([[1.0, 0.2], [0.1, 1.0], [-1.0, 1.0]])
    t = 0.5
    s = torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T / t
    rows = []
    for m in (s, s.T):
        for i in range(3):
            neg = [math.exp(m[i, j]) for j in range(3) if j != i]  # the positive is NOT in the denominator
            rows.append(-m[i, i].item() + math.log(sum(neg)))
    assert decoupled_nce(a, b, t).item() == pytest.approx(sum(rows) / len(rows), rel=1e-5)


def test_aligned_pairs_score_lower_than_shuffled_ones() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 8, generator=g)
    assert decoupled_nce(a, a, 0.1) < decoupled_nce(a, a[torch.randperm(16, generator=g)], 0.1)


def test_same_prompt_pairs_are_not_negatives() -> None:
    a = torch.randn(6, 4)
    pid = torch.tensor([0, 0, 1, 1, 2, 2])
    same = pid[:, None] == pid[None, :]
    masked = decoupled_nce(a, a, 0.1, same)
    assert masked < decoupled_nce(a, a, 0.1)  # fewer (identical-text) negatives in the denominator
    everyone_same = torch.ones(6, 6, dtype=torch.bool)
    z = decoupled_nce(a.requires_grad_(), a, 0.1, everyone_same)
    assert z.item() == 0.0 and torch.isfinite(z)  # no negatives at all: no term, no NaN


def test_alignment_loss_uses_the_teacher_modality_embeddings() -> None:
    from scoligait_edge.models import Teacher, teacher_config
    from scoligait_edge.runtime.base import make_inputs

    torch.manual_seed(0)
    model = Teacher(teacher_config(dim=32, depth=1, heads=2, latents=4, latent_heads=2, n_prompts=3))
    x = {k: torch.as_tensor(v) for k, v in make_inputs(5, seed=1, n_prompts=3).items()}
    out = model(x["kmap"], x["silhouette"], x["prompt_id"], extras=True)
    assert {"km_embedding", "video_embedding", "text_embedding"} <= set(out)
    assert out["km_embedding"].shape == (5, 32)
    loss = alignment_loss(out, x["prompt_id"], 0.1)
    loss.backward()
    assert torch.isfinite(loss) and model.km_proj.weight.grad.abs().sum() > 0


def test_train_config_checks_the_new_options() -> None:
    with pytest.raises(ModelError):
        TrainConfig.from_dict({"contrastive": -1.0})
    with pytest.raises(ModelError):
        TrainConfig.from_dict({"train_hop": -2})
    assert TrainConfig.from_dict({"mirror": True, "train_hop": 16}).mirror
