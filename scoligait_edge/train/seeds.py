"""Teacher and student over several seeds, with intervals: ``python -m scoligait_edge.train.seeds``.

Each seed trains the reference teacher recipe and distils the reference student from it
(`scoligait_edge.train.reference`, with ``train.seed`` replaced), evaluates both on the test
split and stores ``<work>/seed<N>/result.json``; seeds can run in separate processes and a
later ``--summarize`` reads every result. The summary gives, over seeds, the mean and a 95 %
t-interval of teacher AUC, student AUC, their paired gap, decision agreement and top-10
explanation overlap, plus a subject-level bootstrap interval of each AUC on the test split
(test-set noise, seed 0), so "the teacher is better" can be judged against both noises.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

METRICS = ("teacher_auc", "student_auc", "auc_drop", "decision_agreement", "top10_feature_overlap")


def interval(values: list[float]) -> dict[str, float]:
    """Mean, sample std and 95 % t-interval half-width of ``values``."""
    from scipy.stats import t

    a = np.asarray(values, dtype=np.float64)
    n = len(a)
    sd = float(a.std(ddof=1)) if n > 1 else float("nan")
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else float("nan")
    return {"mean": float(a.mean()), "std": sd, "ci95": half, "n": n}


def bootstrap_auc(
    label: np.ndarray, prob: np.ndarray, subject: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """AUC and its 95 % percentile interval, resampling test *subjects* (clips of one child stay together)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    subs = np.unique(subject)
    rows = {s: np.flatnonzero(subject == s) for s in subs}
    aucs = []
    for _ in range(n_boot):
        idx = np.concatenate([rows[s] for s in rng.choice(subs, len(subs), replace=True)])
        if len(np.unique(label[idx])) == 2:
            aucs.append(roc_auc_score(label[idx], prob[idx]))
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return {"auc": float(roc_auc_score(label, prob)), "lo": float(lo), "hi": float(hi)}


def run_seed(data: Path, work: Path, seed: int, over_t: dict, over_s: dict, threads: int) -> dict[str, Any]:
    """Train teacher + student for ``seed`` (reusing checkpoints already in ``work``), evaluate, store."""
    import torch

    from scoligait_edge.models import load_model
    from scoligait_edge.train.batches import get_windows
    from scoligait_edge.train.distill import distill, distillation_gaps
    from scoligait_edge.train.evaluate import clip_level, predict_windows
    from scoligait_edge.train.reference import evaluate_pair, recipe
    from scoligait_edge.train.teacher import train_teacher

    torch.set_num_threads(threads)
    d = work / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    tcfg, scfg = recipe("teacher", threads, seed, over_t), recipe("student", threads, seed, over_s)
    tp, sp = d / "teacher.pt", d / "student.pt"
    teacher = load_model(tp) if tp.exists() else train_teacher(data, tcfg, tp)[0]
    student = load_model(sp) if sp.exists() else distill(teacher, data, sp, scfg)[0]
    te, se = evaluate_pair(teacher, student, data, "test", tcfg, scfg)
    gaps = distillation_gaps(teacher, student, data, "test", evals=(te, se))
    ws = get_windows(data, "test")
    boot = {}
    for name, m in (("teacher", teacher), ("student", student)):
        c = clip_level(ws, predict_windows(m, ws))
        boot[name] = bootstrap_auc(np.asarray(c["label"]), np.asarray(c["prob"]), np.asarray(c["subject_id"]))
    res = {
        "seed": seed,
        "teacher_config": tcfg,
        "student_config": scfg,
        **gaps,
        "teacher_eval": te,
        "student_eval": se,
        "bootstrap": boot,
    }
    (d / "result.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return res


def summarize(work: Path) -> dict[str, Any]:
    """Intervals over every ``<work>/seed*/result.json``; also written to ``<work>/summary.{json,md}``."""
    results = sorted(
        (json.loads(p.read_text()) for p in work.glob("seed*/result.json")), key=lambda r: r["seed"]
    )
    if not results:
        raise SystemExit(f"no seed*/result.json under {work}")
    summary = {m: interval([r[m] for r in results]) for m in METRICS}
    summary["seeds"] = [r["seed"] for r in results]
    summary["bootstrap_first_seed"] = results[0]["bootstrap"]
    summary["per_seed"] = [{"seed": r["seed"], **{m: r[m] for m in METRICS}} for r in results]
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (work / "summary.md").write_text(markdown(summary), encoding="utf-8")
    return summary


def markdown(s: dict[str, Any]) -> str:
    """The summary as a small markdown table (mean ± 95 % half-width over seeds)."""
    names = {
        "teacher_auc": "Teacher AUC",
        "student_auc": "Student AUC",
        "auc_drop": "Teacher − student AUC",
        "decision_agreement": "Clip decision agreement",
        "top10_feature_overlap": "Top-10 explanation overlap",
    }
    lines = [
        f"Seeds {', '.join(map(str, s['seeds']))}: mean ± 95 % t-interval half-width (std).",
        "",
        "| Metric | Mean ± CI | Std | " + " | ".join(f"seed {x}" for x in s["seeds"]) + " |",
        "|---|---|---|" + "---|" * len(s["seeds"]),
    ]
    for m, label in names.items():
        iv = s[m]
        cells = " | ".join(f"{r[m]:.3f}" for r in s["per_seed"])
        lines.append(f"| {label} | {iv['mean']:.3f} ± {iv['ci95']:.3f} | {iv['std']:.3f} | {cells} |")
    b = s["bootstrap_first_seed"]
    lines += [
        "",
        f"Test-set noise (seed {s['seeds'][0]}, 1000 subject-level bootstrap resamples): teacher AUC "
        f"{b['teacher']['auc']:.3f} [{b['teacher']['lo']:.3f}, {b['teacher']['hi']:.3f}], student AUC "
        f"{b['student']['auc']:.3f} [{b['student']['lo']:.3f}, {b['student']['hi']:.3f}].",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset directory (reference recipe)")
    ap.add_argument("--work", type=Path, required=True, help="where seed*/ checkpoints and results go")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds to run here")
    ap.add_argument("--teacher", default="{}", help="JSON overrides of the teacher recipe")
    ap.add_argument("--student", default="{}", help="JSON overrides of the student recipe")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--summarize", action="store_true", help="only summarise the results in --work")
    a = ap.parse_args(argv)
    if not a.summarize:
        for s in (int(x) for x in a.seeds.split(",") if x.strip()):
            r = run_seed(a.data, a.work, s, json.loads(a.teacher), json.loads(a.student), a.threads)
            print(f"seed {s}: " + "  ".join(f"{m} {r[m]:.3f}" for m in METRICS), flush=True)
    print(markdown(summarize(a.work)))


if __name__ == "__main__":
    main()
