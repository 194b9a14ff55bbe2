"""CLI commands: ``bench`` (table + JSON), ``bench check`` (CI gate), ``bench baseline --update``.

Baselines live in ``benchmarks/baselines/<cpu class>.json`` (see ``bench.gate`` and docs/bench.md).
"""

from __future__ import annotations

from pathlib import Path

import typer

from scoligait_edge.cli import app

DEFAULT_BASELINE = Path("benchmarks/baselines")  #: one <cpu class>.json per CPU class

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
    """Bench options measuring exactly the rows a baseline gates, in its (quick) configuration."""
    from scoligait_edge.bench import gate
    from scoligait_edge.bench.run import BenchOptions

    o = baseline.settings.get("options", {})
    rows = gate.rows_to_measure(baseline)
    models = [r.split("/") for r in rows if r.startswith("student/")]
    targets = list(dict.fromkeys(t for _, t, _ in models if t != "pytorch"))
    precisions = list(dict.fromkeys(p for _, t, p in models if t != "pytorch"))
    return BenchOptions(
        model=o.get("model", "student"),
        targets=",".join(targets) or ",".join(baseline.settings.get("targets", [])) or "all",
        precisions=",".join(precisions) or o.get("precisions"),
        threads=o.get("threads"),
        data=Path(o["data"]) if o.get("data") else None,
        quick=bool(o.get("quick", True)),
        reference=o.get("reference", baseline.reference.get("name", "mlp")),
        pipeline=any(r.startswith("pipeline/") for r in rows),
        bundles=bundles,
        rows=tuple(rows),
    )


