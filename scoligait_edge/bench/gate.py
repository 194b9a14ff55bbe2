"""CI regression gate: latency *ratios* and parity floors of a run against a committed baseline.

Latency is compared as ``row / reference workload`` measured interleaved in the same run,
divided by the same ratio in the baseline: a uniformly slower or busier machine scales
both and cancels. A row regresses when that relative ratio grows by more than
``tolerance`` (default 25 %), when its parity falls below a floor, or when a row that
passed in the baseline fails, disappears or becomes unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoligait_edge.bench.parity import check_floors
from scoligait_edge.bench.report import PASSED, UNAVAILABLE, BenchRun, Row
from scoligait_edge.errors import BenchmarkRegressionError, ScoliGaitError

DEFAULT_TOLERANCE = 0.25
#: Thread settings gated by default: one thread. All-thread latency on a shared machine depends
#: on whether the other cores are free, which a single-threaded reference cannot cancel.
DEFAULT_GATE_THREADS = (1,)
#: vs-teacher floors written into a baseline: the measured value minus this slack.
TEACHER_SLACK = {"agreement": 0.02, "auc_delta": 0.02, "f1_delta": 0.05}
#: A row whose ratio spread s between the baseline's repeated runs is gated at max(tolerance, 2·s)…
NOISE_FACTOR = 2.0
#: …but never looser than +100 %.
MAX_ROW_TOLERANCE = 1.0


@dataclass
class Regression:
    row_id: str
    what: str
    detail: str

    def line(self) -> str:
        return f"{self.row_id}: {self.what} {self.detail}"


@dataclass
class GateResult:
    regressions: list[Regression] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.regressions


def teacher_floors(row: Row) -> dict[str, float]:
    """Floors for a row's parity vs the teacher: what the baseline measured, minus a slack."""
    vt = row.parity.get("vs_teacher") or {}
    f: dict[str, float] = {}
    if vt.get("agreement") is not None:
        f["agreement_min"] = max(0.0, vt["agreement"] - TEACHER_SLACK["agreement"])
    if vt.get("auc_delta") is not None:
        f["auc_delta_min"] = vt["auc_delta"] - TEACHER_SLACK["auc_delta"]
    if vt.get("f1_delta") is not None:
        f["f1_delta_min"] = vt["f1_delta"] - TEACHER_SLACK["f1_delta"]
    return f


def combine(runs: list[BenchRun], how: str = "median") -> BenchRun:
    """The first run with each row's latency ratio replaced by the ``median`` or ``min`` over ``runs``.

    ``median`` makes a baseline from repeated runs; ``min`` merges a check with its confirmation
    re-runs (a real slowdown is slow every time; a noise spike rarely repeats). The per-run
    ratios are kept as ``ratio_runs``.
    """
    out = BenchRun.from_dict(runs[0].to_dict())
    for row in out.rows:
        for t, lat in row.latency.items():
            vals = [v for r in runs if (x := r.row(row.id)) is not None and (v := x.ratio(t)) is not None]
            if vals:
                lat["ratio"] = float(np.median(vals)) if how == "median" else float(min(vals))
                lat["ratio_runs"] = vals
    return out


def make_baseline(
    runs: BenchRun | list[BenchRun], tolerance: float = DEFAULT_TOLERANCE, gate_threads=DEFAULT_GATE_THREADS
) -> BenchRun:
    """Turn one or more runs of the same configuration into a baseline.

    Ratios are the median over the runs; a row whose ratio scattered by more than half the
    tolerance between the runs gets its own, wider tolerance (``NOISE_FACTOR`` × its spread,
    at most ``MAX_ROW_TOLERANCE``), recorded in ``row.gate`` and named by the gate's output.
    Parity floors against the teacher are recorded in ``row.floors``.
    """
    runs = [runs] if isinstance(runs, BenchRun) else list(runs)
    base = combine(runs, "median") if len(runs) > 1 else BenchRun.from_dict(runs[0].to_dict())
    threads = [str(int(t)) for t in gate_threads]
    for row in base.rows:
        if row.status == PASSED and row.parity.get("vs_teacher"):
            row.floors["vs_teacher"] = teacher_floors(row)
        spreads = []
        for t in threads:
            vals = row.latency.get(t, {}).get("ratio_runs") or []
            if len(vals) > 1 and min(vals) > 0:
                spreads.append(max(vals) / min(vals) - 1)
        if spreads:
            spread = max(spreads)
            own = min(MAX_ROW_TOLERANCE, NOISE_FACTOR * spread)
            row.gate.update({"spread": spread, "repeats": len(runs)})
            if own > tolerance:
                row.gate["tolerance"] = own
    base.settings["gate"] = {
        "tolerance": tolerance,
        "threads": [int(t) for t in gate_threads],
        "baseline_repeats": len(runs),
    }
    return base


