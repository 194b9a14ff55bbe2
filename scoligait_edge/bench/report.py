"""The benchmark's JSON report: a versioned schema, one object per row under ``rows``.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "kind": "scoligait-edge-bench",
      "created_utc": "...", "toolkit_version": "...",
      "machine": {...machine_info()...}, "load_average": [1m, 5m, 15m],
      "settings": {"threads": [1, 2], "quick": true, "timing": {...}, "reference": "...",
                   "model": "student", "targets": [...], "precisions": [...], "eval": {...}},
      "reference": {"name": ..., "description": ..., "latency": {"1": {...}, "2": {...}}},
      "peak": {"1": {"flop_per_s": ...}, "2": {...}},
      "flops": {"student": int, "teacher": int},
      "goals": [{"row", "speedup_vs_teacher", "speedup_vs_fp32", "agreement", "*_ok"}, ...],
      "rows": [Row.to_dict(), ...]
    }

Latency entries (``Row.latency[threads]``) hold ``median_ms, p90_ms, mean_ms, reps, rounds,
ci95_rel`` and ``ratio`` = row latency / reference-workload latency in the same run.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scoligait_edge.errors import InputFileError

SCHEMA_VERSION = 1
REPORT_KIND = "scoligait-edge-bench"

#: Row statuses and how the table shows them.
PASSED, PARITY_FAILED, FAILED, UNAVAILABLE = "passed", "parity_failed", "failed", "unavailable"
STATUS_ICON = {PASSED: "✅", PARITY_FAILED: "❎", FAILED: "❌", UNAVAILABLE: "⏭"}
STATUS_WORD = {PASSED: "passed", PARITY_FAILED: "parity failed", FAILED: "failed", UNAVAILABLE: "unavailable"}


@dataclass
class Row:
    """One line of the table: a model artifact (target × precision) or a pipeline stage."""

    id: str  #: stable key the gate matches rows by, e.g. ``student/onnx/int8``
    kind: str  #: ``model`` | ``pipeline``
    label: str  #: what the table's first column says
    target: str = ""
    precision: str = ""
    unit: str = "window"  #: latency is per ``window`` (one inference) or per ``frame``
    status: str = PASSED
    reason: str | None = None
    size_bytes: int | None = None
    latency: dict[str, dict[str, float]] = field(default_factory=dict)  #: threads → stats
    throughput: dict[str, float] | None = None  #: {"batch", "threads", "items_per_s"}
    speedup_vs_teacher: dict[str, float] = field(default_factory=dict)  #: threads → ×
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)  #: vs_teacher / vs_student_fp32
    floors: dict[str, dict[str, float]] = field(default_factory=dict)  #: floors the status was judged by
    flops: int | None = None
    achieved: dict[str, dict[str, float]] = field(default_factory=dict)  #: threads → flop/s, % of peak
    gate: dict[str, Any] = field(default_factory=dict)  #: gate settings: own tolerance, latency not gated
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def median_ms(self, threads: int | str) -> float | None:
        v = self.latency.get(str(threads), {}).get("median_ms")
        return None if v is None or _bad(v) else float(v)

    def ratio(self, threads: int | str) -> float | None:
        v = self.latency.get(str(threads), {}).get("ratio")
        return None if v is None or _bad(v) else float(v)


@dataclass
class BenchRun:
    """A whole run: machine, settings, reference workload, physical reference and rows."""

    rows: list[Row] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    peak: dict[str, dict[str, float]] = field(default_factory=dict)
    flops: dict[str, int] = field(default_factory=dict)
    goals: list[dict[str, Any]] = field(default_factory=list)
    load_average: list[float] | None = None
    created_utc: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    toolkit_version: str = ""
    duration_s: float | None = None

    def row(self, row_id: str) -> Row | None:
        return next((r for r in self.rows if r.id == row_id), None)

    @property
    def threads(self) -> list[int]:
        return [int(t) for t in self.settings.get("threads", [])]

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": REPORT_KIND,
                "created_utc": self.created_utc,
                "toolkit_version": self.toolkit_version,
                "duration_s": self.duration_s,
                "machine": self.machine,
                "load_average": self.load_average,
                "settings": self.settings,
                "reference": self.reference,
                "peak": self.peak,
                "flops": self.flops,
                "goals": self.goals,
                "rows": [r.to_dict() for r in self.rows],
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "report") -> BenchRun:
        if not isinstance(d, dict) or d.get("kind") != REPORT_KIND:
            raise InputFileError(
                f"{source} is not a scoligait-edge bench report",
                "pass a file written by `scoligait-edge bench --json`",
            )
        ver = d.get("schema_version")
        if ver != SCHEMA_VERSION:
            raise InputFileError(
                f"{source} has bench schema version {ver}, this toolkit reads {SCHEMA_VERSION}",
                "re-run `scoligait-edge bench --json` (or `bench baseline --update`) with this version",
            )
        try:
            rows = [Row.from_dict(r) for r in d.get("rows", [])]
        except TypeError as e:
            raise InputFileError(f"{source} has a malformed row ({e})", "regenerate the report") from None
        return cls(
            rows=rows,
            machine=d.get("machine", {}),
            settings=d.get("settings", {}),
            reference=d.get("reference", {}),
            peak=d.get("peak", {}),
            flops=d.get("flops", {}),
            goals=d.get("goals", []),
            load_average=d.get("load_average"),
            created_utc=d.get("created_utc", ""),
            toolkit_version=d.get("toolkit_version", ""),
            duration_s=d.get("duration_s"),
        )


def _bad(v: Any) -> bool:
    return isinstance(v, float) and (math.isnan(v) or math.isinf(v))


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, tuples lists, numpy scalars Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        try:
            obj = obj.item()
        except (ValueError, TypeError):
            return str(obj)
    if isinstance(obj, float) and _bad(obj):
        return None
    return obj


def to_json(run: BenchRun) -> str:
    return json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_json(run: BenchRun, path: str | Path, force: bool = False) -> Path:
    """Write the report atomically (refuses to replace an existing file unless ``force``)."""
    from scoligait_edge.fileio import atomic_write_text

    return atomic_write_text(path, to_json(run), force=force)


def read_json(path: str | Path) -> BenchRun:
    """Read a report, refusing anything that is not a bench report of this schema version."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(
            f"bench report {p} does not exist", "check the path or create it with `bench --json`"
        )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(
            f"{p} is not valid JSON ({e.__class__.__name__})", "regenerate the report"
        ) from None
    return BenchRun.from_dict(data, source=str(p))
