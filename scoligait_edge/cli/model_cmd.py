"""CLI commands: train, distill, evaluate, explain, ablate (models and training)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from scoligait_edge.cli import app
from scoligait_edge.errors import ModelError

DATA_HELP = "Dataset directory (ScoliGait-Synth layout, with index and splits)."


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def _with_overrides(
    cfg: dict[str, Any], threads: int, epochs: int | None, seed: int | None
) -> dict[str, Any]:
    """Apply the CLI's --threads/--epochs/--seed to a config's ``train`` section; set torch threads."""
    train = dict(cfg.get("train", {}), threads=threads)
    if epochs is not None:
        train["epochs"] = epochs
    if seed is not None:
        train["seed"] = seed
    _set_threads(threads)
    return {**cfg, "train": train}


def resolve_model(spec: str | None, default: str = "student") -> Any:
    """``teacher`` / ``student`` (shipped checkpoints) or a checkpoint path → model."""
    from scoligait_edge.models import load_default_student, load_default_teacher, load_model

    spec = spec or default
    if spec == "teacher":
        return load_default_teacher()
    if spec == "student":
        return load_default_student()
    if not Path(spec).exists():
        raise ModelError(
            f"model {spec!r} is neither 'teacher', 'student' nor an existing file", "pass a .pt path"
        )
    return load_model(spec)


def _write_json(path: Path, doc: Any, force: bool) -> None:
    from scoligait_edge.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(doc, indent=2, default=_json_default) + "\n", force=force)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


@app.command()
def train(
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    out: Path = typer.Option(
        ..., "--out", help="Teacher checkpoint to write (.pt; a .json config goes beside)."
    ),
    config: Path | None = typer.Option(None, "--config", help='JSON {"model": {...}, "train": {...}}.'),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the number of epochs."),
    seed: int | None = typer.Option(None, "--seed", help="Override the random seed."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing checkpoint."),
) -> None:
    """Train the multi-modal teacher (AdamW, cosine schedule, early stopping on val)."""
    from scoligait_edge.train.teacher import read_config_file, train_teacher

    cfg = _with_overrides(read_config_file(config), threads, epochs, seed)
    model, _ = train_teacher(data, cfg, out, force=force)
    typer.echo(f"wrote {out} (threshold {float(model.threshold):.3f}, {model.n_params()} parameters)")


@app.command()
def distill(
    teacher: Path = typer.Option(..., "--teacher", help="Teacher checkpoint (.pt)."),
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    out: Path = typer.Option(..., "--out", help="Student checkpoint to write (.pt)."),
    config: Path | None = typer.Option(None, "--config", help='JSON {"model", "train", "distill"}.'),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the number of epochs."),
    seed: int | None = typer.Option(None, "--seed", help="Override the random seed."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing checkpoint."),
) -> None:
    """Distil a teacher into the phone-sized student (KL + labels + embedding + attention matching)."""
    from scoligait_edge.models import load_model
    from scoligait_edge.train.distill import distill as run_distill
    from scoligait_edge.train.teacher import read_config_file

    sections = frozenset({"model", "train", "distill"})
    cfg = _with_overrides(read_config_file(config, sections), threads, epochs, seed)
    student, _ = run_distill(load_model(teacher), data, out, cfg, force=force)
    typer.echo(f"wrote {out} (threshold {float(student.threshold):.3f}, {student.n_params()} parameters)")


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    model: str = typer.Option("student", "--model", help="teacher | student | checkpoint path."),
    split: str = typer.Option("test", "--split", help="Split to evaluate (threshold always from val)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the metrics as JSON."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing JSON."),
) -> None:
    """Clip-level Acc, macro F1, per-class P/R/F1, AUC, Sens/Spec, Cobb MAE (threshold chosen on val)."""
    from rich.console import Console
    from rich.table import Table

    from scoligait_edge.fileio import check_can_write
    from scoligait_edge.train.evaluate import evaluate as run_eval

    if json_out is not None:
        check_can_write(json_out, force)
    _set_threads(threads)
    m = resolve_model(model)
    res = run_eval(m, data, split)
    name = model if model in ("teacher", "student") else Path(model).stem
    title = (
        f"{name} on {split}: {res['n_clips']} clips / {res['n_subjects']} subjects, "
        f"threshold {res['threshold']:.3f} (from {res['threshold_source']})"
    )
    summary = Table(title=title)
    for col in ("Acc", "Macro F1", "AUC", "Sens", "Spec", "Cobb MAE"):
        summary.add_column(col, justify="right")
    summary.add_row(
        f"{100 * res['accuracy']:.1f}",
        f"{100 * res['macro_f1']:.1f}",
        f"{res['auc']:.3f}",
        f"{100 * res['sensitivity']:.1f}",
        f"{100 * res['specificity']:.1f}",
        f"{res['cobb_mae']:.2f}°",
    )
    per_class = Table(title="per class (clip level)")
    for col in ("class", "Precision", "Recall", "F1", "support"):
        per_class.add_column(col, justify="left" if col == "class" else "right")
    for cls in ("positive", "negative"):
        pc = res["per_class"][cls]
        per_class.add_row(
            cls, *(f"{100 * pc[k]:.1f}" for k in ("precision", "recall", "f1")), str(pc["support"])
        )
    console = Console()
    console.print(summary)
    console.print(per_class)
    if json_out is not None:
        _write_json(json_out, res, force)


@app.command()
def explain(
    clip: Path = typer.Argument(..., help="Clip file (.npz from `scoligait-edge pose`)."),
    model: str = typer.Option("student", "--model", help="teacher | student | checkpoint path."),
    json_out: Path = typer.Option(..., "--json", help="Write the explanation JSON here."),
    png: Path | None = typer.Option(None, "--png", help="Also write the map with a saliency overlay."),
    top_k: int = typer.Option(5, "--top", help="Top features per domain."),
    force: bool = typer.Option(False, "--force", help="Replace existing outputs."),
) -> None:
    """Explain a clip: referral probability and the knowledge-map features the model attended to."""
    from scoligait_edge.fileio import check_can_write
    from scoligait_edge.pose.clip import load_clip
    from scoligait_edge.screen.explain import explain_clip_file

    check_can_write(json_out, force)
    if png is not None:
        check_can_write(png, force)
    c = load_clip(clip)
    m = resolve_model(model)
    res, kmap = explain_clip_file(m, c, top_k=top_k)
    sal = res.pop("saliency")
    res = {"clip": str(clip), "model": model, **res}
    _write_json(json_out, res, force)
    if png is not None:
        from scoligait_edge.kmap.render import save_heatmap

        verdict = "refer" if res["refer"] else "no referral"
        save_heatmap(
            kmap,
            png,
            title=f"{clip.name}: p={res['referral_prob']:.2f} ({verdict})",
            saliency=sal,
            fps=c.fps,
            force=force,
        )
    typer.echo(f"p(refer)={res['referral_prob']:.3f} threshold={res['threshold']:.3f}; wrote {json_out}")


@app.command()
def ablate(
    data: Path = typer.Option(..., "--data", help=DATA_HELP),
    out: Path = typer.Option(..., "--out", help="Output directory for tables (markdown + JSON)."),
    epochs: int = typer.Option(3, "--epochs", help="Epochs per variant (kept small)."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds (several give intervals)."),
    mirror: bool = typer.Option(False, "--mirror", help="Add left-right mirrored training clips."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Rerun the paper's Table 2 (modalities), Table 3 (fusion × RoPE) and an alignment table."""
    from scoligait_edge.train.ablate import run_ablation

    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        seed_list = []
    if not seed_list:
        raise typer.BadParameter(f"--seeds {seeds!r} must be comma-separated integers, e.g. 0,1,2")
    _set_threads(threads)
    over = {"mirror": True} if mirror else None
    md = run_ablation(
        data, out, epochs=epochs, seed=seed_list, threads=threads, force=force, train_overrides=over
    )
    typer.echo(md)
