"""Distillation of a teacher into the student: ``distill(teacher, data, out)``.

Loss = α·T²·KL(teacher ‖ student) on temperature-softened referral probabilities
     + (1 − α)·BCE(student, hard label)
     + w_cobb · smooth-L1 on the standardised Cobb angle (ground truth)
     + w_emb · (1 − cos(P·e_student, e_teacher))   (P: a trainable projection, dropped after)
     + w_att · KL(teacher ‖ student) of the saliency mass on the student's token grid
       (time patch × feature group), so the student's explanations follow the teacher's.
Teacher outputs are computed once (the teacher is frozen, in eval mode).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from scoligait_edge.errors import ModelError
from scoligait_edge.fileio import check_can_write
from scoligait_edge.models import ModelConfig, ScoliGaitModel, Student, save_model, student_config
from scoligait_edge.models.config import check_config_keys
from scoligait_edge.train.batches import Batch, DataSource, batches, get_windows
from scoligait_edge.train.evaluate import choose_threshold, clip_level, predict_windows
from scoligait_edge.train.loop import TrainConfig, fit
from scoligait_edge.train.teacher import augment, cobb_loss


@dataclass
class DistillWeights:
    temperature: float = 2.0
    alpha: float = 0.5
    cobb: float = 0.5
    embedding: float = 0.5
    attention: float = 0.5


def saliency_grid(saliency: Tensor, patch: int, group_of: Tensor, n_groups: int) -> Tensor:
    """Sum a ``[B, T, F]`` saliency map into ``[B, T/P, G]`` cells (time patch × feature group)."""
    b, t, f = saliency.shape
    per_patch = saliency.reshape(b, t // patch, patch, f).sum(dim=2)
    onehot = F.one_hot(group_of, n_groups).to(saliency.dtype)
    return per_patch @ onehot


def binary_kl(t_logit: Tensor, s_logit: Tensor, temp: float) -> Tensor:
    """KL(Bern(σ(t/T)) ‖ Bern(σ(s/T))), mean over the batch."""
    pt = torch.sigmoid(t_logit / temp)
    ls1, ls0 = F.logsigmoid(s_logit / temp), F.logsigmoid(-s_logit / temp)
    lt1, lt0 = F.logsigmoid(t_logit / temp), F.logsigmoid(-t_logit / temp)
    return (pt * (lt1 - ls1) + (1 - pt) * (lt0 - ls0)).mean()


@torch.no_grad()
def teacher_targets(
    teacher: ScoliGaitModel, ws: Any, student: Student, batch_size: int = 64
) -> dict[str, Tensor]:
    """Frozen teacher outputs for every window: logit, embedding and saliency on the student grid."""
    teacher.eval()
    ke = student.km_embed
    logits, embs, grids = [], [], []
    for b in batches(ws, batch_size, shuffle=False):
        out = teacher(b.kmap, b.silhouette, b.prompt_id, extras=True)
        logits.append(out["referral_logit"])
        embs.append(out["embedding"])
        grids.append(saliency_grid(out["saliency"], ke.patch, ke.group_of, ke.n_groups))
    return {"logit": torch.cat(logits), "embedding": torch.cat(embs), "grid": torch.cat(grids)}


def distill(
    teacher: ScoliGaitModel,
    data: DataSource,
    out: str | os.PathLike | None = None,
    config: dict[str, Any] | None = None,
    *,
    force: bool = False,
    quiet: bool = False,
) -> tuple[Student, dict[str, Any]]:
    """Distil ``teacher`` into a `Student`; ``config`` = ``{"model", "train", "distill"}`` overrides."""
    config = config or {}
    if out is not None:
        check_can_write(out, force)
    if set(config) - {"model", "train", "distill"}:
        raise ModelError("distill config keys must be 'model', 'train', 'distill'", "fix the config")
    tdef = {"epochs": 30, "lr": 2e-3, "patience": 6, "batch_size": 32}
    tcfg = TrainConfig.from_dict({**tdef, **config.get("train", {})})
    check_config_keys(DistillWeights, config.get("distill", {}), "distill")
    w = DistillWeights(**config.get("distill", {}))
    torch.set_num_threads(tcfg.threads)
    train_ws, val_ws = tcfg.train_windows(data), get_windows(data, "val")
    mcfg: ModelConfig = student_config(**{"n_prompts": teacher.cfg.n_prompts, **config.get("model", {})})
    torch.manual_seed(tcfg.seed)
    student = Student(mcfg)
    student.set_normalization(
        teacher.km_mean, teacher.km_std, float(teacher.cobb_mean), float(teacher.cobb_std)
    )
    if hasattr(teacher, "text_table"):
        student.set_prompt_table_from_minilm(teacher.text_table)
    tgt = {s: teacher_targets(teacher, ws, student) for s, ws in (("train", train_ws), ("val", val_ws))}
    emb_proj = torch.nn.Linear(student.cfg.dim, teacher.cfg.dim)
    holder = torch.nn.ModuleDict({"student": student, "emb_proj": emb_proj})

    def loss_fn(b: Batch, training: bool) -> tuple[Tensor, dict[str, float]]:
        t = tgt["train" if training else "val"]
        idx = torch.from_numpy(b.index)
        kmap = augment(student, b.kmap, tcfg.km_noise) if training else b.kmap
        o = student(kmap, b.silhouette, b.prompt_id, extras=True)
        kl = binary_kl(t["logit"][idx], o["referral_logit"], w.temperature) * w.temperature**2
        bce = F.binary_cross_entropy_with_logits(o["referral_logit"], b.label)
        reg = cobb_loss(o["cobb_angle"], b.cobb, student.cobb_mean, student.cobb_std)
        emb = 1 - F.cosine_similarity(emb_proj(o["embedding"]), t["embedding"][idx], dim=-1).mean()
        tg = t["grid"][idx].flatten(1).clamp_min(1e-8)
        sg = o["km_relevance"].flatten(1).clamp_min(1e-8)
        att = (tg * (tg.log() - sg.log())).sum(-1).mean()
        loss = w.alpha * kl + (1 - w.alpha) * bce + w.cobb * reg + w.embedding * emb + w.attention * att
        parts = {"kl": kl, "bce": bce, "cobb": reg, "emb": emb, "att": att}
        return loss, {k: v.item() for k, v in parts.items()}

    history = fit(
        holder, list(holder.parameters()), train_ws, val_ws, loss_fn, tcfg, desc="distill", quiet=quiet
    )
    student.eval()
    vc = clip_level(val_ws, predict_windows(student, val_ws))
    student.threshold.fill_(choose_threshold(vc["label"], vc["prob"], tcfg.operating_sensitivity))
    info = {"history": history, "train": tcfg.__dict__, "distill": dataclasses.asdict(w)}
    if out is not None:
        save_model(student, out, force=force, meta=info)
    return student, info


def distillation_gaps(
    teacher: ScoliGaitModel,
    student: ScoliGaitModel,
    data: DataSource,
    split: str = "test",
    top_k: int = 10,
    evals: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, float]:
    """Student vs teacher on ``split``: AUC drop, decision agreement, max |Δprob|, top-feature overlap.

    ``evals``: the teacher's and student's `evaluate` results on ``split`` when the caller has them.
    """
    from scoligait_edge.kmap.saliency import top_feature_indices
    from scoligait_edge.train.evaluate import evaluate

    mt, ms = evals or (evaluate(teacher, data, split), evaluate(student, data, split))
    if mt.get("split") != split or ms.get("split") != split:
        raise ValueError(f"evals are of splits {mt.get('split')!r}/{ms.get('split')!r}, not {split!r}")
    ws = get_windows(data, split)
    pt, ps = predict_windows(teacher, ws), predict_windows(student, ws)
    ct, cs = clip_level(ws, pt), clip_level(ws, ps)
    agree = float(((ct["prob"] >= mt["threshold"]) == (cs["prob"] >= ms["threshold"])).mean())
    overlaps = []
    with torch.no_grad():
        for b in batches(ws, 64, shuffle=False):
            st = teacher(b.kmap, b.silhouette, b.prompt_id)["saliency"].numpy()
            ss = student(b.kmap, b.silhouette, b.prompt_id)["saliency"].numpy()
            for a, c in zip(st, ss, strict=True):
                ia, ic = set(top_feature_indices(a, top_k)), set(top_feature_indices(c, top_k))
                overlaps.append(len(ia & ic) / top_k)
    return {
        "split": split,
        "teacher_auc": mt["auc"],
        "student_auc": ms["auc"],
        "auc_drop": mt["auc"] - ms["auc"],
        "decision_agreement": agree,
        "window_max_abs_dprob": float(np.abs(pt["prob"] - ps["prob"]).max()),
        f"top{top_k}_feature_overlap": float(np.mean(overlaps)),
    }
