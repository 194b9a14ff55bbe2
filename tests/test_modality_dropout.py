"""Modality dropout: which windows lose which input, and that it is off unless asked for."""

from __future__ import annotations

import pytest
import torch

from scoligait_edge.errors import ModelError
from scoligait_edge.models import Teacher
from scoligait_edge.models.config import teacher_config
from scoligait_edge.train.loop import TrainConfig
from scoligait_edge.train.teacher import drop_modality


def _model() -> Teacher:
    m = Teacher(teacher_config(dim=16, depth=1, heads=2, latents=4, latent_heads=2, n_prompts=2))
    m.km_mean.copy_(torch.linspace(-1.0, 1.0, m.km_mean.shape[0]))
    return m


def test_each_window_loses_at_most_one_modality_at_the_asked_rate() -> None:
    m = _model()
    torch.manual_seed(0)
    kmap = torch.randn(4000, 4, 238) * 3 + 5  # short windows and tiny frames: only the rates matter
    sil = torch.ones(4000, 2, 4, 4)
    k2, s2 = drop_modality(m, kmap, sil, 0.4)
    no_km = (k2 == m.km_mean).all(dim=(1, 2))
    no_sil = (s2 == 0).all(dim=(1, 2, 3))
    assert not (no_km & no_sil).any()  # never both: every window keeps some evidence
    assert abs(no_km.float().mean().item() - 0.2) < 0.03 and abs(no_sil.float().mean().item() - 0.2) < 0.03
    kept = ~no_km & ~no_sil
    assert torch.equal(k2[kept], kmap[kept]) and torch.equal(s2[kept], sil[kept])  # the rest untouched
    # a blanked kmap is the training mean: zero after the model's own normalisation
    assert m.normalize(k2[no_km][:2]).abs().max().item() < 1e-5


def test_off_by_default_and_consumes_no_randomness() -> None:
    m = _model()
    kmap, sil = torch.randn(3, 96, 238), torch.ones(3, 96, 64, 44)
    torch.manual_seed(1)
    k2, s2 = drop_modality(m, kmap, sil, 0.0)
    after = torch.rand(1)
    torch.manual_seed(1)
    assert k2 is kmap and s2 is sil and torch.equal(after, torch.rand(1))  # reference recipes unchanged
    assert TrainConfig().modality_dropout == 0.0


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_rates_outside_0_1_are_config_errors(p: float) -> None:
    with pytest.raises(ModelError, match="modality_dropout"):
        TrainConfig.from_dict({"modality_dropout": p})
