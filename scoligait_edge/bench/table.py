"""Render a ``BenchRun`` as one rich table (terminal) or GitHub Markdown (same cells)."""

from __future__ import annotations

import math
from typing import Any

from scoligait_edge.bench.report import STATUS_ICON, STATUS_WORD, BenchRun, Row

REASON_CHARS = 72


def fmt_size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if n < 100 * scale else f"{n / scale:.0f} {unit}"
    return f"{n} B"


def fmt_ms(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.1f}{unit}"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def fmt_pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def fmt_delta(v: float | None) -> str:
    return "—" if v is None else f"{v:+.3f}"


def fmt_sci(v: float | None) -> str:
    if v is None:
        return "—"
    if v == 0:
        return "0"
    return f"{v:.1e}" if v < 1e-2 else f"{v:.3f}"


def headers(run: BenchRun) -> list[str]:
    th = run.threads or [1]
    lat = [f"ms @{t}thr med/p90" for t in th]
    return [
        "row",
        "target",
        "prec",
        "size",
        *lat,
        "per s",
        "× teacher" + (f" @{th[0]}/{th[-1]}thr" if len(th) > 1 else ""),
        "vs teacher: agree·AUCΔ·F1Δ",
        "vs FP32 student: agree·AUCΔ·max|Δp|",
        "status",
    ]


def row_cells(run: BenchRun, r: Row) -> list[str]:
    th = run.threads or [1]
    lat = []
    for t in th:
        e = r.latency.get(str(t))
        lat.append(f"{fmt_ms(e.get('median_ms'))} / {fmt_ms(e.get('p90_ms'))}" if e else "—")
    tp = r.throughput
    tput = (
        "—"
        if not tp
        else f"{fmt_rate(tp['items_per_s'])}" + (f" (b{tp['batch']})" if tp["batch"] > 1 else "")
    )
    if r.unit != "window" and tp:
        tput = f"{fmt_rate(tp['items_per_s'])} {r.unit}s"
    sp = [r.speedup_vs_teacher.get(str(t)) for t in (th[0], th[-1])] if r.speedup_vs_teacher else []
    speed = " / ".join(f"{v:.1f}×" for v in dict.fromkeys(sp) if v is not None) if sp else "—"
    if len(th) > 1 and len(sp) == 2 and all(v is not None for v in sp):
        speed = f"{sp[0]:.1f}× / {sp[1]:.1f}×"
    vt = r.parity.get("vs_teacher")
    vs = r.parity.get("vs_student_fp32")
    vt_s = (
        f"{fmt_pct(vt['agreement'], 2)} · {fmt_delta(vt['auc_delta'])} · {fmt_delta(vt['f1_delta'])}"
        if vt
        else "—"
    )
    vs_s = (
        f"{fmt_pct(vs['agreement'], 2)} · {fmt_delta(vs['auc_delta'])} · {fmt_sci(vs['max_abs_dprob'])}"
        if vs
        else "—"
    )
    status = f"{STATUS_ICON[r.status]} {STATUS_WORD[r.status]}"
    if r.reason:  # the table keeps it short; the JSON report has the whole reason
        why = r.reason if len(r.reason) <= REASON_CHARS else r.reason[: REASON_CHARS - 1] + "…"
        status += f" ({why})"
    return [
        r.label,
        r.target or "—",
        r.precision or "—",
        fmt_size(r.size_bytes),
        *lat,
        tput,
        speed,
        vt_s,
        vs_s,
        status,
    ]


def footer_lines(run: BenchRun) -> list[str]:
    """Physical reference, reference workload, eval set and machine, one line each."""
    lines: list[str] = []
    m = run.machine
    if m:
        from scoligait_edge.bench.machine import cpu_class

        vnni = "AVX-512 VNNI" if m.get("avx512_vnni") else "no AVX-512 VNNI"
        lines.append(
            f"machine: {m.get('cpu_model', '?')}, CPU class {cpu_class(m)}, {m.get('usable_cores', '?')}"
            f" usable cores, {vnni}; load avg {run.load_average}"
        )
    ref = run.reference
    if ref:
        lat = ", ".join(f"{t} thr {fmt_ms(v.get('median_ms'))} ms" for t, v in ref.get("latency", {}).items())
        lines.append(f"reference workload ({ref.get('name')}): {ref.get('description')} — {lat}")
    for who, flops in run.flops.items():
        line = f"{who}: {fmt_rate(flops)}FLOP per window"
        row = next((r for r in run.rows if r.flops == flops and r.achieved), None)
        if who == "student":
            best = _best_achieved(run)
            if best:
                row, t, a = best
                pk = run.peak.get(t, {}).get("flop_per_s")
                line += (
                    f"; fastest ({row.label}, {t} thr) achieves {fmt_rate(a['flop_per_s'])}FLOP/s"
                    f" = {fmt_pct(a.get('peak_fraction'), 2)} of the measured fp32 matmul peak"
                    f" {fmt_rate(pk)}FLOP/s"
                )
        elif row:
            t, a = next(iter(row.achieved.items()))
            frac = fmt_pct(a.get("peak_fraction"), 2)
            line += f"; achieves {fmt_rate(a['flop_per_s'])}FLOP/s at {t} thr ({frac} of peak)"
        lines.append(line)
    if "student" in run.flops and "teacher" in run.flops and run.flops["student"]:
        lines.append(f"FLOP ratio teacher / student: {run.flops['teacher'] / run.flops['student']:.1f}×")
    from scoligait_edge.bench.goals import goal_lines

    lines += goal_lines(run)
    ev = run.settings.get("eval")
    if ev:
        lines.append(
            f"parity set: {ev.get('source')} ({ev.get('n')} windows, {ev.get('positives')} positive)"
        )
    return lines


def _best_achieved(run: BenchRun) -> tuple[Row, str, dict[str, Any]] | None:
    best = None
    for r in run.rows:
        if r.kind != "model" or r.flops != run.flops.get("student"):
            continue
        for t, a in r.achieved.items():
            if best is None or a["flop_per_s"] > best[2]["flop_per_s"]:
                best = (r, t, a)
    return best


def render_rich(run: BenchRun, title: str = "scoligait-edge bench"):
    """A ``rich.table.Table`` (model rows, then a section of pipeline rows)."""
    from rich.table import Table

    hdr = headers(run)
    tab = Table(title=title, caption="\n".join(footer_lines(run)), caption_justify="left", show_lines=False)
    for i, h in enumerate(hdr):
        numeric = 3 <= i < len(hdr) - 3
        tab.add_column(h, justify="right" if numeric else "left", overflow="fold")
    models = [r for r in run.rows if r.kind == "model"]
    stages = [r for r in run.rows if r.kind != "model"]
    for r in models:
        tab.add_row(*row_cells(run, r), style=_style(r))
    if stages:
        tab.add_section()
        for r in stages:
            tab.add_row(*row_cells(run, r), style=_style(r))
    return tab


def _style(r: Row) -> str | None:
    return {"failed": "red", "parity_failed": "yellow", "unavailable": "dim"}.get(r.status)


def render_markdown(run: BenchRun, title: str = "scoligait-edge bench") -> str:
    """The same table as GitHub Markdown, with the footer lines as a list below it."""
    hdr = headers(run)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = [f"### {title}", "", "| " + " | ".join(hdr) + " |", "|" + "|".join("---" for _ in hdr) + "|"]
    for r in run.rows:
        out.append("| " + " | ".join(esc(c) for c in row_cells(run, r)) + " |")
    out.append("")
    out += [f"- {line}" for line in footer_lines(run)]
    return "\n".join(out) + "\n"
