"""The project's speed/parity goals (issue 6), checked against a run's rows."""

from __future__ import annotations

from typing import Any

from scoligait_edge.bench.report import PASSED, BenchRun

INT8_VS_TEACHER = 20.0  #: student INT8 at least this many times faster than teacher FP32
INT8_VS_FP32 = 1.5  #: INT8 at least this many times faster than the FP32 student on the same runtime
AGREEMENT = 0.99  #: decision agreement of INT8 with the FP32 student


def check_goals(run: BenchRun) -> list[dict[str, Any]]:
    """One entry per INT8 row that ran: each goal's measured value and whether it is met (1 thread)."""
    th = str(min(run.threads or [1]))
    out = []
    for r in run.rows:
        if r.kind != "model" or r.precision != "int8" or r.status not in (PASSED, "parity_failed"):
            continue
        fp32 = run.row(r.id.rsplit("/", 1)[0] + "/fp32")
        vs_teacher = r.speedup_vs_teacher.get(th)
        vs_fp32 = None
        if fp32 is not None and fp32.median_ms(th) and r.median_ms(th):
            vs_fp32 = fp32.median_ms(th) / r.median_ms(th)
        agr = (r.parity.get("vs_student_fp32") or {}).get("agreement")
        out.append(
            {
                "row": r.id,
                "threads": int(th),
                "speedup_vs_teacher": vs_teacher,
                "speedup_vs_teacher_ok": None if vs_teacher is None else vs_teacher >= INT8_VS_TEACHER,
                "speedup_vs_fp32": vs_fp32,
                "speedup_vs_fp32_ok": None if vs_fp32 is None else vs_fp32 >= INT8_VS_FP32,
                "agreement": agr,
                "agreement_ok": None if agr is None else agr >= AGREEMENT,
            }
        )
    return out


def goal_lines(run: BenchRun) -> list[str]:
    """Human-readable goal lines for the table footer."""

    def mark(ok: bool | None) -> str:
        return "?" if ok is None else ("✅" if ok else "✗")

    lines = []
    for g in check_goals(run):
        t, f, a = g["speedup_vs_teacher"], g["speedup_vs_fp32"], g["agreement"]
        t_s = "—" if t is None else f"{t:.1f}×"
        f_s = "—" if f is None else f"{f:.2f}×"
        a_s = "—" if a is None else f"{a:.2%}"
        lines.append(
            f"goals {g['row']} @{g['threads']}thr: "
            f"{t_s} vs teacher (≥ {INT8_VS_TEACHER:g}× {mark(g['speedup_vs_teacher_ok'])}), "
            f"{f_s} vs its FP32 (≥ {INT8_VS_FP32:g}× {mark(g['speedup_vs_fp32_ok'])}), "
            f"agreement {a_s} (≥ {AGREEMENT:.0%} {mark(g['agreement_ok'])})"
        )
    return lines
