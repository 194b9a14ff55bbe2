"""The demo job: synthesize clips, compute + stream knowledge maps, screen them with the shipped
student, explain one, export the student to INT8 and check the bundle against PyTorch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from scoligait_edge.errors import OutputExistsError

console = Console(stderr=False, highlight=False)
MARKER = ".scoligait-demo"


def stream_windows(pose: np.ndarray, fps: float, hop: int = 16) -> list[tuple[int, np.ndarray]]:
    """Push every frame through the streaming buffer; return ``(end_frame, window)`` pairs."""
    from scoligait_edge.kmap import StreamingKnowledgeMap

    stream = StreamingKnowledgeMap(window=96, hop=hop, fps=fps)
    out = []
    for t, frame in enumerate(pose):
        w = stream.push(frame)
        if w is not None:
            out.append((t + 1, w))
    return out


def run_demo(
    out: str | Path,
    subjects: int = 12,
    frames: int = 192,
    seed: int = 7,
    export_target: str = "onnx",
    force: bool = False,
) -> dict[str, Any]:
    """Run the demo into ``out`` and return a summary dict (also written as ``summary.json``)."""
    from scoligait_edge.data.dataset import load_index, read_index_clip
    from scoligait_edge.data.progress import track
    from scoligait_edge.data.synth import make_dataset
    from scoligait_edge.kmap.render import save_heatmap
    from scoligait_edge.models import load_default_student
    from scoligait_edge.screen.explain import clip_inputs, explain_clip

    out = Path(out)
    if out.exists():
        if not force:
            raise OutputExistsError(f"{out} already exists", "pass --force or choose another --out")
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise OutputExistsError(
                f"{out} exists and is not a demo output directory",
                "choose another --out (nothing was touched)",
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("created by `scoligait-edge demo`; --force may replace this directory\n")

    console.rule("[bold]1. ScoliGait-Synth")
    data_dir = make_dataset(out / "data", subjects=subjects, clips_per_subject=2, frames=frames, seed=seed)
    index = load_index(data_dir)
    console.print(f"{len(index)} clips from {index['subject_id'].nunique()} subjects → {data_dir}")
    # screen the held-out clips; the training split only feeds INT8 calibration (step 4)
    index = index[index["split"] != "train"]

    console.rule("[bold]2. Knowledge maps: offline vs streaming")
    student = load_default_student()
    rows: list[dict[str, Any]] = []
    max_diff = 0.0
    n_windows = 0
    explained: dict[str, Any] | None = None
    for _, row in track(index.iterrows(), len(index), "screening clips"):
        clip = read_index_clip(row)
        kmap, sil, pids = clip_inputs(clip)  # the offline map, computed once
        for end, window in stream_windows(clip.pose, clip.fps):
            max_diff = max(max_diff, float(np.abs(window - kmap[end - 96 : end]).max()))
            n_windows += 1
        result = explain_clip(student, kmap, sil, pids)
        top = result["top_features"]["crosscorr"][0] if result["top_features"].get("crosscorr") else {}
        best = max((f for fs in result["top_features"].values() for f in fs), key=lambda f: f["score"])
        rows.append(
            {
                "clip_id": row["clip_id"],
                "subject_id": row["subject_id"],
                "cobb_angle": float(row["cobb_angle"]),
                "label": int(row["label"]),
                "referral_prob": result["referral_prob"],
                "refer": result["refer"],
                "top_feature": best["label"],
                "top_crosscorr": top.get("label", ""),
            }
        )
        if explained is None or result["referral_prob"] > explained["referral_prob"]:
            explained = {**result, "clip": clip, "kmap": kmap, "clip_id": row["clip_id"]}
    console.print(f"{n_windows} streamed windows, max |stream − offline| = {max_diff:.2e}")

    table = Table(title="Shipped student on held-out ScoliGait-Synth clips (val + test)")
    for col in ("clip", "Cobb °", "label", "p(refer)", "decision", "strongest feature"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["clip_id"],
            f"{r['cobb_angle']:.1f}",
            "refer" if r["label"] else "no",
            f"{r['referral_prob']:.3f}",
            "[red]refer[/]" if r["refer"] else "[green]no referral[/]",
            r["top_feature"],
        )
    console.print(table)
    acc = float(np.mean([r["refer"] == bool(r["label"]) for r in rows]))
    console.print(f"decision accuracy on these {len(rows)} clips: {acc:.2f} (small sample; see `evaluate`)")

    console.rule("[bold]3. Explanation")
    assert explained is not None
    heatmap = save_heatmap(
        explained["kmap"],
        out / "kmap_saliency.png",
        title=f"{explained['clip_id']}: p(refer)={explained['referral_prob']:.2f}",
        saliency=explained["saliency"],
        fps=explained["clip"].fps,
    )
    explanation = {k: v for k, v in explained.items() if k not in ("saliency", "clip", "kmap")}
    (out / "explanation.json").write_text(json.dumps(explanation, indent=2))
    for domain, feats in explained["top_features"].items():
        f = feats[0]
        console.print(f"  {domain:10s} {f['label']}  ({f['seconds'][0]:.1f}–{f['seconds'][1]:.1f} s)")
    console.print(f"heatmap with saliency → {heatmap}")

    export_summary: dict[str, Any] = {}
    if export_target != "none":
        console.rule(f"[bold]4. INT8 export ({export_target})")
        export_summary = _export_step(student, export_target, out, data_dir)

    summary = {
        "out": str(out),
        "clips": len(rows),
        "windows_streamed": n_windows,
        "stream_max_abs_diff": max_diff,
        "decision_accuracy": acc,
        "heatmap": str(heatmap),
        "rows": rows,
        "export": export_summary,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _export_step(student: Any, target: str, out: Path, data_dir: Path) -> dict[str, Any]:
    """Export the student to INT8 with a calibration set from the demo data; print the parity report."""
    from scoligait_edge.errors import ParityError
    from scoligait_edge.export import export_model, load_bundle
    from scoligait_edge.runtime.lanes import LANES
    from scoligait_edge.runtime.parity import summary
    from scoligait_edge.runtime.verify import verify_in_lane

    bundle = export_model(
        student, target, precision="int8", out=out / f"student_{target}_int8", calib=data_dir
    )
    runner = load_bundle(bundle)
    manifest = runner.manifest
    parity = manifest.get("parity", {})
    size = sum(f.stat().st_size for f in Path(bundle).iterdir() if f.is_file())
    console.print(f"bundle → {bundle} ({size / 1024:.0f} KiB)")
    console.print(
        f"parity vs PyTorch on {parity.get('windows')} held-out windows ({parity.get('data', '')}):"
    )
    for name in ("kernels", "numerics", "kernel_gap"):
        console.print(f"  {name:<10} {summary(parity[name])}", markup=False)
    lanes = [verify_in_lane(bundle, lane) for lane in LANES]
    for r in lanes:
        result = "skipped" if r.get("passed") is None else ("PASS" if r["passed"] else "FAIL")
        cls = (r.get("cpu") or {}).get("device_class", "?")
        why = f": {r['skipped']}" if r.get("skipped") else ""
        console.print(f"  verify in lane {r['lane']:<9} [{cls}] {result}{why}", markup=False)
    if any(r.get("passed") is False for r in lanes):
        raise ParityError(
            f"the demo's INT8 bundle fails its golden vectors in lane(s) "
            f"{', '.join(r['lane'] for r in lanes if r.get('passed') is False)}",
            f"run `scoligait-edge verify {bundle} --lane all` for the figures",
        )
    return {"bundle": str(bundle), "bytes": size, "parity": parity, "lanes": lanes}
