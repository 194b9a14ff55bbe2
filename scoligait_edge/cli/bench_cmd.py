"""CLI commands: ``bench`` (table + JSON), ``bench check`` (CI gate), ``bench baseline --update``."""

from __future__ import annotations

from pathlib import Path

import typer

from scoligait_edge.cli import app

DEFAULT_BASELINE = Path("benchmarks/baseline.json")

bench_app = typer.Typer(
    help="Benchmark every export target × precision vs the teacher; gate CI on latency/parity regressions.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
)
app.add_typer(bench_app, name="bench")


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    model: str = typer.Option("student", "--model", help="'student' (shipped) or a student checkpoint .pt."),
    targets: str = typer.Option(
        "all", "--targets", help="'all' or comma-separated targets, e.g. onnx,openvino."
    ),
    precisions: str = typer.Option(
        None, "--precisions", help="e.g. fp32,int8 (default: all; --quick: fp32,int8)."
    ),
    threads: str = typer.Option(None, "--threads", help="Thread settings, e.g. 1,all (--quick: 1)."),
    data: Path = typer.Option(
        None, "--data", help="Dataset directory for parity (val/test split); default synthetic."
    ),
    quick: bool = typer.Option(False, "--quick", help="Fast configuration (CI gate): fewer reps, 1 thread."),
    json_out: Path = typer.Option(None, "--json", help="Write the machine-readable report here."),
    markdown: Path = typer.Option(None, "--markdown", help="Write the table as Markdown here."),
    bundles: Path = typer.Option(
        None, "--bundles", help="Reuse bundles in this directory (missing ones exported there)."
    ),
    reference: str = typer.Option(
        "mlp", "--reference", help="Reference workload for latency ratios: mlp|matmul|numpy."
    ),
    pipeline: bool = typer.Option(
        True, "--pipeline/--no-pipeline", help="Include pose/kmap/end-to-end rows."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --json/--markdown files."),
) -> None:
    """Benchmark every export target × precision against the teacher and print one table."""
    if ctx.invoked_subcommand is not None:
        return
    from scoligait_edge.bench.run import BenchOptions

    for p in (json_out, markdown):
        if p is not None:
            from scoligait_edge.fileio import check_can_write

            check_can_write(p, force)
    opts = BenchOptions(
        model=model,
        targets=targets,
        precisions=precisions,
        threads=threads,
        data=data,
        quick=quick,
        bundles=bundles,
        reference=reference,
        pipeline=pipeline,
    )
    _run_and_print(opts, json_out, markdown, force)


def _print_run(run, json_out: Path | None = None, markdown: Path | None = None, force: bool = False) -> None:
    from rich.console import Console

    from scoligait_edge.bench import report, table

    Console(width=max(Console().width, 200)).print(table.render_rich(run))
    if json_out is not None:
        report.write_json(run, json_out, force=force)
        typer.echo(f"wrote {json_out}", err=True)
    if markdown is not None:
        from scoligait_edge.fileio import atomic_write_text

        atomic_write_text(markdown, table.render_markdown(run), force=force)
        typer.echo(f"wrote {markdown}", err=True)


def _run_and_print(opts, json_out: Path | None, markdown: Path | None, force: bool):
    from scoligait_edge.bench.run import run_bench

    run = run_bench(opts)
    _print_run(run, json_out, markdown, force)
    return run


def _options_like(baseline, bundles: Path | None):
    """Bench options reproducing the configuration a baseline was measured with."""
    from scoligait_edge.bench.run import BenchOptions

    o = baseline.settings.get("options", {})
    return BenchOptions(
        model=o.get("model", "student"),
        targets=",".join(baseline.settings.get("targets", [])) or "all",
        precisions=o.get("precisions"),
        threads=o.get("threads"),
        data=Path(o["data"]) if o.get("data") else None,
        quick=bool(o.get("quick", True)),
        reference=o.get("reference", baseline.reference.get("name", "mlp")),
        pipeline=bool(o.get("pipeline", True)),
        bundles=bundles,
    )


