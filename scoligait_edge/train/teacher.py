"""Teacher training: ``train_teacher(data, config, out)``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from scoligait_edge.errors import DatasetError, ModelError
from scoligait_edge.fileio import check_can_write
from scoligait_edge.models import ModelConfig, Teacher, save_model, teacher_config
from scoligait_edge.train.batches import Batch, DataSource, get_windows, norm_stats
from scoligait_edge.train.evaluate import choose_threshold, clip_level, predict_windows
from scoligait_edge.train.loop import TrainConfig, fit


def read_config_file(
    path: str | os.PathLike | None, sections: frozenset[str] = frozenset({"model", "train"})
) -> dict[str, Any]:
    """Parse a ``--config`` JSON object whose keys are among ``sections`` (default model, train)."""
    if path is None:
        return {}
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ModelError(f"config {p} not found", "check the --config path") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"config {p} is not valid JSON ({e})", "fix the file") from e
    if not isinstance(doc, dict) or set(doc) - sections:
        keys = ", ".join(f"'{k}'" for k in sorted(sections))
        raise ModelError(f"config {p} must be an object with keys among {keys}", "fix the file")
    return doc


def prompt_setup(
    ws: Any, n_prompts: int | None, text_table: np.ndarray | None
) -> tuple[int, np.ndarray | None]:
    """Resolve the prompt count (MiniLM table when ``text_table`` is None); check ``prompt_id`` fits."""
    if text_table is None:
        from scoligait_edge.models.text import minilm_table

        text_table = minilm_table()
    n = int(n_prompts or len(text_table))
    hi = int(np.max(ws.prompt_id)) if len(ws.prompt_id) else 0
    if hi >= n:
        raise DatasetError(
            f"prompt_id {hi} is outside the {n}-prompt table",
            "regenerate the dataset with this toolkit version",
        )
    return n, text_table


def cobb_loss(
    pred: torch.Tensor, target: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """Smooth-L1 on standardised Cobb angles, ignoring windows whose angle is unknown (NaN)."""
    known = torch.isfinite(target)
    diff = F.smooth_l1_loss((pred - mean) / std, (torch.nan_to_num(target) - mean) / std, reduction="none")
    return (diff * known).sum() / known.sum().clamp_min(1)


def augment(model: torch.nn.Module, kmap: torch.Tensor, km_noise: float) -> torch.Tensor:
    """Training-time Gaussian noise on the raw kmap, ``km_noise`` × each feature's training std."""
    if km_noise <= 0:
        return kmap
    return kmap + km_noise * model.km_std * torch.randn_like(kmap)


def drop_modality(
    model: torch.nn.Module, kmap: torch.Tensor, silhouette: torch.Tensor, p: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Modality dropout: each window loses its kmap (set to the training mean, i.e. zero after
    normalisation) with probability ``p/2``, else its silhouettes (all background) with ``p/2``,
    so neither branch can lean on the other (and on the identity cues one of them carries)."""
    if p <= 0:
        return kmap, silhouette
    u = torch.rand(kmap.shape[0])
    no_km, no_sil = u < p / 2, (u >= p / 2) & (u < p)
    kmap = torch.where(no_km[:, None, None], model.km_mean.expand_as(kmap), kmap)
    silhouette = silhouette * (~no_sil).to(silhouette.dtype)[:, None, None, None]
    return kmap, silhouette


def supervised_loss(model: torch.nn.Module, cfg: TrainConfig) -> Any:
    """BCE on the referral logit + ``cfg.cobb_weight`` × smooth-L1 on the standardised Cobb angle
    (+ ``cfg.contrastive`` × decoupled InfoNCE between the modality embeddings, when > 0); training
    batches get ``cfg``'s kmap noise and modality dropout.

    The validation loss (early stopping) is the task loss only, so runs with and without the
    alignment term stop on the same criterion.
    """
    from scoligait_edge.train.contrastive import alignment_loss

    def loss_fn(b: Batch, training: bool) -> tuple[torch.Tensor, dict[str, float]]:
        kmap, sil = b.kmap, b.silhouette
        if training:
            kmap, sil = drop_modality(model, augment(model, kmap, cfg.km_noise), sil, cfg.modality_dropout)
        out = model(kmap, sil, b.prompt_id, extras=cfg.contrastive > 0)
        bce = F.binary_cross_entropy_with_logits(out["referral_logit"], b.label)
        reg = cobb_loss(out["cobb_angle"], b.cobb, model.cobb_mean, model.cobb_std)
        loss, parts = bce + cfg.cobb_weight * reg, {"bce": bce.item(), "cobb": reg.item()}
        if cfg.contrastive > 0:
            nce = alignment_loss(out, b.prompt_id, cfg.contrastive_temperature)
            parts["nce"] = nce.item()
            if training:
                loss = loss + cfg.contrastive * nce
        return loss, parts

    return loss_fn


def train_teacher(
    data: DataSource,
    config: dict[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    *,
    text_table: np.ndarray | None = None,
    force: bool = False,
    quiet: bool = False,
) -> tuple[Teacher, dict[str, Any]]:
    """Train a teacher on the train split, early-stop on val, pick the threshold on val, save to ``out``.

    ``config`` = ``{"model": {...}, "train": {...}}`` overrides; ``text_table`` (MiniLM prompt
    embeddings) defaults to running MiniLM over `scoligait_edge.prompts.PROMPTS`.
    """
    config = config or {}
    if out is not None:
        check_can_write(out, force)
    tcfg = TrainConfig.from_dict(dict(config.get("train", {})))
    torch.set_num_threads(tcfg.threads)
    train_ws, val_ws = tcfg.train_windows(data), get_windows(data, "val")
    mcfg_d = dict(config.get("model", {}))
    n_prompts, table = prompt_setup(train_ws, mcfg_d.pop("n_prompts", None), text_table)
    mcfg: ModelConfig = teacher_config(**mcfg_d, n_prompts=n_prompts)
    torch.manual_seed(tcfg.seed)
    model = Teacher(mcfg)
    if model.use_text and table is not None:
        model.set_text_table(torch.as_tensor(table))
    model.set_normalization(*norm_stats(train_ws))
    history = fit(
        model,
        list(model.parameters()),
        train_ws,
        val_ws,
        supervised_loss(model, tcfg),
        tcfg,
        desc="teacher",
        quiet=quiet,
    )
    vc = clip_level(val_ws, predict_windows(model, val_ws))
    model.threshold.fill_(choose_threshold(vc["label"], vc["prob"], tcfg.operating_sensitivity))
    info = {"history": history, "train": tcfg.__dict__, "n_train_windows": len(train_ws.label)}
    if out is not None:
        save_model(model, out, force=force, meta=info)
    return model, info
