"""CLI commands: ``export`` (a target's bundle), ``calibrate`` (INT8 calibration set), ``targets`` (table)."""

from __future__ import annotations

from pathlib import Path

import typer

from scoligait_edge.cli import app


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@app.command("export")
def export_cmd(
    target: str = typer.Option(..., "--target", "-t", help="Export target (see `scoligait-edge targets`)."),
    precision: str = typer.Option("fp32", "--precision", "-p", help="fp32 | fp16 | int8."),
    model: Path | None = typer.Option(
        None, "--model", "-m", help="Checkpoint .pt (default: the shipped student)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Dataset dir: INT8 calibration from its train split, parity on val/test."
    ),
    calib: Path | None = typer.Option(
        None, "--calib", help="Calibration set .npz (from `scoligait-edge calibrate`)."
    ),
    calib_method: str | None = typer.Option(
        None, "--calib-method", help="minmax | entropy | percentile (ORT)."
    ),
    calib_size: int | None = typer.Option(
        None, "--calib-size", help="Windows drawn for calibration (default 300)."
    ),
    int8_mode: str | None = typer.Option(
        None, "--int8-mode", help="ONNX Runtime INT8: static (QDQ) | dynamic."
    ),
    batch: int | None = typer.Option(
        None, "--batch", "-b", help="Static batch, or the opt batch of a profile."
    ),
    dynamic: bool | None = typer.Option(
        None, "--dynamic/--static", help="Dynamic batch axis (default dynamic)."
    ),
    opset: int | None = typer.Option(None, "--opset", help="ONNX opset (default 20)."),
    workspace: float | None = typer.Option(None, "--workspace", help="TensorRT builder workspace, GiB."),
    dla_core: int | None = typer.Option(
        None, "--dla-core", help="TensorRT DLA core (Jetson) with GPU fallback."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Bundle directory (default <model>_<target>_<precision>)."
    ),
    device: str | None = typer.Option(
        None,
        "--device",
        "-d",
        help="INT8 device class: any (portable, default) | x86-avx2 | x86-vnni | arm64 | jetson.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle."),
    validate: bool = typer.Option(
        True, "--validate/--no-validate", help="Check parity vs PyTorch (default on)."
    ),
) -> None:
    """Export a model to a target as a verified bundle (artifact + manifest + parity report)."""
    import json
    import time

    from rich.console import Console

    from scoligait_edge.export import export_model, get_target, validate_options
    from scoligait_edge.fileio import check_can_write
    from scoligait_edge.runtime.parity import summary

    console = Console(stderr=True, highlight=False)
    t = get_target(target)
    options = dict(
        precision=precision,
        batch=batch,
        dynamic=dynamic,
        opset=opset,
        calib=calib if calib is not None else data,
        calib_method=calib_method,
        calib_size=calib_size,
        int8_mode=int8_mode,
        workspace=workspace,
        dla_core=dla_core,
        validate=validate,
        parity_data=data,
        device=device,
    )
    if calib is None and (precision.lower() != "int8" or not t.accepts("calib")):
        options["calib"] = None  # --data then only feeds the parity check
    validate_options(t, **options)  # fail fast, before loading anything
    if out is not None:
        check_can_write(out, force)
    if precision.lower() == "int8" and calib is None and data is None:
        console.print(
            "note: no --calib/--data given; calibrating on a small deterministic ScoliGait-Synth set"
        )
    if validate and data is None:
        console.print("note: parity is checked on a small deterministic ScoliGait-Synth validation set")
    t0 = time.perf_counter()
    with console.status(f"exporting {t.name} {precision}…") as status:
        path = export_model(
            model,
            t.name,
            out,
            force=force,
            step=lambda s: status.update(f"{t.name} {precision}: {s}…"),
            **options,
        )
    man = json.loads((path / "manifest.json").read_text())
    typer.echo(f"wrote {path} ({time.perf_counter() - t0:.1f} s): {t.name} {man['precision']}")
    for name, f in man["files"].items():
        typer.echo(f"  {name:<28} {_human(f['bytes']):>10}  sha256 {f['sha256'][:12]}")
    recipe = man.get("int8_recipe")
    if recipe:
        valid = ", ".join(recipe["valid_on"])
        typer.echo(
            f"  INT8 recipe {recipe['name']} for device class '{man['device_class']}' (correct on: {valid})"
        )
    par = man.get("parity") or {}
    if par.get("skipped"):
        typer.echo("  parity: skipped (--no-validate)")
    elif par:
        typer.echo(f"  parity vs PyTorch on {par['windows']} windows ({par['data']}):")
        for name in ("kernels", "numerics", "kernel_gap"):
            typer.echo(f"    {name:<10} {summary(par[name])}")
        if par.get("golden"):
            typer.echo(
                f"    golden     {par['golden']['windows']} windows "
                f"{'PASS' if par['golden']['passed'] else 'FAIL'} (run `scoligait-edge verify` on the device)"
            )
    cmd = man.get("backend", {}).get("trtexec")
    if cmd:
        typer.echo(f"  on the Jetson: {cmd}")


@app.command("calibrate")
def calibrate_cmd(
    data: Path = typer.Option(
        ..., "--data", help="Dataset directory (windows are drawn from its TRAIN split)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Calibration set to write (.npz)."),
    size: int = typer.Option(300, "--size", "-n", min=16, help="Windows to draw."),
    stratify: bool = typer.Option(True, "--stratify/--no-stratify", help="Balance classes and subjects."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
) -> None:
    """Build an INT8 calibration set (.npz, content-hashed) from a dataset's training split."""
    from rich.console import Console

    from scoligait_edge.calibration import build_calibration_set, save_calibration
    from scoligait_edge.fileio import check_can_write

    check_can_write(out, force)
    with Console(stderr=True).status("drawing calibration windows…"):
        cs = build_calibration_set(data, size=size, stratify=stratify, seed=seed)
        save_calibration(cs, out, force=force)
    d = cs.describe()
    counts = ", ".join(f"class {k}: {v}" for k, v in d.get("class_counts", {}).items())
    typer.echo(
        f"wrote {out}: {len(cs)} windows ({counts or 'no labels'}; {d.get('subjects', '?')} subjects), "
        f"sha256 {cs.hash[:16]}"
    )


@app.command("targets")
def targets_cmd(
    check: bool = typer.Option(True, "--check/--no-check", help="Probe whether each target can run here."),
) -> None:
    """List export targets: aliases, artifacts, precisions, options and availability here."""
    from rich.console import Console
    from rich.table import Table

    from scoligait_edge.export.targets import export_formats

    table = Table(title="scoligait-edge export targets")
    rows = export_formats(check_availability=check)
    cols = ["target", "aliases", "suffix", "precisions", "devices", "options"] + (
        ["available"] if check else []
    )
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(str(r[c]) for c in cols))
    Console().print(table)
