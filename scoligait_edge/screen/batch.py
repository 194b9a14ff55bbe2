"""Batch screening: many inputs → one result directory each + ``results.csv``; resumable, fault-tolerant.

An input already screened with the same bundle (same manifest sha256 in its ``result.json``) is
skipped; an input that fails (corrupt video, no person, bad clip) becomes a row with its one-line
error and the batch goes on. ``results.csv`` is rewritten atomically after every input.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.fileio import atomic_write_text
from scoligait_edge.screen.pipeline import Screener
from scoligait_edge.screen.sources import screen_one

COLUMNS = (
    "input",
    "output",
    "status",
    "verdict",
    "referral_prob",
    "threshold",
    "cobb_deg",
    "failed_checks",
    "windows",
    "realtime_factor",
    "bundle_sha256",
    "seconds",
    "error",
)


def out_names(items: list[str | int]) -> list[str]:
    """A unique directory name per input (its stem; ``_2``, ``_3`` … on collisions)."""
    seen: dict[str, int] = {}
    out = []
    for it in items:
        stem = f"camera{it}" if isinstance(it, int) else Path(str(it)).stem or "input"
        k = seen.get(stem, 0) + 1
        seen[stem] = k
        out.append(stem if k == 1 else f"{stem}_{k}")
    return out


def _row(item: Any, out: Path, data: dict[str, Any] | None, error: str = "", seconds: float = 0.0) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row |= {"input": str(item), "output": str(out), "seconds": round(seconds, 3)}
    if data is None:
        return row | {"status": "error", "error": error}
    return row | {
        "status": "screened",
        "verdict": data["verdict"],
        "referral_prob": "" if data["referral_prob"] is None else round(data["referral_prob"], 6),
        "threshold": data["threshold"],
        "cobb_deg": ""
        if data["cobb_angle"]["estimate_deg"] is None
        else round(data["cobb_angle"]["estimate_deg"], 2),
        "failed_checks": ";".join(r["check"] for r in data["reasons"]),
        "windows": len(data["windows"]),
        "realtime_factor": data["timing"]["realtime_factor"] or "",
        "bundle_sha256": data["bundle"].get("manifest_sha256") or "",
    }


SKIPPED = "skipped (already screened)"
#: What one bad input may raise: it becomes that input's row, never the end of the batch.
INPUT_ERRORS = (ScoliGaitError, OSError, ValueError, RuntimeError, MemoryError)


def error_line(e: BaseException) -> str:
    """The one-line error a results row carries."""
    if isinstance(e, ScoliGaitError):
        return e.line()
    return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


def previous_result(d: Path, sha: str | None) -> dict[str, Any] | None:
    """``d/result.json`` when it was made with the bundle of manifest sha256 ``sha`` (resume), else None."""
    prev = d / "result.json"
    if not sha or not prev.is_file():
        return None
    try:
        data = json.loads(prev.read_text())
        return data if data.get("bundle", {}).get("manifest_sha256") == sha else None
    except (OSError, json.JSONDecodeError, AttributeError):
        return None  # unreadable old result: screen again


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS))
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue(), force=True)


def run_batch(
    items: list[str | int],
    screener: Screener,
    out_dir: Path,
    *,
    force: bool = False,
    include_frames: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    **kw: Any,
) -> list[dict[str, Any]]:
    """Screen ``items`` into ``out_dir/<name>/`` and ``out_dir/results.csv``; return the rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sha = screener.bundle_info.get("manifest_sha256")
    rows: list[dict[str, Any]] = []
    for item, name in zip(items, out_names(items), strict=True):
        d = out_dir / name
        t0 = time.perf_counter()
        data = None if force else previous_result(d, sha)
        if data is not None:
            rows.append(_row(item, d, data) | {"status": SKIPPED})
            write_csv(rows, out_dir / "results.csv")
            if on_result:
                on_result(rows[-1])
            continue
        try:
            res = screen_one(item, screener, include_frames=include_frames, **kw)
            res.save(d, force=True, include_frames=include_frames)
            rows.append(_row(item, d, res.data, seconds=time.perf_counter() - t0))
        except INPUT_ERRORS as e:  # a broken file, never the batch
            rows.append(_row(item, d, None, error_line(e), time.perf_counter() - t0))
        write_csv(rows, out_dir / "results.csv")
        if on_result:
            on_result(rows[-1])
    return rows
