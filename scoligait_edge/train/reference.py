"""Reproduce the shipped reference checkpoints: ``python -m scoligait_edge.train.reference``.

Generates ScoliGait-Synth with a fixed seed, trains the teacher, distils the student,
evaluates both (clip level, threshold from val) and writes into ``--out`` (default: the
package's ``assets/models``): ``teacher.pt/.json``, ``student.pt/.json``,
``teacher_eval.json``, ``student_eval.json`` (with the distillation gaps and FLOP ratio).
Single-threaded by default so the run is deterministic on one machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

#: The fixed recipe of the shipped checkpoints (issue 13: 1200 subjects so the 240-subject test split
#: resolves ±0.02 AUC; mirrored clips and a 32-frame training hop; dropout 0.3 and weight decay 0.1 on
#: the teacher, which otherwise memorises the training subjects after one or two epochs). Both models
#: read posture tokens (window-mean silhouette and its left–right antisymmetric part: the rib hump the
#: 17 keypoints do not see) — the pair with the highest decision agreement over seeds (docs/models.md).
DATA = {"subjects": 1200, "clips_per_subject": 2, "frames": 192, "seed": 2026}
AUGMENT: dict[str, Any] = {"mirror": True, "train_hop": 32}
TEACHER: dict[str, Any] = {
    "model": {"dropout": 0.3, "video_posture": True},
    "train": {
        "epochs": 4,
        "batch_size": 32,
        "lr": 3e-4,
        "patience": 2,
        "km_noise": 0.1,
        "weight_decay": 0.1,
        "seed": 0,
        **AUGMENT,
    },
}
#: the shipped student is the trade-off table's pick (docs/tradeoff): pixel-shuffle 2×2 merge of the
#: knowledge-map tokens before a single joint block, plus the posture token
STUDENT: dict[str, Any] = {
    "model": {"merge": [2, 2], "merge_at": 0, "depth": 1, "video_posture": True},
    "train": {"epochs": 10, "batch_size": 32, "lr": 2e-3, "patience": 4, "seed": 0, **AUGMENT},
    "distill": {"alpha": 0.9},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in one level deep (sections ``model`` / ``train`` / ``distill``)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in over.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


def recipe(
    which: str, threads: int, seed: int | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``"teacher"`` or ``"student"`` training config: the fixed recipe, ``overrides`` merged in,
    with ``threads`` (and ``seed`` when given) set — what `build` and the seed study both train."""
    base = {"teacher": TEACHER, "student": STUDENT}[which]
    cfg = _merge(base, overrides or {})
    cfg["train"] = {**cfg["train"], "threads": threads, **({} if seed is None else {"seed": seed})}
    return cfg


def evaluate_pair(
    teacher: Any, student: Any, data: Any, split: str, tcfg: dict[str, Any], scfg: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`evaluate` of teacher and student on ``split``, each at its recipe's operating point
    (``train.operating_sensitivity``; Youden's J when absent)."""
    from scoligait_edge.train.evaluate import evaluate

    def sens(cfg: dict[str, Any]) -> float:
        return float(cfg["train"].get("operating_sensitivity", 0.0))

    return (
        evaluate(teacher, data, split, sensitivity=sens(tcfg)),
        evaluate(student, data, split, sensitivity=sens(scfg)),
    )


def build(out: Path, data_dir: Path | None, threads: int, force: bool) -> dict[str, Any]:
    import torch

    from scoligait_edge.data.synth import make_dataset
    from scoligait_edge.fileio import atomic_write_text
    from scoligait_edge.models import count_flops
    from scoligait_edge.train.distill import distill, distillation_gaps
    from scoligait_edge.train.teacher import train_teacher

    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    tmp = None
    if data_dir is None:
        tmp = Path(tempfile.mkdtemp(prefix="scoligait-ref-"))
        data_dir = tmp / "synth"
    try:
        if not (data_dir / "index.csv").exists():
            make_dataset(data_dir, **DATA)
        t0 = time.time()
        tcfg, scfg = recipe("teacher", threads), recipe("student", threads)
        teacher, _ = train_teacher(data_dir, tcfg, out / "teacher.pt", force=force)
        t1 = time.time()
        student, _ = distill(teacher, data_dir, out / "student.pt", scfg, force=force)
        t2 = time.time()
        te, se = evaluate_pair(teacher, student, data_dir, "test", tcfg, scfg)
        te_val, se_val = evaluate_pair(teacher, student, data_dir, "val", tcfg, scfg)
        gaps = distillation_gaps(teacher, student, data_dir, "test", evals=(te, se))
        flops_t, flops_s = count_flops(teacher), count_flops(student)
        from scoligait_edge.data.synth import GENERATOR_VERSION
        from scoligait_edge.kmap import catalog_hash
        from scoligait_edge.models.text import prompts_hash

        made_by = {
            "generator": GENERATOR_VERSION,
            "catalog_hash": catalog_hash(),
            "prompts_hash": prompts_hash(),
            "torch": torch.__version__,
            "data": DATA,
            "teacher": TEACHER,
            "student": STUDENT,
            "threads": threads,
            "command": "python -m scoligait_edge.train.reference",
        }
        te.update(
            recipe=made_by,
            flops=flops_t,
            params=teacher.n_params(),
            train_seconds=round(t1 - t0, 1),
            val_metrics=te_val,
        )
        se.update(
            recipe=made_by,
            flops=flops_s,
            params=student.n_params(),
            train_seconds=round(t2 - t1, 1),
            flop_ratio=flops_t / flops_s,
            distillation=gaps,
            val_metrics=se_val,
        )
        atomic_write_text(out / "teacher_eval.json", json.dumps(te, indent=2) + "\n", force=True)
        atomic_write_text(out / "student_eval.json", json.dumps(se, indent=2) + "\n", force=True)
        return {"teacher": te, "student": se}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    from scoligait_edge.models.checkpoint import ASSET_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ASSET_DIR, help="output directory")
    ap.add_argument("--data", type=Path, default=None, help="reuse/generate the dataset here")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="replace existing checkpoints")
    a = ap.parse_args(argv)
    res = build(a.out, a.data, a.threads, a.force)
    for name, m in res.items():
        print(
            f"{name}: AUC {m['auc']:.3f}  Acc {m['accuracy']:.3f}  "
            f"F1 {m['macro_f1']:.3f}  MAE {m['cobb_mae']:.2f}"
        )
    print(json.dumps(res["student"]["distillation"], indent=2))


if __name__ == "__main__":
    main()