@bench_app.command("check")
def check(
    baseline: Path = typer.Option(DEFAULT_BASELINE, "--baseline", help="Committed baseline report."),
    tolerance: float = typer.Option(
        None, "--tolerance", help="Allowed latency-ratio growth (default: baseline's, 0.25)."
    ),
    current: Path = typer.Option(None, "--current", help="Judge this run's JSON instead of measuring now."),
    threads: str = typer.Option(None, "--threads", help="Thread settings to gate (default: baseline's, 1)."),
    retries: int = typer.Option(
        1, "--retries", help="Re-measure this many times before calling a latency-only regression real."
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write the run measured now here."),
    bundles: Path = typer.Option(None, "--bundles", help="Reuse/keep bundles here (default: temporary)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
) -> None:
    """Fail (exit 1) naming every row whose latency ratio or parity regressed against the baseline."""
    import tempfile

    from scoligait_edge.bench import gate, report
    from scoligait_edge.bench.run import run_bench
    from scoligait_edge.bench.timing import parse_threads
    from scoligait_edge.errors import BenchmarkRegressionError
    from scoligait_edge.fileio import check_can_write

    base = report.read_json(baseline)
    gate_threads = parse_threads(threads) if threads else None
    if current is not None:
        run = report.read_json(current)
        res = gate.compare(base, run, tolerance, gate_threads)
    else:
        if json_out is not None:
            check_can_write(json_out, force)
        with tempfile.TemporaryDirectory(prefix="scoligait-bench-check-") as tmp:
            opts = _options_like(base, bundles or Path(tmp))
            runs = [run_bench(opts)]
            run = runs[0]
            res = gate.compare(base, run, tolerance, gate_threads)
            while gate.latency_only(res) and len(runs) <= retries:
                names = ", ".join(sorted({r.row_id for r in res.regressions}))
                typer.echo(f"latency regression in {names}: re-measuring to confirm", err=True)
                runs.append(run_bench(opts))
                run = gate.combine(runs, "min")
                res = gate.compare(base, run, tolerance, gate_threads)
        _print_run(run, json_out, None, force)
    for note in res.notes:
        typer.echo(f"  {note}", err=True)
    try:
        gate.raise_if_regressed(res)
    except BenchmarkRegressionError as e:
        for r in getattr(e, "regressions", []):
            typer.echo(f"REGRESSION {r.line()}", err=True)
        raise
    typer.echo(f"bench gate passed: {len(res.passed)} rows within tolerance of {baseline}")


@bench_app.command("baseline")
def baseline_cmd(
    update: bool = typer.Option(False, "--update", help="Required: rewrite the baseline deliberately."),
    baseline: Path = typer.Option(DEFAULT_BASELINE, "--baseline", help="Baseline file to write."),
    current: list[Path] = typer.Option(
        None, "--current", help="Use these runs' JSON instead of measuring now."
    ),
    repeat: int = typer.Option(
        3, "--repeat", help="Quick runs to measure (ratios: median; spread: row tolerance)."
    ),
    quick: bool = typer.Option(True, "--quick/--full", help="Measure with the quick (CI) configuration."),
    tolerance: float = typer.Option(
        0.25, "--tolerance", help="Latency-ratio tolerance stored in the baseline."
    ),
    bundles: Path = typer.Option(None, "--bundles", help="Reuse/keep bundles here (default: temporary)."),
) -> None:
    """Rewrite the committed baseline from fresh quick runs (or --current RUN.json …); needs --update."""
    import tempfile

    from scoligait_edge.bench import gate, report
    from scoligait_edge.bench.run import BenchOptions, run_bench
    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.fileio import atomic_write_text

    if not update:
        raise ScoliGaitError(
            f"not rewriting {baseline} without --update",
            "pass --update to replace the baseline on purpose (then review and commit the diff)",
        )
    if current:
        runs = [report.read_json(p) for p in current]
    else:
        with tempfile.TemporaryDirectory(prefix="scoligait-bench-baseline-") as tmp:
            opts = BenchOptions(quick=quick, bundles=bundles or Path(tmp))
            runs = []
            for i in range(max(1, repeat)):
                typer.echo(f"baseline run {i + 1}/{max(1, repeat)}", err=True)
                runs.append(run_bench(opts))
    base = gate.make_baseline(runs, tolerance=tolerance)
    _print_run(base)
    old = report.read_json(baseline) if baseline.is_file() else None
    if old is not None:
        try:
            for r in gate.compare(old, base, tolerance).regressions:
                typer.echo(f"  replacing: {r.line()}", err=True)
        except ScoliGaitError as e:
            typer.echo(f"  previous baseline not comparable: {e}", err=True)
    atomic_write_text(baseline, report.to_json(base), force=True)
    noisy = [f"{r.id} (+{r.gate['tolerance']:.0%})" for r in base.rows if "tolerance" in r.gate]
    if noisy:
        typer.echo(f"  noisy rows with their own tolerance: {', '.join(noisy)}", err=True)
    typer.echo(
        f"wrote baseline {baseline} ({len(base.rows)} rows from {len(runs)} run(s)) — review and commit it"
    )
