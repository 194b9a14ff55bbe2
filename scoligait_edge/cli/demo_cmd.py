"""CLI command: `demo` — the main job end to end on the shipped default student."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from scoligait_edge.cli import app


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Output directory for the demo's files."),
    subjects: int = typer.Option(12, min=6, help="Synthetic subjects to generate."),
    frames: int = typer.Option(192, min=96, help="Frames per clip (30 Hz)."),
    seed: int = typer.Option(7, help="ScoliGait-Synth seed."),
    export_target: str = typer.Option(
        "onnx", "--export-target", help="Export target for the INT8 step ('none' to skip)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing demo output directory."),
) -> None:
    """Run the main job: synth clips → offline + streaming knowledge maps → shipped student → INT8 export."""
    from scoligait_edge.demo import run_demo

    summary = run_demo(
        out, subjects=subjects, frames=frames, seed=seed, export_target=export_target, force=force
    )
    typer.echo(json.dumps({k: summary[k] for k in ("out", "clips", "stream_max_abs_diff", "heatmap")}))