def compare(
    baseline: BenchRun,
    current: BenchRun,
    tolerance: float | None = None,
    threads: list[int] | None = None,
) -> GateResult:
    """Every regression of ``current`` against ``baseline`` (nothing raised; see ``check``)."""
    gate = baseline.settings.get("gate", {})
    tol = float(tolerance if tolerance is not None else gate.get("tolerance", DEFAULT_TOLERANCE))
    if not tol > 0:
        raise ScoliGaitError(f"tolerance {tol} must be positive", "pass e.g. --tolerance 0.25")
    gate_threads = [int(t) for t in (threads or gate.get("threads") or DEFAULT_GATE_THREADS)]
    b_ref, c_ref = baseline.reference.get("name"), current.reference.get("name")
    if b_ref != c_ref:
        raise ScoliGaitError(
            f"baseline ratios are to reference workload {b_ref!r}, this run's to {c_ref!r}",
            "rerun with the baseline's --reference or rewrite it with `bench baseline --update`",
        )
    res = GateResult()
    for b in baseline.rows:
        c = current.row(b.id)
        if b.status != PASSED:
            res.notes.append(f"{b.id}: not gated (baseline status {b.status})")
            continue
        if c is None:
            res.regressions.append(
                Regression(b.id, "missing", "from the current run (it passed in the baseline)")
            )
            continue
        if c.status == UNAVAILABLE and c.kind == "pipeline":  # e.g. no sample video on this machine
            res.notes.append(f"{b.id}: not gated, unavailable here ({c.reason})")
            continue
        if c.status != PASSED:
            why = f" ({c.reason})" if c.reason else ""
            res.regressions.append(Regression(b.id, "status", f"passed → {c.status}{why}"))
            continue
        bad = _latency(b, c, gate_threads, tol, res) + _parity(b, c)
        res.regressions += bad
        if not bad:
            res.passed.append(b.id)
    for c in current.rows:
        if baseline.row(c.id) is None:
            res.notes.append(f"{c.id}: new row, not in the baseline (not gated)")
    return res


def _latency(b: Row, c: Row, threads: list[int], tol: float, res: GateResult) -> list[Regression]:
    out = []
    if b.gate.get("latency") is False:
        res.notes.append(f"{b.id}: latency reported, not gated ({b.gate.get('why', 'see the row')})")
        return out
    own = b.gate.get("tolerance")
    if own is not None and own > tol:
        res.notes.append(
            f"{b.id}: noisy row, gated at +{own:.0%} (ratio spread {b.gate.get('spread', 0):.0%})"
        )
        tol = own
    for t in threads:
        rb, rc = b.ratio(t), c.ratio(t)
        if rb is None:
            continue
        if rc is None:
            out.append(Regression(b.id, f"latency@{t}thr", "not measured in the current run"))
            continue
        change = rc / rb - 1.0
        if change > tol:
            out.append(
                Regression(
                    b.id,
                    f"latency@{t}thr",
                    f"+{change:.0%} vs baseline (ratio to reference {rb:.3g} → {rc:.3g};"
                    f" tolerance +{tol:.0%}; median {_ms(b.median_ms(t))} → {_ms(c.median_ms(t))} ms)",
                )
            )
        else:
            res.notes.append(f"{b.id}: latency@{t}thr {change:+.0%} (ok)")
    return out


def _parity(b: Row, c: Row) -> list[Regression]:
    out = []
    for key in ("vs_student_fp32", "vs_teacher"):
        floors = b.floors.get(key) or (teacher_floors(b) if key == "vs_teacher" else None)
        metrics = c.parity.get(key)
        if not floors or metrics is None:
            if floors and b.parity.get(key) is not None:
                out.append(Regression(b.id, f"parity {key}", "not measured in the current run"))
            continue
        for v in check_floors(metrics, floors):
            out.append(Regression(b.id, f"parity {key}", v))
    return out


def _ms(v: float | None) -> str:
    return "?" if v is None else f"{v:.3g}"


def check(baseline: BenchRun, current: BenchRun, tolerance: float | None = None, threads=None) -> GateResult:
    """``compare`` and raise ``BenchmarkRegressionError`` naming every regressed row and by how much."""
    res = compare(baseline, current, tolerance, threads)
    raise_if_regressed(res)
    return res


def latency_only(res: GateResult) -> bool:
    """True when every regression is a latency one (the only kind a re-measurement can clear)."""
    return bool(res.regressions) and all(r.what.startswith("latency") for r in res.regressions)


def raise_if_regressed(res: GateResult) -> None:
    """Raise ``BenchmarkRegressionError`` (with ``.regressions``) if ``res`` has any."""
    if res.regressions:
        err = BenchmarkRegressionError(
            f"{len(res.regressions)} benchmark regression(s): "
            + "; ".join(r.line() for r in res.regressions),
            "fix the regression, or if it is intended run "
            "`scoligait-edge bench baseline --update` and commit it",
        )
        err.regressions = res.regressions  # type: ignore[attr-defined]
        raise err
