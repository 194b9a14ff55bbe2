"""CI regression gate: latency *ratios* and parity floors of a run against a baseline of its CPU class.

Latency is compared as ``row / reference workload`` measured interleaved in the same run,
divided by the same ratio in the baseline: a uniformly slower or busier machine scales
both and cancels. A row regresses when that relative ratio grows by more than
``tolerance`` (default 25 %), when its parity falls below a floor, or when a row that
passed in the baseline fails, disappears or becomes unavailable.

Ratios do **not** transfer between CPU classes (``machine.cpu_class``): AVX-512, VNNI and AMX
speed the reference workload and each runtime up by different factors (Zen 3 vs Zen 4 moved
unchanged rows by +30 … +115 %). So baselines are kept per class (``benchmarks/baselines/
<class>.json``, ``choose_baseline``), and a machine whose class has none is still gated
against the nearest class under the **cross-class rules** (``compare(cross_class=True)``):
each row's change is judged against the median change of the *other* gated rows of the same
run and against the change of the anchor row (the teacher: fixed weights) — the machine's
shift moves them all and cancels, a row that moved apart from them regresses — within
``CROSS_CLASS_TOLERANCE``; parity floors and statuses are judged exactly as on the row's own
class. The tolerance covers the spread measured between the committed classes
(``cross_class_spread``; a test keeps it honest when a baseline is added).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scoligait_edge.bench.machine import UNKNOWN_CLASS, class_distance, cpu_class
from scoligait_edge.bench.report import PARITY_FAILED, PASSED, UNAVAILABLE, BenchRun, Row
from scoligait_edge.errors import BenchmarkRegressionError, InputFileError, ScoliGaitError
from scoligait_edge.runtime.parity import check_floors

#: The rows ``bench check`` measures (``bench baseline --update`` records exactly these): the two
#: PyTorch references, ONNX Runtime FP32 and one INT8 row per runtime family — ORT/MLAS,
#: OpenVINO/oneDNN, LiteRT/XNNPACK, whose INT8 kernels differ per CPU class — and the streaming
#: product path (kmap push; kmap + the ORT INT8 model per window). ORT-mobile (ORT's kernels
#: again), the other FP32 rows, ExecuTorch (a 2½-minute INT8 export on Zen 3) and MediaPipe
#: pose (latency not gateable) stay in the full ``bench`` table and in the tests.
GATE_ROWS = (
    "teacher/pytorch/fp32",
    "student/pytorch/fp32",
    "student/onnx/fp32",
    "student/onnx/int8",
    "student/openvino/int8",
    "student/litert/int8",
    "pipeline/kmap-stream",
    "pipeline/e2e-kmap+model",
)
#: Where ``bench check`` / ``bench baseline --update`` look for and write ``<cpu class>.json``.
BASELINE_DIR = Path("benchmarks/baselines")

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
#: Cross-class rules (no baseline for this CPU class): a row's ratio change may exceed the
#: median change of the other gated rows, and the change of the anchor row, by this much. Above
#: the largest such shift measured between any two committed classes (``cross_class_spread``:
#: +54 % and +40 %) and in live checks here against the other classes' baselines (+40 %, +38 %).
CROSS_CLASS_TOLERANCE = 0.70
#: The anchor: fixed weights, and no student or exporter change moves it, so a slowdown shared by
#: every student row (which the peers' median would absorb) still stands out against it.
ANCHOR_ROW = "teacher/pytorch/fp32"


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
    baseline_class: str = UNKNOWN_CLASS
    current_class: str = UNKNOWN_CLASS
    cross_class: bool = False  #: judged under the cross-class rules (baseline of another CPU class)

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
    runs: BenchRun | list[BenchRun],
    tolerance: float = DEFAULT_TOLERANCE,
    gate_threads=DEFAULT_GATE_THREADS,
    rows: list[str] | tuple[str, ...] | None = None,
) -> BenchRun:
    """Turn one or more runs of the same configuration and CPU class into a baseline.

    Ratios are the median over the runs; a row whose ratio scattered by more than half the
    tolerance between the runs gets its own, wider tolerance (``NOISE_FACTOR`` × its spread,
    at most ``MAX_ROW_TOLERANCE``), recorded in ``row.gate`` and named by the gate's output.
    Parity floors against the teacher are recorded in ``row.floors``. ``rows`` keeps only
    those row ids (e.g. ``GATE_ROWS``); the result is slimmed to what the gate reads.
    A row that failed parity in the runs keeps its status: the gate then gates its latency
    and status but not its parity (a *known* failure, named in every check's notes).
    """
    runs = [runs] if isinstance(runs, BenchRun) else list(runs)
    classes = sorted({cpu_class(r.machine) for r in runs})
    if len(classes) > 1:
        raise ScoliGaitError(
            f"the runs come from different CPU classes ({', '.join(classes)})",
            "make one baseline per class from runs of that class",
        )
    base = combine(runs, "median") if len(runs) > 1 else BenchRun.from_dict(runs[0].to_dict())
    # re-slimming an existing baseline keeps the number of runs it was made from
    repeats = len(runs) if len(runs) > 1 else int(runs[0].settings.get("gate", {}).get("baseline_repeats", 1))
    if rows is not None:
        keep = set(rows)
        base.rows = [r for r in base.rows if r.id in keep]
    base.machine = {**base.machine, "cpu_class": classes[0]}
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
            row.gate.update({"spread": spread, "repeats": max(repeats, len(vals))})
            if own > tolerance:
                row.gate["tolerance"] = own
        # what the gate never reads: keeps the committed files small
        row.throughput, row.achieved, row.notes = None, {}, []
    base.goals = []
    base.settings["gate"] = {
        "tolerance": tolerance,
        "threads": [int(t) for t in gate_threads],
        "baseline_repeats": repeats,
        "rows": [r.id for r in base.rows],
    }
    return base


def rows_to_measure(baseline: BenchRun) -> list[str]:
    """The row ids a check must measure to be judged against ``baseline`` (those it gates)."""
    return [r.id for r in baseline.rows if r.status in (PASSED, PARITY_FAILED)]


# ------------------------------------------------------------------------- choosing a baseline


@dataclass
class BaselineChoice:
    """Which baseline a machine of ``for_class`` is gated against, and whether across classes."""

    path: Path
    run: BenchRun
    cpu_class: str  #: the baseline's class
    for_class: str  #: the class of the machine (or recorded run) being gated
    available: list[str] = field(default_factory=list)  #: classes with a baseline where we looked
    directory: Path | None = None

    @property
    def exact(self) -> bool:
        return self.cpu_class == self.for_class

    def notice(self) -> str | None:
        """One line saying the gate runs under the cross-class rules, and how to end that."""
        if self.exact:
            return None
        where = self.directory or self.path.parent
        rules = (
            f"a row may grow +{CROSS_CLASS_TOLERANCE:.0%} more than the median of the other gated rows"
            f" and than {ANCHOR_ROW}; parity floors and statuses unchanged"
        )
        if self.directory is not None:
            head = (
                f"no baseline for CPU class {self.for_class} in {self.directory}"
                f" (have: {', '.join(self.available) or 'none'}): gating against the nearest,"
                f" {self.cpu_class}, under the cross-class rules ({rules})"
            )
        else:
            head = (
                f"baseline {self.path} is for CPU class {self.cpu_class}, this is {self.for_class}:"
                f" gating under the cross-class rules ({rules})"
            )
        return (
            f"{head} — for the strict gate on this class run `scoligait-edge bench baseline --update`"
            f" (writes {where / (self.for_class + '.json')}) and commit it"
        )


def load_baselines(directory: Path) -> dict[str, tuple[Path, BenchRun]]:
    """Every ``<cpu class>.json`` baseline in ``directory``, by class (names must match contents)."""
    from scoligait_edge.bench.report import read_json

    out: dict[str, tuple[Path, BenchRun]] = {}
    for p in sorted(Path(directory).glob("*.json")):
        run = read_json(p)
        cls = cpu_class(run.machine)
        if p.stem != cls:
            raise InputFileError(
                f"{p} holds a baseline measured on CPU class {cls}, not {p.stem}",
                f"rename it to {p.with_name(cls + '.json')} (one baseline per class)",
            )
        out[cls] = (p, run)
    return out


def choose_baseline(path: Path | str, for_class: str) -> BaselineChoice:
    """The baseline a machine of CPU class ``for_class`` is gated against.

    ``path`` is a baseline file (used as it is: the cross-class rules apply if its class differs)
    or a directory of ``<class>.json`` files: this class's file, else the nearest class's
    (``machine.class_distance``: ISA tiers apart, then vendor). Never "no baseline, pass".
    """
    from scoligait_edge.bench.report import read_json

    p = Path(path)
    if p.is_file() or p.suffix == ".json":
        run = read_json(p)
        return BaselineChoice(p, run, cpu_class(run.machine), for_class)
    found = load_baselines(p) if p.is_dir() else {}
    if not found:
        raise InputFileError(
            f"no benchmark baselines in {p} (the gate would compare nothing)",
            "measure one on this machine with `scoligait-edge bench baseline --update` and commit it,"
            " or pass --baseline FILE",
        )
    best = min(found, key=lambda c: (class_distance(for_class, c), c))
    bpath, run = found[best]
    return BaselineChoice(bpath, run, best, for_class, sorted(found), directory=p)


def build_notes(baseline: BenchRun, settings: dict) -> list[str]:
    """Notes when the baseline was measured for another student or other export code."""
    out = []
    for key, what in (("student_sha256", "student weights"), ("exporter_sha256", "export/calibration code")):
        b, c = baseline.settings.get(key), settings.get(key)
        if b and c and b != c:
            out.append(
                f"baseline measured with other {what} ({key} {b[:12]} vs this build's {c[:12]}):"
                " if the change is intended, regenerate it with `scoligait-edge bench baseline --update`"
            )
    return out


# ------------------------------------------------------------------------------------ comparing


def compare(
    baseline: BenchRun,
    current: BenchRun,
    tolerance: float | None = None,
    threads: list[int] | None = None,
    cross_class: bool | None = None,
) -> GateResult:
    """Every regression of ``current`` against ``baseline`` (nothing raised; see ``check``).

    ``cross_class`` (default: whether the two runs' CPU classes differ) applies the cross-class
    latency rules; parity and statuses are judged the same way either way.
    """
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
    b_cls, c_cls = cpu_class(baseline.machine), cpu_class(current.machine)
    cross = (b_cls != c_cls) if cross_class is None else bool(cross_class)
    res = GateResult(baseline_class=b_cls, current_class=c_cls, cross_class=cross)
    judged: list[tuple[Row, Row]] = []
    for b in baseline.rows:
        c = current.row(b.id)
        if b.status not in (PASSED, PARITY_FAILED):
            res.notes.append(f"{b.id}: not gated (baseline status {b.status})")
            continue
        if c is None:
            res.regressions.append(
                Regression(b.id, "missing", f"from the current run (it was {b.status} in the baseline)")
            )
            continue
        if c.status == UNAVAILABLE and c.kind == "pipeline":  # e.g. no sample video on this machine
            res.notes.append(f"{b.id}: not gated, unavailable here ({c.reason})")
            continue
        ok = (PASSED, PARITY_FAILED) if b.status == PARITY_FAILED else (PASSED,)
        if c.status not in ok:
            why = f" ({c.reason})" if c.reason else ""
            res.regressions.append(Regression(b.id, "status", f"{b.status} → {c.status}{why}"))
            continue
        if b.status == PARITY_FAILED:
            res.notes.append(
                f"{b.id}: known parity failure in the baseline ({b.reason}); latency and status gated,"
                + (" parity not" if c.status == PARITY_FAILED else " and it passes parity now")
                + " — regenerate the baseline once it is fixed"
            )
        judged.append((b, c))
    changes = _changes(judged, gate_threads)
    other_weights = weights_differ(baseline, current)
    if other_weights:
        res.notes.append(
            "vs-teacher parity not gated: the baseline was measured with other student weights, and its"
            " vs-teacher floors describe that student (runtime parity vs the student's own FP32 is gated)"
            " — regenerate the baseline with `scoligait-edge bench baseline --update`"
        )
    for b, c in judged:
        bad = _latency(b, c, gate_threads, tol, res, changes, cross)
        if b.status == PASSED:
            bad += _parity(b, c, vs_teacher=not other_weights)
        res.regressions += bad
        if not bad:
            res.passed.append(b.id)
    for c in current.rows:
        if baseline.row(c.id) is None:
            res.notes.append(f"{c.id}: new row, not in the baseline (not gated)")
    if not res.passed and not res.regressions:
        res.regressions.append(
            Regression(
                "(gate)",
                "nothing compared",
                "no baseline row could be judged against this run (a gate that compares nothing cannot fail)",
            )
        )
    return res


def _changes(judged: list[tuple[Row, Row]], threads: list[int]) -> dict[tuple[str, int], float]:
    """``ratio_now / ratio_baseline`` of every latency-gated row, per thread setting."""
    out = {}
    for b, c in judged:
        if b.gate.get("latency") is False:
            continue
        for t in threads:
            rb, rc = b.ratio(t), c.ratio(t)
            if rb and rc:
                out[(b.id, t)] = rc / rb
    return out


def _latency(
    b: Row,
    c: Row,
    threads: list[int],
    tol: float,
    res: GateResult,
    changes: dict[tuple[str, int], float],
    cross: bool,
) -> list[Regression]:
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
        ms = f"median {_ms(b.median_ms(t))} → {_ms(c.median_ms(t))} ms"
        if cross:
            out += _cross_latency(b.id, t, rb, rc, tol, ms, changes, res)
        elif change > tol:
            out.append(
                Regression(
                    b.id,
                    f"latency@{t}thr",
                    f"+{change:.0%} vs baseline (ratio to reference {rb:.3g} → {rc:.3g};"
                    f" tolerance +{tol:.0%}; {ms})",
                )
            )
        else:
            res.notes.append(f"{b.id}: latency@{t}thr {change:+.0%} (ok)")
    return out


def _cross_latency(
    row_id: str,
    t: int,
    rb: float,
    rc: float,
    tol: float,
    ms: str,
    changes: dict[tuple[str, int], float],
    res: GateResult,
) -> list[Regression]:
    """Cross-class rules: the row's change against its peers' median change and the anchor's change.

    Both cancel the machine's shift (it moves every row) and leave the row's own regression.
    """
    change = rc / rb
    peers = [v for (rid, tt), v in changes.items() if tt == t and rid != row_id]
    anchor = changes.get((ANCHOR_ROW, t)) if row_id != ANCHOR_ROW else None
    xtol = max(tol, CROSS_CLASS_TOLERANCE)
    what, seen = f"latency@{t}thr", []
    ref = f"ratio to reference {rb:.3g} → {rc:.3g} ({change - 1:+.0%})"
    if peers:
        med = float(np.median(peers))
        rel = change / med - 1.0
        seen.append(f"{rel:+.0%} vs the other gated rows")
        if rel > xtol:
            return [
                Regression(
                    row_id,
                    what,
                    f"+{rel:.0%} vs the other {len(peers)} gated rows (their median change {med - 1:+.0%};"
                    f" cross-class tolerance +{xtol:.0%}; {ref}; {ms})",
                )
            ]
    if anchor:
        rel = change / anchor - 1.0
        seen.append(f"{rel:+.0%} vs {ANCHOR_ROW}")
        if rel > xtol:
            return [
                Regression(
                    row_id,
                    what,
                    f"+{rel:.0%} vs {ANCHOR_ROW} (its change {anchor - 1:+.0%}; cross-class tolerance"
                    f" +{xtol:.0%}; {ref}; {ms})",
                )
            ]
    if not seen:  # nothing of this run to judge the row against across classes: say so, loudly
        return [Regression(row_id, what, "no other gated row to compare with across CPU classes")]
    res.notes.append(f"{row_id}: {what} {', '.join(seen)} (ok across classes; {ref})")
    return []


def cross_class_spread(runs: dict[str, BenchRun], threads: int = 1) -> dict[str, dict]:
    """How far unchanged rows move between CPU classes: for every ordered pair of runs (current,
    baseline), each row's ratio change (``raw``), its change relative to the median change of the
    other rows (``peer``) and relative to the anchor row's change (``anchor``).

    Returns ``{"A vs B": {"raw_max", "peer_max", "anchor_max", "rows": {id: {...}}}}`` (fractions,
    0.3 = +30 %). ``CROSS_CLASS_TOLERANCE`` must stay above every ``peer_max`` and ``anchor_max``.
    """
    out: dict[str, dict] = {}
    for a, ra in runs.items():
        for b, rb in runs.items():
            if a == b:
                continue
            ok = (PASSED, PARITY_FAILED)
            ch = {}
            for row in rb.rows:
                cur = ra.row(row.id)
                if cur is None or row.status not in ok or cur.status not in ok:
                    continue
                if row.gate.get("latency") is False:
                    continue
                x, y = row.ratio(threads), cur.ratio(threads)
                if x and y:
                    ch[row.id] = y / x
            rows = {}
            for rid, v in ch.items():
                peers = [w for k, w in ch.items() if k != rid]
                anchor = ch.get(ANCHOR_ROW) if rid != ANCHOR_ROW else None
                rows[rid] = {
                    "raw": v - 1,
                    "peer": v / float(np.median(peers)) - 1 if peers else None,
                    "anchor": v / anchor - 1 if anchor else None,
                }

            def top(key: str, rows=rows) -> float | None:
                return max((r[key] for r in rows.values() if r[key] is not None), default=None)

            out[f"{a} vs {b}"] = {
                "raw_max": top("raw"),
                "peer_max": top("peer"),
                "anchor_max": top("anchor"),
                "rows": rows,
            }
    return out


def weights_differ(baseline: BenchRun, current: BenchRun) -> bool:
    """Whether both runs name their student weights (``student_sha256``) and they differ."""
    b, c = baseline.settings.get("student_sha256"), current.settings.get("student_sha256")
    return bool(b and c and b != c)


def _parity(b: Row, c: Row, vs_teacher: bool = True) -> list[Regression]:
    out = []
    for key in ("vs_student_fp32", "vs_teacher") if vs_teacher else ("vs_student_fp32",):
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


def check(
    baseline: BenchRun,
    current: BenchRun,
    tolerance: float | None = None,
    threads=None,
    cross_class: bool | None = None,
) -> GateResult:
    """``compare`` and raise ``BenchmarkRegressionError`` naming every regressed row and by how much."""
    res = compare(baseline, current, tolerance, threads, cross_class)
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
