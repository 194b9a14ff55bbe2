"""CLI commands: ``synth`` (make ScoliGait-Synth) and ``synth-check`` (difficulty baseline)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from scoligait_edge.cli import app


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", "-o", help="Dataset directory to create."),
    subjects: int = typer.Option(200, "--subjects", "-n", min=3, help="Number of synthetic children."),
    clips_per_subject: int = typer.Option(
        2, "--clips-per-subject", "-k", min=1, help="Walking clips per child."
    ),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed (same seed → identical dataset)."),
    frames: int = typer.Option(192, "--frames", min=1, help="Frames per clip (30 Hz)."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
) -> None:
    """Generate ScoliGait-Synth: walking children (pose, silhouettes, Cobb angle) + a split index."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from scoligait_edge.data.dataset import load_index
    from scoligait_edge.data.synth import write_dataset
    from scoligait_edge.fileio import check_can_write

    check_can_write(out, force)  # fail before any work
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with Progress(
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("clips", total=subjects * clips_per_subject)
        write_dataset(
            out, subjects, clips_per_subject, seed, frames, force=force,
            on_clip=lambda done, total: bar.update(task, completed=done),
        )  # fmt: skip
    df = load_index(out)
    counts = df.drop_duplicates("subject_id").groupby(["split", "label"]).size()
    parts = ", ".join(
        f"{sp} {int(counts.get((sp, 1), 0))}+/{int(counts.get((sp, 0), 0))}-"
        for sp in ("train", "val", "test")
    )
    typer.echo(
        f"wrote {len(df)} clips of {df['subject_id'].nunique()} subjects to {out} "
        f"({time.perf_counter() - t0:.1f} s); subjects per split (pos/neg): {parts}"
    )


@app.command("synth-check")
def synth_check(
    data: Path = typer.Argument(..., help="Dataset directory (with index.csv)."),
) -> None:
    """Difficulty baseline: logistic regression on clip-mean knowledge maps (target test AUC 0.65–0.85)."""
    from scoligait_edge.data.difficulty import TARGET_AUC, baseline_auc

    res = baseline_auc(data, progress=True)
    lo, hi = TARGET_AUC
    verdict = "in range" if lo <= res["test_auc"] <= hi else "OUT OF RANGE"
    typer.echo(
        f"logistic regression on clip-mean knowledge map: train AUC {res['train_auc']:.3f}, "
        f"val AUC {res['val_auc']:.3f}, test AUC {res['test_auc']:.3f} ({verdict}, target {lo}–{hi}); "
        f"clips train/val/test {res['n_train']}/{res['n_val']}/{res['n_test']}; "
        f"5-fold subject-grouped AUC {res['cv_auc_mean']:.3f} ± {res['cv_auc_sd']:.3f}"
    )
