"""How far unchanged rows move between CPU classes, and what the gate says about recorded runs.

Usage::

    .venv/bin/python benchmarks/cross_class.py                       # spread between the committed baselines
    .venv/bin/python benchmarks/cross_class.py \\
        --judge ../shared/measurements/zen3-avx2/bench_run.json      # + that run vs every baseline

1. For every ordered pair of baselines in ``--baselines`` (default ``benchmarks/baselines``),
   each gated row's change of its ratio to the reference (``raw``), and its change relative to
   the median change of the other rows (``peer``) and to the anchor row's (``anchor``) — what
   ``bench check`` judges when a machine of one class is gated against another class's
   baseline. ``gate.CROSS_CLASS_TOLERANCE`` must stay above every ``peer``/``anchor`` shift;
   ``tests/test_bench_cpu_class.py`` checks that it does.
2. ``--judge RUN.json`` (repeatable): the gate's verdict on a recorded run against each baseline
   (its own class: the strict rules; the others: the cross-class rules), i.e. the false alarms
   that run would have raised. ``--json OUT`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from scoligait_edge.bench import gate, report
    from scoligait_edge.bench.machine import cpu_class

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baselines", type=Path, default=gate.BASELINE_DIR)
    ap.add_argument("--judge", type=Path, action="append", default=[], help="a recorded bench run (JSON)")
    ap.add_argument("--json", type=Path, help="write the results here")
    a = ap.parse_args(argv)

    found = gate.load_baselines(a.baselines)
    spread = gate.cross_class_spread({cls: run for cls, (_, run) in found.items()})
    print(
        f"cross-class tolerance: +{gate.CROSS_CLASS_TOLERANCE:.0%} vs the median of the other rows"
        f" and vs {gate.ANCHOR_ROW}"
    )
    for pair, s in spread.items():
        print(
            f"{pair}: largest change of the ratio to the reference {s['raw_max']:+.0%},"
            f" vs the other rows {s['peer_max']:+.0%}, vs the anchor {s['anchor_max']:+.0%}"
        )
        for rid, v in s["rows"].items():
            anchor = "" if v["anchor"] is None else f"   vs anchor {v['anchor']:+5.0%}"
            print(f"    {rid:28s} raw {v['raw']:+6.0%}   vs others {v['peer']:+5.0%}{anchor}")
    verdicts = {}
    for path in a.judge:
        run = report.read_json(path)
        cls = cpu_class(run.machine)
        for bpath, base in found.values():
            res = gate.compare(base, run)
            key = f"{path} ({cls}) vs {bpath.name}"
            verdicts[key] = {
                "cross_class": res.cross_class,
                "passed": len(res.passed),
                "regressions": [r.line() for r in res.regressions],
                "latency_regressions": sum(r.what.startswith("latency") for r in res.regressions),
            }
            how = "cross-class" if res.cross_class else "own class"
            print(f"{key} [{how}]: {len(res.passed)} rows passed, {len(res.regressions)} regression(s)")
            for line in verdicts[key]["regressions"]:
                print(f"    REGRESSION {line}")
    if a.json:
        a.json.write_text(json.dumps({"spread": spread, "verdicts": verdicts}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
