"""CLI command ``screen``: footage → verdict ``refer | no-referral | retake`` through an exported bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from scoligait_edge.cli import app


@app.command("screen")
def screen_cmd(
    inputs: list[str] = typer.Argument(
        None, help="Videos, pose clips (.npz/.pkl), directories or globs of them, or a stream URL."
    ),
    bundle: Path | None = typer.Option(
        None, "--bundle", "-b", help="Bundle directory (default: the shipped student's INT8 ONNX bundle)."
    ),
    camera: int | None = typer.Option(None, "--camera", help="Screen a camera (index) live."),
    out: Path = typer.Option(Path("screen_out"), "--out", "-o", help="Output directory."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Decision threshold (default: manifest)."
    ),
    include_frames: bool = typer.Option(
        False, "--include-frames", help="Embed video frames in report.html (default: skeletons only)."
    ),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Stop a live source after N frames."),
    force: bool = typer.Option(False, "--force", help="Screen again inputs already in --out."),
    use_ray: bool = typer.Option(
        False, "--ray", help="Screen on Ray Data: embedded local cluster, or --address (docs/scale.md)."
    ),
    address: str | None = typer.Option(
        None, "--address", help="With --ray: join this Ray cluster (HOST:PORT of `ray start --head`)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="With --ray: pose tasks at a time (default: every CPU)."
    ),
) -> None:
    """Screen children's walking videos: quality gate, referral decision, explanation, report.html."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from scoligait_edge.errors import InputFileError, ScoliGaitError
    from scoligait_edge.screen.batch import run_batch
    from scoligait_edge.screen.pipeline import Screener
    from scoligait_edge.screen.sources import expand

    console = Console(stderr=True, highlight=False)
    if camera is None and not inputs:
        raise InputFileError("nothing to screen", "pass a video, a pose clip, a directory, or --camera N")
    if (address or workers) and not use_ray:
        raise InputFileError("--address and --workers go with --ray", "add --ray")
    if use_ray and (camera is not None or include_frames):
        raise InputFileError(
            "--ray screens files: no --camera, no --include-frames (video pixels stay with the pose task)",
            "screen live sources, or reports with frames, without --ray",
        )
    if use_ray:
        from scoligait_edge.screen.fleet import expand_fleet

        items: list[str | int] = list(expand_fleet(inputs))
    else:
        items = [camera] if camera is not None else [x for i in inputs for x in expand(i)]
    live = camera is not None or any("://" in str(i) for i in items)

    def on_window(w) -> None:  # LIVE_STREAM result callback
        if live:
            lat = list(screener.frame_ms)  # 30 Hz frames: resampled ones cost ~0, so report the mean
            ms = f", {sum(lat) / len(lat):.1f} ms per 30 Hz frame (mean of {len(lat)})" if lat else ""
            console.print(
                f"  window {w.start}-{w.end}: p(refer) {w.referral_prob:.3f}, Cobb {w.cobb_angle:.1f}°{ms}"
            )

    with console.status("loading bundle (golden-vector self-test)…"):
        screener = Screener(bundle, threshold=threshold, on_window=on_window)
    info = screener.bundle_info
    what = f"{info.get('target')} {info.get('precision')}, device class {info.get('device_class')}"
    console.print(f"bundle: {info.get('path')} ({what}) — threshold {screener.threshold:.3f}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("screening", total=len(items))

        def done(row: dict) -> None:
            progress.advance(task)
            name = Path(str(row["input"])).name
            if row["status"] == "error":
                console.print(f"[red]✗[/] {name}: {row['error']}")
            else:
                p = f" p={float(row['referral_prob']):.3f}" if row["referral_prob"] != "" else ""
                why = f" ({row['failed_checks']})" if row["failed_checks"] else ""
                console.print(f"{row['verdict']:<12} {name}{p}{why}  → {row['output']}")

        if use_ray:
            from scoligait_edge.screen.fleet import run_fleet

            rows = run_fleet([str(i) for i in items], screener, out, address=address, workers=workers,
                             force=force, on_result=done, on_start=console.print)  # fmt: skip
        else:
            rows = run_batch(items, screener, out, force=force, include_frames=include_frames, on_result=done,
                             progress=False, max_frames=max_frames)  # fmt: skip
    also = f" and {out / 'results.parquet'}" if use_ray else ""
    typer.echo(f"wrote {out / 'results.csv'}{also} ({len(rows)} input(s))")
    bad = [r for r in rows if r["status"] == "error"]
    if bad:
        raise ScoliGaitError(
            f"{len(bad)} of {len(rows)} input(s) could not be screened (first: {bad[0]['error']})",
            f"see {out / 'results.csv'}; fix or remove those files and run again (done inputs are skipped)",
        )
