"""Measure the regression gate's false-alarm rate: rerun the unchanged quick bench N times.

Usage::

    .venv/bin/python benchmarks/false_alarm.py --runs 12 --out /tmp/false_alarm

Each run is a fresh ``scoligait-edge bench --quick`` process (bundles exported once and
reused from ``OUT/bundles``, so only measurement varies). Run 1 becomes the baseline; runs
2..N are checked against it with the gate's default tolerance. Reports the share of runs
the gate would have failed (the false-alarm rate) and, per row, the scatter of the gated
latency ratio (worst relative deviation from the baseline, and the coefficient of variation).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("false_alarm_out"))
    ap.add_argument("--tolerance", type=float, default=0.25)
    ap.add_argument("--reuse", action="store_true", help="reuse run JSONs already in --out")
    ap.add_argument("bench_args", nargs="*", help="extra arguments for `scoligait-edge bench` (after --)")
    a = ap.parse_args(argv)
    from scoligait_edge.bench import gate, report

    a.out.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("scoligait-edge")
    paths = []
    for i in range(a.runs):
        p = a.out / f"run{i:02d}.json"
        if not (a.reuse and p.is_file()):
            cmd = [
                str(exe),
                "bench",
                "--quick",
                "--bundles",
                str(a.out / "bundles"),
                "--json",
                str(p),
                "--force",
            ]
            subprocess.run([*cmd, *a.bench_args], check=True, stdout=subprocess.DEVNULL)
        paths.append(p)
        print(f"run {i + 1}/{a.runs} done", file=sys.stderr, flush=True)
    runs = [report.read_json(p) for p in paths]
    base = gate.make_baseline(report.BenchRun.from_dict(runs[0].to_dict()), tolerance=a.tolerance)
    alarms, lines = 0, []
    for i, r in enumerate(runs[1:], start=2):
        res = gate.compare(base, r)
        if res.regressions:
            alarms += 1
            lines += [f"run {i}: {x.line()}" for x in res.regressions]
    rows = {}
    for row in base.rows:
        ratios = [
            r.row(row.id).ratio(1) for r in runs if r.row(row.id) is not None and r.row(row.id).ratio(1)
        ]
        if len(ratios) >= 2:
            v = np.asarray(ratios)
            rows[row.id] = {
                "n": len(v),
                "cv": float(v.std() / v.mean()),
                "worst_rel_dev_vs_run1": float(np.max(v[1:] / v[0] - 1)),
            }
    summary = {
        "runs_checked": len(runs) - 1,
        "false_alarms": alarms,
        "false_alarm_rate": alarms / max(1, len(runs) - 1),
        "tolerance": a.tolerance,
        "regressions": lines,
        "ratio_scatter": rows,
        "load_average": [r.load_average for r in runs],
    }
    (a.out / "false_alarm.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
