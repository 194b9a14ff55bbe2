"""``run_bench``: options → cases → suite → ``BenchRun`` (what ``scoligait-edge bench`` calls)."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoligait_edge.bench.reference import DEFAULT_REFERENCE
from scoligait_edge.bench.report import BenchRun
from scoligait_edge.bench.suite import SuiteConfig, run_suite
from scoligait_edge.bench.timing import TimingConfig, parse_threads

#: What ``--quick`` measures unless told otherwise (the CI gate's configuration).
QUICK_THREADS = "1"
QUICK_PRECISIONS = "fp32,int8"


@dataclass
class BenchOptions:
    model: str = "student"
    targets: str = "all"
    precisions: str | None = None  #: None: all (full run) or fp32,int8 (quick)
    threads: str | None = None  #: None: "1,all" (full run) or "1" (quick)
    data: Path | None = None
    quick: bool = False
    bundles: Path | None = None  #: reuse/keep bundles here (default: a temporary directory)
    reference: str = DEFAULT_REFERENCE
    pipeline: bool = True
    seed: int = 0
    rows: tuple[str, ...] | None = None  #: measure only these row ids (the gate's rows); None: all

    def __post_init__(self) -> None:
        if self.rows is not None:
            self.rows = tuple(self.rows)

    def resolved(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "targets": self.targets,
            "precisions": self.precisions or (QUICK_PRECISIONS if self.quick else "all"),
            "threads": self.threads or (QUICK_THREADS if self.quick else "1,all"),
            "data": str(self.data) if self.data else None,
            "quick": self.quick,
            "reference": self.reference,
            "pipeline": self.pipeline,
            "rows": list(self.rows) if self.rows is not None else None,
        }


def _quiet_runtimes() -> None:
    """Keep ONNX Runtime's C++ logger from printing errors the table already reports as row reasons."""
    try:
        import onnxruntime as ort

        ort.set_default_logger_severity(4)
    except Exception:  # optional runtime: nothing to quiet
        pass


def run_bench(opts: BenchOptions, console: Any = None) -> BenchRun:
    """Export (or reuse) every target × precision, add the pipeline rows and measure them all."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from scoligait_edge.bench import sources

    console = console or Console(stderr=True)
    _quiet_runtimes()
    res = opts.resolved()
    threads = parse_threads(res["threads"])
    targets = sources.resolve_targets(opts.targets)
    precisions = sources.resolve_precisions(res["precisions"])
    only = set(opts.rows) if opts.rows is not None else None
    cfg = SuiteConfig(
        threads=threads,
        timing=TimingConfig.quick() if opts.quick else TimingConfig(),
        reference=opts.reference,
        throughput_batch=None if opts.quick else 16,
        quick=opts.quick,
        extra_settings={"options": res, "targets": targets, "precisions": precisions},
    )
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with contextlib.ExitStack() as stack:
        if opts.bundles is not None:
            bundle_dir = Path(opts.bundles)
            bundle_dir.mkdir(parents=True, exist_ok=True)
        else:
            bundle_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scoligait-bench-")))
        stack.enter_context(progress)
        task = progress.add_task("loading models and parity set", total=2)
        student, teacher = sources.load_models(opts.model)
        progress.advance(task)
        ev = sources.eval_set(opts.data, seed=opts.seed)
        progress.advance(task)
        cases = sources.model_cases(
            student,
            teacher,
            targets,
            precisions,
            bundle_dir,
            progress,
            export_unrunnable=not opts.quick,
            model_spec=opts.model,
            only=only,
        )
        if opts.pipeline:
            cases += sources.pipeline_cases(cases, quick=opts.quick, only=only)
        run = run_suite(cases, ev, cfg, progress)
    run.settings["bundles"] = str(opts.bundles) if opts.bundles else "temporary"
    run.settings["student_sha256"] = sources.model_fingerprint(student)
    run.settings["exporter_sha256"] = sources.exporter_fingerprint()
    return run
