"""Measure the regression gate's false-alarm rate by running CI's exact procedure on an unchanged build.

Usage::

    .venv/bin/python benchmarks/false_alarm.py --checks 10 --out /tmp/false_alarm
    .venv/bin/python benchmarks/false_alarm.py --checks 10 --out /tmp/fa \
        --baseline benchmarks/baselines/x86-amx-intel.json \
        --also-against benchmarks/baselines/x86-avx512-vnni-amd.json \
        --also-against benchmarks/baselines/x86-avx2-amd.json

1. ``scoligait-edge bench baseline --update --repeat 3`` writes a fresh baseline (as a developer
   would before committing it), or ``--baseline FILE`` uses an existing one (e.g. the committed
   baseline of this machine's CPU class);
2. ``scoligait-edge bench check --baseline …`` runs ``--checks`` times — each one a fresh
   process measuring the gate's rows in the quick configuration, with CI's confirmation re-run
   on a suspected latency regression — and every non-zero exit is a false alarm (nothing changed);
3. ``--also-against FILE`` judges every check's run against other baselines as well — those of
   other CPU classes are judged under the cross-class rules, which is the false-alarm rate of
   the fallback a machine without its own class baseline gets.

Bundles are exported once into ``OUT/bundles`` and reused (``--bundles``), so only the
measurement varies. Writes ``OUT/false_alarm.json``: the rate, every alarm line, and per row
the scatter of the gated ratio across the checks (coefficient of variation, worst deviation
from the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def snapshot(dest: Path) -> Path:
    """Copy the package (with ``export``/``calibration`` mapped in) to ``dest``; return the path root."""
    import scoligait_edge

    repo = Path(scoligait_edge.__file__).resolve().parents[1]
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(repo / "scoligait_edge", dest / "scoligait_edge", ignore=ignore)
    for sub in ("export", "calibration"):
        shutil.copytree(repo / sub, dest / "scoligait_edge" / sub, ignore=ignore, dirs_exist_ok=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("false_alarm_out"))
    ap.add_argument("--repeat", type=int, default=3, help="baseline runs")
    ap.add_argument("--reuse-baseline", action="store_true", help="keep OUT/baseline.json if present")
    ap.add_argument("--baseline", type=Path, help="gate against this baseline instead of making one")
    ap.add_argument(
        "--also-against",
        type=Path,
        action="append",
        default=[],
        help="also judge every check's run against this baseline (repeatable; other classes: cross-class)",
    )
    ap.add_argument(
        "--snapshot",
        action="store_true",
        help="run a frozen copy of the package (so edits made meanwhile in a shared tree do not count)",
    )
    a = ap.parse_args(argv)
    from scoligait_edge.bench import gate, report
    from scoligait_edge.bench.machine import cpu_class

    a.out.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("scoligait-edge"))
    env = dict(os.environ)
    if a.snapshot:
        env["PYTHONPATH"] = str(snapshot(a.out / "snapshot"))
    bundles = ["--bundles", str(a.out / "bundles")]
    base_path = a.baseline or a.out / "baseline.json"
    if a.baseline is None and not (a.reuse_baseline and base_path.is_file()):
        cmd = [exe, "bench", "baseline", "--update", "--repeat", str(a.repeat), "--baseline", str(base_path)]
        subprocess.run([*cmd, *bundles], check=True, stdout=subprocess.DEVNULL, env=env)
    alarms: list[str] = []
    failed_checks = 0
    crashes: list[str] = []
    runs = []
    seconds = []
    t0 = time.time()
    for i in range(a.checks):
        p = a.out / f"check{i:02d}.json"
        cmd = [exe, "bench", "check", "--baseline", str(base_path), "--json", str(p), "--force", *bundles]
        t_check = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds.append(round(time.time() - t_check, 1))
        if not p.is_file():  # the check crashed before judging: not a gate verdict, report it apart
            crashes.append(f"check {i + 1}: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
            continue
        if r.returncode != 0:
            failed_checks += 1
            alarms += [
                f"check {i + 1}: {line}" for line in r.stderr.splitlines() if line.startswith("REGRESSION")
            ]
        runs.append(report.read_json(p))
        print(f"check {i + 1}/{a.checks}: exit {r.returncode}", file=sys.stderr, flush=True)
    base = report.read_json(base_path)
    scatter = {}
    for row in base.rows:
        b = row.ratio(1)
        vals = [x.ratio(1) for run in runs if (x := run.row(row.id)) is not None and x.ratio(1) is not None]
        if b and len(vals) > 1:
            v = np.asarray(vals)
            scatter[row.id] = {
                "cv": round(float(v.std() / v.mean()), 4),
                "worst_vs_baseline": round(float(v.max() / b - 1), 4),
                "row_tolerance": row.gate.get("tolerance", base.settings["gate"]["tolerance"]),
            }
    others = {}
    for other in a.also_against:
        ob = report.read_json(other)
        judged = [gate.compare(ob, run) for run in runs]
        others[str(other)] = {
            "baseline_class": cpu_class(ob.machine),
            "cross_class": any(j.cross_class for j in judged),
            "checks": len(judged),
            "false_alarms": sum(not j.ok for j in judged),
            "alarms": [f"check {i + 1}: {x.line()}" for i, j in enumerate(judged) for x in j.regressions],
        }
    summary = {
        "cpu_class": cpu_class(runs[0].machine) if runs else None,
        "baseline": str(base_path),
        "baseline_class": cpu_class(base.machine),
        "checks": len(runs),
        "false_alarms": failed_checks,
        "false_alarm_rate": failed_checks / max(1, len(runs)),
        "crashed_checks": crashes,
        "minutes": round((time.time() - t0) / 60, 1),
        "seconds_per_check": seconds,
        "also_against": others,
        "alarms": alarms,
        "ratio_scatter": scatter,
        "load_average": [r.load_average for r in runs],
    }
    (a.out / "false_alarm.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