@bench_app.command("check")
def check(
    baseline: Path = typer.Option(
        DEFAULT_BASELINE,
        "--baseline",
        help="Directory of <cpu-class>.json baselines (this machine's class is picked, else the nearest"
        " under the cross-class rules), or one baseline file.",
    ),
    tolerance: float = typer.Option(
        None, "--tolerance", help="Allowed latency-ratio growth (default: baseline's, 0.25)."
    ),
    current: Path = typer.Option(
        None, "--current", help="Judge this run's JSON (its recorded CPU class) instead of measuring now."
    ),
    threads: str = typer.Option(None, "--threads", help="Thread settings to gate (default: baseline's, 1)."),
    retries: int = typer.Option(
        1, "--retries", help="Re-measure this many times before calling a latency-only regression real."
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write the run measured now here."),
    bundles: Path = typer.Option(None, "--bundles", help="Reuse/keep bundles here (default: temporary)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
) -> None:
    """Fail (exit 1) naming every gated row whose latency ratio, parity or status regressed."""
    import tempfile
    import time

    from scoligait_edge.bench import gate, report
    from scoligait_edge.bench.machine import cpu_class
    from scoligait_edge.bench.run import run_bench
    from scoligait_edge.bench.timing import parse_threads
    from scoligait_edge.errors import BenchmarkRegressionError
    from scoligait_edge.fileio import check_can_write

    t0 = time.perf_counter()
    run = report.read_json(current) if current is not None else None
    for_class = cpu_class(run.machine if run is not None else None)
    choice = gate.choose_baseline(baseline, for_class)
    base = choice.run
    notice = choice.notice()
    typer.echo(
        f"bench gate: CPU class {for_class}; baseline {choice.path}" + (" (cross-class)" if notice else ""),
        err=True,
    )
    if notice:
        typer.echo(f"NOTICE {notice}", err=True)
    gate_threads = parse_threads(threads) if threads else None
    cross = not choice.exact
    if run is not None:
        res = gate.compare(base, run, tolerance, gate_threads, cross_class=cross)
    else:
        if json_out is not None:
            check_can_write(json_out, force)
        with tempfile.TemporaryDirectory(prefix="scoligait-bench-check-") as tmp:
            opts = _options_like(base, bundles or Path(tmp))
            runs = [run_bench(opts)]
            run = runs[0]
            res = gate.compare(base, run, tolerance, gate_threads, cross_class=cross)
            while gate.latency_only(res) and len(runs) <= retries:
                names = ", ".join(sorted({r.row_id for r in res.regressions}))
                typer.echo(f"latency regression in {names}: re-measuring to confirm", err=True)
                runs.append(run_bench(opts))
                run = gate.combine(runs, "min")
                res = gate.compare(base, run, tolerance, gate_threads, cross_class=cross)
        _print_run(run, json_out, None, force)
    for note in [*gate.build_notes(base, run.settings), *res.notes]:
        typer.echo(f"  {note}", err=True)
    if notice:  # said again at the end, where a CI log is read
        typer.echo(f"NOTICE {notice}", err=True)
    try:
        gate.raise_if_regressed(res)
    except BenchmarkRegressionError as e:
        for r in getattr(e, "regressions", []):
            typer.echo(f"REGRESSION {r.line()}", err=True)
        raise
    how = f"cross-class vs {choice.cpu_class}" if cross else f"CPU class {choice.cpu_class}"
    typer.echo(
        f"bench gate passed: {len(res.passed)} rows within tolerance of {choice.path} ({how})"
        f" in {time.perf_counter() - t0:.0f} s"
    )


def _rows_option(spec: str) -> tuple[str, ...] | None:
    from scoligait_edge.bench import gate

    s = spec.strip().lower()
    if s == "gate":
        return gate.GATE_ROWS
    if s == "all":
        return None
    return tuple(r.strip() for r in spec.split(",") if r.strip())


@bench_app.command("baseline")
def baseline_cmd(
    update: bool = typer.Option(False, "--update", help="Required: rewrite the baseline deliberately."),
    baseline: Path = typer.Option(
        None,
        "--baseline",
        help="Baseline file to write (default: benchmarks/baselines/<cpu class>.json, the class of this"
        " machine or of the --current runs).",
    ),
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
    rows: str = typer.Option(
        "gate", "--rows", help="Rows to record: 'gate' (what bench check measures), 'all', or ids."
    ),
    bundles: Path = typer.Option(None, "--bundles", help="Reuse/keep bundles here (default: temporary)."),
) -> None:
    """Rewrite this CPU class's baseline from fresh quick runs (or --current RUN.json …); needs --update."""
    import tempfile

    from scoligait_edge.bench import gate, report
    from scoligait_edge.bench.machine import cpu_class
    from scoligait_edge.bench.run import BenchOptions, run_bench
    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.fileio import atomic_write_text

    keep = _rows_option(rows)
    if not update:
        dest = baseline or DEFAULT_BASELINE / "<cpu class>.json"
        raise ScoliGaitError(
            f"not rewriting {dest} without --update",
            "pass --update to replace the baseline on purpose (then review and commit the diff)",
        )
    if current:
        runs = [report.read_json(p) for p in current]
    else:
        with tempfile.TemporaryDirectory(prefix="scoligait-bench-baseline-") as tmp:
            opts = BenchOptions(quick=quick, bundles=bundles or Path(tmp), rows=keep)
            runs = []
            for i in range(max(1, repeat)):
                typer.echo(f"baseline run {i + 1}/{max(1, repeat)}", err=True)
                runs.append(run_bench(opts))
    base = gate.make_baseline(runs, tolerance=tolerance, rows=keep)
    base.settings["baseline_source"] = [str(p) for p in current] if current else "measured by bench baseline"
    if keep is not None:
        absent = [r for r in keep if base.row(r) is None]
        if absent:
            typer.echo(f"  not in the run(s), so not gated: {', '.join(absent)}", err=True)
    cls = cpu_class(base.machine)
    if baseline is None:
        baseline = DEFAULT_BASELINE / f"{cls}.json"
    _print_run(base)
    old = report.read_json(baseline) if baseline.is_file() else None
    if old is not None:
        try:
            for r in gate.compare(old, base, tolerance).regressions:
                typer.echo(f"  replacing: {r.line()}", err=True)
        except ScoliGaitError as e:
            typer.echo(f"  previous baseline not comparable: {e}", err=True)
    baseline.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(baseline, report.to_json(base), force=True)
    noisy = [f"{r.id} (+{r.gate['tolerance']:.0%})" for r in base.rows if "tolerance" in r.gate]
    if noisy:
        typer.echo(f"  noisy rows with their own tolerance: {', '.join(noisy)}", err=True)
    typer.echo(
        f"wrote baseline {baseline} for CPU class {cls} ({len(base.rows)} rows,"
        f" {base.settings['gate']['baseline_repeats']} run(s))"
        " — review and commit it"
    )
