"""A small, seeded training loop: AdamW, warm-up + cosine schedule, early stopping on validation."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scoligait_edge.errors import ModelError
from scoligait_edge.models.config import check_config_keys
from scoligait_edge.train.batches import Batch, batches, get_windows, seed_everything

LossFn = Callable[[Batch, bool], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class TrainConfig:
    """Optimisation settings (JSON key ``"train"`` of a ``--config`` file)."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    patience: int = 5
    cobb_weight: float = 0.5
    km_noise: float = 0.0  #: training-time Gaussian noise on the kmap, in units of each feature's std
    modality_dropout: float = 0.0  #: teacher: per training window, blank its kmap or silhouettes (p/2 each)
    mirror: bool = False  #: add left–right mirrored training clips (label-consistent L/R swap)
    train_hop: int = 0  #: hop of the training windows (time-shift augmentation); 0 = the dataset's 48
    contrastive: float = 0.0  #: teacher: weight of the decoupled contrastive km↔text/video alignment
    contrastive_temperature: float = 0.1
    #: decision threshold chosen on val: 0 = Youden's J, else the val sensitivity to hold (screening)
    operating_sensitivity: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        check_config_keys(cls, d, "train")
        cfg = cls(**d)
        if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0 or cfg.threads < 1:
            raise ModelError("epochs, batch_size, threads must be ≥ 1 and lr > 0", "fix the train config")
        if cfg.contrastive < 0 or cfg.contrastive_temperature <= 0:
            raise ModelError("contrastive must be ≥ 0 and its temperature > 0", "e.g. 0.1 and 0.1")
        if not 0.0 <= cfg.modality_dropout < 1.0:
            raise ModelError(f"modality_dropout {cfg.modality_dropout} must be in [0, 1)", "e.g. 0.2")
        if not 0.0 <= cfg.operating_sensitivity <= 1.0:
            raise ModelError(
                f"operating_sensitivity {cfg.operating_sensitivity} must be in [0, 1]",
                "0 (Youden) or e.g. 0.85",
            )
        if cfg.train_hop < 0:
            raise ModelError(f"train_hop {cfg.train_hop} must be ≥ 0", "use 0 (dataset hop) or e.g. 16")
        return cfg

    def train_windows(self, data: Any) -> Any:
        """The training split with this config's augmentation (mirror, time shift)."""
        return get_windows(data, "train", hop=self.train_hop or None, mirror=self.mirror)


def cosine_schedule(opt: torch.optim.Optimizer, total: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then cosine decay to 0 over ``total`` steps."""

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(total - warmup, 1))))

    return torch.optim.lr_scheduler.LambdaLR(opt, f)


def fit(
    model: torch.nn.Module,
    params: list[torch.nn.Parameter],
    train_ws: Any,
    val_ws: Any,
    loss_fn: LossFn,
    cfg: TrainConfig,
    desc: str = "train",
    quiet: bool = False,
) -> list[dict[str, float]]:
    """Train ``params`` with ``loss_fn``; keep the weights of the best validation loss (restored on return).

    ``loss_fn(batch, training)`` returns the scalar loss and a dict of logged parts.
    """
    torch.set_num_threads(cfg.threads)
    gen = seed_everything(cfg.seed)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_ws.label) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = cosine_schedule(opt, total, int(cfg.warmup_frac * total))
    history: list[dict[str, float]] = []
    best, best_state, bad = math.inf, copy.deepcopy(model.state_dict()), 0
    console = Console(stderr=True, quiet=quiet)
    cols = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*cols, console=console, transient=True, disable=quiet) as prog:
        task = prog.add_task(desc, total=total, info="")
        for epoch in range(cfg.epochs):
            model.train()
            tr_sum, tr_n = 0.0, 0
            for b in batches(train_ws, cfg.batch_size, shuffle=True, gen=gen):
                loss, _ = loss_fn(b, True)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                sched.step()
                tr_sum += loss.item() * len(b.index)
                tr_n += len(b.index)
                prog.update(task, advance=1, info=f"epoch {epoch + 1} loss {tr_sum / tr_n:.4f}")
            model.eval()
            va_sum, va_n, parts_sum = 0.0, 0, {}
            with torch.no_grad():
                for b in batches(val_ws, 2 * cfg.batch_size, shuffle=False):
                    loss, parts = loss_fn(b, False)
                    va_sum += loss.item() * len(b.index)
                    va_n += len(b.index)
                    for k, v in parts.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + v * len(b.index)
            rec = {"epoch": epoch + 1, "train_loss": tr_sum / tr_n, "val_loss": va_sum / va_n}
            rec.update({f"val_{k}": v / va_n for k, v in parts_sum.items()})
            history.append(rec)
            console.print(
                f"{desc} epoch {epoch + 1}/{cfg.epochs}: "
                f"train {rec['train_loss']:.4f}  val {rec['val_loss']:.4f}"
            )
            if rec["val_loss"] < best - 1e-5:
                best, best_state, bad = rec["val_loss"], copy.deepcopy(model.state_dict()), 0
            else:
                bad += 1
                if bad >= cfg.patience:
                    console.print(f"{desc}: early stop after epoch {epoch + 1} (best val {best:.4f})")
                    break
    model.load_state_dict(best_state)
    model.eval()
    return history
