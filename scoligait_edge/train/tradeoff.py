"""Token-reduction trade-off: ``python -m scoligait_edge.train.tradeoff``.

Distils every student variant of `VARIANTS` from one teacher (default: the shipped one) on the
reference dataset, exports each to every runtime in ``--targets`` at FP32 and INT8 (the normal
verified export, so a variant whose INT8 graph fails parity is reported as such), and times all
artifacts *interleaved* in one run at 1 thread next to the teacher's FP32 (PyTorch and ONNX
Runtime). Writes ``tradeoff.json`` and ``tradeoff.md`` (the table of ``docs/models.md``).
Work is cached under ``--work``: a rerun reuses trained variants and bundles.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

#: variant -> student config overrides; ``from`` = reuse that variant's weights (inference-only ToMe)
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "pixel-shuffle 2×2 @0": {"merge": [2, 2], "merge_at": 0},
    "pixel-shuffle 2×2 @1": {"merge": [2, 2], "merge_at": 1},
    "pixel-shuffle 2×1 @0": {"merge": [2, 1], "merge_at": 0},
    "EViT keep 0.9 @1": {"keep": 0.9, "keep_at": [1]},
    "EViT keep 0.7 @1": {"keep": 0.7, "keep_at": [1]},
    "EViT keep 0.5 @1": {"keep": 0.5, "keep_at": [1]},
    "pixel-shuffle 2×2 @0 + EViT 0.7 @1": {"merge": [2, 2], "merge_at": 0, "keep": 0.7, "keep_at": [1]},
    "ToMe r=16 @1 (inference)": {"tome_r": 16, "from": "baseline"},
    "ToMe r=32 @1 (inference)": {"tome_r": 32, "from": "baseline"},
    "pixel-shuffle 2×2 @0, depth 1": {"merge": [2, 2], "merge_at": 0, "depth": 1},
    "pixel-shuffle 2×2 @0, depth 1, posture": {
        "merge": [2, 2],
        "merge_at": 0,
        "depth": 1,
        "video_posture": True,
    },
    "baseline, video pool 2": {"video_pool": 2},
    "pixel-shuffle 2×2 @0, depth 1, video pool 2": {
        "merge": [2, 2],
        "merge_at": 0,
        "depth": 1,
        "video_pool": 2,
    },
}
PRECISIONS = ("fp32", "int8")


def slug(name: str) -> str:
    keep = [c if c.isalnum() else "-" for c in name.lower().replace("×", "x")]
    return "-".join(p for p in "".join(keep).split("-") if p)


def train_variants(
    teacher: Any,
    data: Path,
    work: Path,
    names: list[str],
    train: dict[str, Any],
    distill_weights: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Distil (or load the cached) student of each variant; ToMe variants reuse their base weights."""
    from scoligait_edge.models import Student, load_model, save_model, student_config
    from scoligait_edge.train.distill import distill

    out: dict[str, Any] = {}
    for name in names:
        spec = dict(VARIANTS[name])
        base = spec.pop("from", None)
        path = work / "models" / f"{slug(name)}.pt"
        if path.exists():
            out[name] = load_model(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        if base is not None:
            src = out.get(base) or load_model(work / "models" / f"{slug(base)}.pt")
            model = Student(student_config(**{**src.cfg.to_dict(), **spec}))
            model.load_state_dict(src.state_dict())
            model.eval()
            save_model(model, path, meta={"derived_from": base, "overrides": spec})
        else:
            cfg = {"model": spec, "train": train, "distill": distill_weights or {}}
            model, _ = distill(teacher, data, path, cfg, quiet=True)
        print(f"trained {name} in {time.time() - t0:.0f} s", flush=True)
        out[name] = model
    return out


def export_variants(
    models: dict[str, Any], data: Path, work: Path, targets: list[str]
) -> dict[tuple[str, str, str], Path | str]:
    """Verified bundles per (variant, target, precision); a failed export is kept as its message."""
    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.export import export_model
    from scoligait_edge.export.targets import get_target

    out: dict[tuple[str, str, str], Path | str] = {}
    for name, model in models.items():
        for target in targets:
            for precision in PRECISIONS:
                bdir = work / "bundles" / f"{slug(name)}_{target}_{precision}"
                err = bdir.with_suffix(".error")
                if bdir.exists():
                    out[(name, target, precision)] = bdir
                    continue
                if err.exists():
                    out[(name, target, precision)] = err.read_text(encoding="utf-8")
                    continue
                bdir.parent.mkdir(parents=True, exist_ok=True)
                try:
                    kw: dict[str, Any] = {"precision": precision, "parity_data": data}
                    if precision == "int8" and get_target(target).accepts("calib"):
                        kw["calib"] = data  # LiteRT's dynamic-range INT8 takes no calibration set
                    export_model(model, target, bdir, **kw)
                    out[(name, target, precision)] = bdir
                except ScoliGaitError as e:
                    err.write_text(str(e), encoding="utf-8")
                    out[(name, target, precision)] = str(e)
                print(
                    f"exported {name} {target} {precision}: {'ok' if bdir.exists() else 'FAILED'}", flush=True
                )
    return out


def time_all(
    teacher: Any, bundles: dict[tuple[str, str, str], Path | str], inputs: dict[str, Any], work: Path
) -> dict[str, float]:
    """1-thread medians (ms) of every bundle and of the teacher, timed interleaved in one run."""
    import torch

    from scoligait_edge.bench.sources import load_runner
    from scoligait_edge.bench.timing import TimingConfig, thread_limit, time_interleaved
    from scoligait_edge.export import export_model

    loads: dict[str, Any] = {}
    teacher_onnx = work / "bundles" / "teacher_onnx_fp32"
    if not teacher_onnx.exists():
        export_model(teacher, "onnx", teacher_onnx, precision="fp32", validate=False)
    with thread_limit(1):
        tin = {k: torch.from_numpy(v) for k, v in inputs.items()}
        loads["teacher/pytorch/fp32"] = lambda: teacher(**tin)
        runners = {"teacher/onnx/fp32": load_runner(teacher_onnx, 1)}
        for (name, target, precision), b in bundles.items():
            if isinstance(b, Path):
                runners[f"{name}/{target}/{precision}"] = load_runner(b, 1)
        for key, r in runners.items():
            loads[key] = lambda r=r: r.run(inputs)
        with torch.no_grad():
            timings = time_interleaved(loads, TimingConfig(max_time_s=120.0, min_time_s=1.0))
    return {k: t.median_s * 1e3 for k, t in timings.items()}


def evaluate_variants(teacher: Any, models: dict[str, Any], data: Path) -> dict[str, dict[str, Any]]:
    from scoligait_edge.models import count_flops
    from scoligait_edge.train.distill import distillation_gaps
    from scoligait_edge.train.evaluate import evaluate

    out = {}
    te = evaluate(teacher, data, "test")  # once, not once per variant
    for name, m in models.items():
        g = distillation_gaps(teacher, m, data, "test", evals=(te, evaluate(m, data, "test")))
        out[name] = {
            **g,
            "flops": count_flops(m),
            "params": m.n_params(),
            "tokens_per_block": m.tokens_per_block,
            "config": VARIANTS[name],
        }
    return out


def _failure(error: str | None) -> str:
    """Table cell of an artifact that was not timed: failed the parity gate, or failed to export."""
    if not error:
        return "—"
    return "parity ✗" if "disagrees with its reference" in error else "export ✗"


def markdown(rows: dict[str, dict[str, Any]], lat: dict[str, float], targets: list[str]) -> str:
    t_pt, t_ort = lat["teacher/pytorch/fp32"], lat["teacher/onnx/fp32"]
    head = ["Variant", "Tokens/block", "MFLOPs", "AUC", "ΔAUC", "Agree", "Top-10"]
    for t in targets:
        head += [f"{t} FP32 ms", f"{t} INT8 ms"]
    head += ["INT8 ORT × teacher ORT", "INT8 ORT × teacher PT"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows.items():
        cells = [
            name,
            "→".join(str(n) for n in r["tokens_per_block"]),
            f"{r['flops'] / 1e6:.1f}",
            f"{r['student_auc']:.3f}",
            f"{r['student_auc'] - r['teacher_auc']:+.3f}",  # not -auc_drop: no "-0.000"
            f"{100 * r['decision_agreement']:.1f}%",
            f"{r['top10_feature_overlap']:.2f}",
        ]
        for t in targets:
            for p in PRECISIONS:
                ms = lat.get(f"{name}/{t}/{p}")
                if ms is None:
                    cells.append(_failure(r["exports"].get(f"{t}/{p}")))
                else:
                    cells.append(f"{ms:.3f}")
        i8 = lat.get(f"{name}/onnx/int8")
        cells += ["—" if i8 is None else f"{t_ort / i8:.1f}×", "—" if i8 is None else f"{t_pt / i8:.1f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Teacher FP32, 1 thread: PyTorch {t_pt:.2f} ms, ONNX Runtime {t_ort:.2f} ms. "
        f"Teacher test AUC {next(iter(rows.values()))['teacher_auc']:.3f}. "
        "parity ✗: exported, but refused by the verified export's parity gate (reasons in tradeoff.json)."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import numpy as np
    import torch

    from scoligait_edge.data.synth import make_dataset
    from scoligait_edge.fileio import atomic_write_text
    from scoligait_edge.models import load_default_teacher, load_model
    from scoligait_edge.runtime import device
    from scoligait_edge.train.batches import get_windows
    from scoligait_edge.train.reference import DATA, STUDENT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".cache/tradeoff/synth"), help="reference dataset dir")
    ap.add_argument("--work", type=Path, default=Path(".cache/tradeoff"), help="cache of models/bundles")
    ap.add_argument("--out", type=Path, default=Path("docs/tradeoff"), help="where tradeoff.md/json go")
    ap.add_argument("--teacher", type=Path, default=None, help="teacher checkpoint (default: shipped)")
    ap.add_argument("--variants", default="all", help="semicolon-separated names (default: all)")
    ap.add_argument("--targets", default="onnx,openvino", help="runtimes to export and time")
    ap.add_argument("--phase", default="all", choices=("train", "export", "all"))
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = list(VARIANTS) if a.variants == "all" else [v.strip() for v in a.variants.split(";")]
    targets = [t.strip() for t in a.targets.split(",") if t.strip()]
    if not (a.data / "index.csv").exists():
        make_dataset(a.data, **DATA)
    teacher = load_model(a.teacher) if a.teacher else load_default_teacher()
    train = {**STUDENT["train"], "threads": 1}
    models = train_variants(teacher, a.data, a.work, names, train, STUDENT.get("distill"))
    if a.phase == "train":
        return
    bundles = export_variants(models, a.data, a.work, targets)
    if a.phase == "export":
        return
    ws = get_windows(a.data, "test")
    inputs = {k: np.ascontiguousarray(v) for k, v in ws.batch(slice(0, 1)).items()}
    rows = evaluate_variants(teacher, models, a.data)
    for name in rows:
        rows[name]["exports"] = {
            f"{t}/{p}": (None if isinstance(b, Path) else b) for (n, t, p), b in bundles.items() if n == name
        }
    lat = time_all(teacher, bundles, inputs, a.work)
    md = markdown(rows, lat, targets)
    cpu = device.describe()
    md += f"\nMeasured on {cpu}, `python -m scoligait_edge.train.tradeoff` ({time.strftime('%Y-%m-%d')}).\n"
    a.out.mkdir(parents=True, exist_ok=True)
    doc = {"cpu": cpu, "variants": rows, "latency_ms_1thread": lat, "targets": targets}
    atomic_write_text(a.out / "tradeoff.json", json.dumps(doc, indent=2, default=str) + "\n", force=True)
    atomic_write_text(a.out / "tradeoff.md", md, force=True)
    print(md)


if __name__ == "__main__":
    main()
