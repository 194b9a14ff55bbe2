"""INT8 parity of every export path against the PyTorch FP32 student, natively and in emulated CPU lanes.

Usage::

    .venv/bin/python benchmarks/lane_parity.py                       # everything, into out/lane_parity
    .venv/bin/python benchmarks/lane_parity.py --targets onnx,onnx-x86-vnni --lanes native,x86-avx2 \\
        --markdown lane_parity.md

For every INT8 path of the shipped student, exported with the CLI's defaults (synthetic
calibration; portable device class ``any``) — ``onnx`` (static QDQ), ``onnx-dynamic``,
``ort-mobile``, ``openvino``, ``tensorrt`` (its Q/DQ ONNX evaluated by ONNX Runtime with graph
optimizations off where no engine can run, as ``verify`` does), ``litert``, ``executorch`` — and
for the non-portable full-range U8S8 recipe (``onnx-x86-vnni``, ``ort-mobile-x86-vnni``:
``--device x86-vnni``), the decision agreement, max |Δprob| and max |Δlogit| against PyTorch
FP32 on the held-out windows (``resolve_heldout(None)``: the default synthetic val split) in each
lane (``native``, ``x86-avx2`` = qemu Haswell, ``arm64`` = qemu Cortex-A76).

Steps: (1) export the bundles into ``--out`` (a bundle is reused when its stamp says it was made
from the same student checkpoint and options); (2) save the held-out inputs and the PyTorch
outputs to ``--out/heldout.npz``; (3) in each lane run ``benchmarks/lane_worker.py`` (numpy + the
runtime only) per bundle, which writes its outputs to ``--out/outputs/<lane>-<bundle>.npz``;
(4) compare on the host with :func:`scoligait_edge.runtime.parity.compare`. A lane without a
bundle's runtime (OpenVINO or ExecuTorch in the arm64 lane) gives a skipped row with the reason.
Results also go to ``--out/results.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
WORKER = HERE / "lane_worker.py"

#: bundle key → (target, export options). Portable defaults first, then the non-portable recipe.
BUNDLES: dict[str, tuple[str, dict[str, Any]]] = {
    "onnx": ("onnx", {}),
    "onnx-dynamic": ("onnx", {"int8_mode": "dynamic"}),
    "ort-mobile": ("ort-mobile", {}),
    "openvino": ("openvino", {}),
    "tensorrt": ("tensorrt", {}),
    "litert": ("litert", {}),
    "executorch": ("executorch", {}),
    "onnx-x86-vnni": ("onnx", {"device": "x86-vnni"}),
    "ort-mobile-x86-vnni": ("ort-mobile", {"device": "x86-vnni"}),
}
LANES = ("native", "x86-avx2", "arm64")
STAMP_VERSION = 1


@dataclass
class Row:
    key: str
    lane: str
    target: str = ""
    recipe: str = ""
    made_for: str = ""
    status: str = "pending"  #: ok | skipped | error
    note: str = ""
    lane_class: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    worker: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def cells(self) -> list[str]:
        lane = f"{self.lane} ({self.lane_class})" if self.lane_class else self.lane
        if self.status != "ok":
            return [
                self.target,
                self.recipe,
                self.made_for,
                lane,
                "—",
                "—",
                "—",
                f"{self.status}: {self.note}",
            ]
        r = self.report
        agree = r["decision_agreement"]
        n = r["windows"]
        return [
            self.target,
            self.recipe,
            self.made_for,
            lane,
            f"{agree:.1%} ({round(agree * n)}/{n})",
            f"{r['max_abs_dprob']:.2e}",
            f"{r['outputs']['referral_logit']['max_abs']:.2e}",
            self.note,
        ]


HEADER = [
    "target",
    "recipe",
    "device class made for",
    "lane",
    "agreement",
    "max |Δprob|",
    "max |Δlogit|",
    "note",
]


def markdown(rows: list[Row]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [line(HEADER), "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += [line(r.cells()) for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ export ---


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp(key: str, student_sha: str) -> dict[str, Any]:
    from scoligait_edge.export.bundle import toolkit_version

    target, opts = BUNDLES[key]
    return {
        "version": STAMP_VERSION,
        "key": key,
        "target": target,
        "options": {"precision": "int8", **opts},
        "student_sha256": student_sha,
        "toolkit_version": toolkit_version(),
    }


def _reusable(path: Path, stamp_path: Path, want: dict[str, Any]) -> bool:
    from scoligait_edge.export.bundle import verify_bundle

    from scoligait_edge.errors import ScoliGaitError

    try:
        have = json.loads(stamp_path.read_text(encoding="utf-8"))
        verify_bundle(path)
    except (OSError, ValueError, ScoliGaitError):
        return False
    return have == want


def export_bundles(
    keys: list[str], out: Path, force: bool, progress: Any, model_box: dict[str, Any]
) -> dict[str, Path | str]:
    """Export (or reuse) each bundle; ``key → path`` or ``key → why it could not be made``."""
    from scoligait_edge.export import export_model, get_target
    from scoligait_edge.export import targets as T

    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.models.checkpoint import default_student_path
    from scoligait_edge.runtime import device

    student_sha = sha256(default_student_path())
    res: dict[str, Path | str] = {}
    task = progress.add_task("exporting bundles", total=len(keys))
    for key in keys:
        target, opts = BUNDLES[key]
        path, stamp_path = out / key, out / f"{key}.stamp.json"
        kw = dict(opts)
        recipe = get_target(target).recipe(kw.get("device", "any"))
        if recipe is not None and not recipe.portable and device.device_class() not in recipe.valid_on:
            # the export gate runs this machine's kernels, which the recipe is not made for
            kw["validate"] = False
        want = _stamp(key, student_sha) | {"validate": kw.get("validate", True)}
        if not force and _reusable(path, stamp_path, want):
            res[key] = path
            progress.update(task, advance=1, description=f"exporting bundles: reused {key}")
            continue
        ok = T.availability(target)
        if ok is not True:
            res[key] = f"cannot export {target} here: {ok}"
            progress.update(task, advance=1)
            continue
        if "model" not in model_box:
            from scoligait_edge.export import resolve_model

            progress.update(task, description="exporting bundles: loading the student")
            model_box["model"] = resolve_model(None)
        t0 = time.perf_counter()

        def step(s: str, key: str = key) -> None:
            progress.update(task, description=f"exporting {key}: {s}")

        try:
            export_model(model_box["model"], target, path, force=True, step=step, precision="int8", **kw)
        except Exception as e:  # one target failing to export is a row of the table, not a crash
            why = e.line() if isinstance(e, ScoliGaitError) else _short(str(e), 400)
            res[key] = f"export failed: {type(e).__name__}: {why}"
        else:
            stamp_path.write_text(json.dumps(want, indent=2), encoding="utf-8")
            res[key] = path
            progress.console.log(f"exported {key} in {time.perf_counter() - t0:.0f} s → {path}")
        progress.update(task, advance=1)
    progress.update(task, description="exporting bundles")
    return res


# --------------------------------------------------------------------------------- reference ---


def write_reference(out: Path, model_box: dict[str, Any], progress: Any) -> tuple[Path, dict[str, Any]]:
    """Held-out windows + PyTorch FP32 outputs → ``out/heldout.npz`` (plain arrays); its metadata."""
    from scoligait_edge.export import resolve_model
    from scoligait_edge.export.bundle import model_metadata
    from scoligait_edge.export.sources import resolve_heldout

    from scoligait_edge.contract import INPUT_NAMES
    from scoligait_edge.runtime.base import TorchRunner
    from scoligait_edge.runtime.parity import run_batched

    task = progress.add_task("PyTorch FP32 reference on the held-out windows", total=None)
    if "model" not in model_box:
        model_box["model"] = resolve_model(None)
    model = model_box["model"]
    info = model_metadata(model)
    held = resolve_heldout(None)
    n_prompts = info.get("n_prompts")
    pid = np.asarray(held["prompt_id"])
    if n_prompts and pid.size and int(pid.max()) >= int(n_prompts):
        raise SystemExit(
            f"held-out prompt ids reach {int(pid.max())} but the student has {n_prompts} prompts"
        )
    ref = run_batched(TorchRunner(model), {k: held[k] for k in INPUT_NAMES}, batch=16)
    arrays = {k: np.asarray(held[k]) for k in INPUT_NAMES}
    if held.get("labels") is not None:
        arrays["labels"] = np.asarray(held["labels"])
    arrays |= {f"ref_{k}": np.asarray(v) for k, v in ref.items()}
    path = out / "heldout.npz"
    tmp = out / "heldout.part.npz"
    np.savez(tmp, **arrays)
    tmp.replace(path)
    meta = {
        "source": held.get("source"),
        "windows": len(pid),
        "threshold": float(info["decision_threshold"]),
        "has_labels": "labels" in arrays,
    }
    progress.update(task, total=1, completed=1)
    return path, meta


def load_reference(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    with np.load(path, allow_pickle=False) as z:
        ref = {k[4:]: z[k] for k in z.files if k.startswith("ref_")}
        labels = z["labels"] if "labels" in z.files else None
    return ref, labels


# ------------------------------------------------------------------------------------- lanes ---


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _short(text: str, n: int = 240) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def run_job(
    lane: str,
    key: str,
    bundle: Path,
    inputs: Path,
    out: Path,
    batch: int,
    timeout: float,
    progress: Any,
    task: Any,
) -> tuple[dict[str, Any], Path | None]:
    """Run the worker for ``bundle`` in ``lane``; (its JSON report, the outputs file or None)."""
    from scoligait_edge.runtime import lanes

    (out / "outputs").mkdir(parents=True, exist_ok=True)
    (out / "progress").mkdir(parents=True, exist_ok=True)
    cand = (out / "outputs" / f"{lane}-{key}.npz").resolve()
    prog = (out / "progress" / f"{lane}-{key}.txt").resolve()
    cand.unlink(missing_ok=True)
    prog.unlink(missing_ok=True)
    argv = [str(WORKER), str(bundle.resolve()), str(inputs.resolve()), str(cand)]
    argv += ["--batch", str(batch), "--progress", str(prog)]
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["proc"] = lanes.run_in_lane(lane, argv, timeout=timeout)
        except subprocess.TimeoutExpired:
            box["timeout"] = True
        except Exception as e:  # LaneError and anything else: reported as the row's error
            box["exc"] = e

    th = threading.Thread(target=target, daemon=True)
    th.start()
    while th.is_alive():
        th.join(0.5)
        try:
            done, total = (int(v) for v in prog.read_text().split())
            progress.update(task, completed=done, total=total)
        except (OSError, ValueError):
            pass
    if box.get("timeout"):
        return {"status": "error", "error": f"timed out after {timeout:.0f} s"}, None
    if "exc" in box:
        e = box["exc"]
        from scoligait_edge.runtime.lanes import LaneError

        if isinstance(e, LaneError):
            return {"status": "skipped", "reason": f"lane cannot run: {e}"}, None
        return {"status": "error", "error": f"{type(e).__name__}: {e}"}, None
    proc: subprocess.CompletedProcess = box["proc"]
    rep = _last_json(proc.stdout)
    if rep is None:
        tail = _short(" ".join(proc.stderr.strip().splitlines()[-3:]))
        return {"status": "error", "error": f"worker exited {proc.returncode}: {tail}"}, None
    if rep.get("status") == "ok" and not cand.is_file():
        return {**rep, "status": "error", "error": "worker reported ok but wrote no outputs"}, None
    return rep, cand if rep.get("status") == "ok" else None


def _made(path: Path) -> tuple[str, str, str, list[str]]:
    """(target label, recipe, device class made for, where a non-portable recipe is valid) of a bundle."""
    from scoligait_edge.export.bundle import read_manifest

    man = read_manifest(path)
    target = man["target"]
    if man.get("options", {}).get("int8_mode") == "dynamic":
        target += " (dynamic)"
    elif target in ("onnx", "ort-mobile"):
        target += " (static QDQ)"
    recipe = man.get("int8_recipe") or {}
    valid_on = [] if recipe.get("portable") else list(recipe.get("valid_on", []))
    return target, recipe.get("name", "?"), man.get("device_class", "any"), valid_on


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/lane_parity"), help="bundles, arrays, results")
    ap.add_argument(
        "--targets",
        default=",".join(BUNDLES),
        help=f"comma-separated bundle keys (default all: {','.join(BUNDLES)})",
    )
    ap.add_argument("--lanes", default=",".join(LANES), help="comma-separated lanes (default all)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table (markdown) here")
    ap.add_argument(
        "--batch", type=int, default=None, help="windows per call (default: 16 native, 4 emulated)"
    )
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per (bundle, lane) run")
    ap.add_argument("--force-export", action="store_true", help="re-export even when a bundle is reusable")
    a = ap.parse_args(argv)

    from scoligait_edge.runtime import device, lanes
    from scoligait_edge.runtime.parity import compare

    keys = [k.strip() for k in a.targets.split(",") if k.strip()]
    bad = [k for k in keys if k not in BUNDLES]
    if bad or not keys:
        ap.error(f"unknown bundle key(s) {bad}: choose from {', '.join(BUNDLES)}")
    lane_names = [n.strip() for n in a.lanes.split(",") if n.strip()]
    bad = [n for n in lane_names if n not in lanes.LANES]
    if bad or not lane_names:
        ap.error(f"unknown lane(s) {bad}: choose from {', '.join(lanes.LANES)}")

    t_start = time.perf_counter()
    console = Console(stderr=True, highlight=False)
    host = device.describe()
    console.print(f"host CPU: {host}")
    a.out.mkdir(parents=True, exist_ok=True)
    model_box: dict[str, Any] = {}
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    rows: list[Row] = []
    with Progress(*columns, console=console, transient=False) as progress:
        made = export_bundles(keys, a.out, a.force_export, progress, model_box)
        inputs, meta = write_reference(a.out, model_box, progress)
        model_box.clear()
        ref, labels = load_reference(inputs)
        threshold = meta["threshold"]
        for lane in lane_names:
            for key in keys:
                rows.append(Row(key=key, lane=lane, target=BUNDLES[key][0]))
        overall = progress.add_task("lane runs", total=len(rows))
        avail = {n: lanes.availability(n) for n in lane_names}
        for row in rows:
            b = made[row.key]
            if isinstance(b, Path):
                row.target, row.recipe, row.made_for, valid_on = _made(b)
            else:
                row.status, row.note = "error", b
                progress.advance(overall)
                continue
            if avail[row.lane] is not True:
                row.status, row.note = "skipped", f"lane unavailable: {avail[row.lane]}"
                progress.advance(overall)
                continue
            emulated = lanes.get_lane(row.lane).emulated
            batch = a.batch or (4 if emulated else 16)
            task = progress.add_task(f"{row.lane}: {row.key}", total=meta["windows"])
            t0 = time.perf_counter()
            rep, cand = run_job(row.lane, row.key, b, inputs, a.out, batch, a.timeout, progress, task)
            row.seconds = time.perf_counter() - t0
            row.worker = rep
            row.lane_class = (rep.get("cpu") or {}).get("device_class", "")
            if rep.get("status") == "ok" and cand is not None:
                with np.load(cand, allow_pickle=False) as z:
                    out = {k: z[k] for k in z.files}
                row.report = compare(ref, out, threshold, labels)
                row.status = "ok"
                notes = [rep.get("ran", "")]
                if row.lane_class and valid_on and row.lane_class not in valid_on:
                    notes.append(f"recipe NOT valid on {row.lane_class}")
                row.note = "; ".join(n for n in notes if n)
                progress.console.log(
                    f"{row.lane} {row.key}: agreement {row.report['decision_agreement']:.1%}, "
                    f"max |Δprob| {row.report['max_abs_dprob']:.2e} ({row.seconds:.0f} s)"
                )
            else:
                row.status = rep.get("status", "error")
                row.note = rep.get("reason") or rep.get("error") or "?"
                progress.console.log(f"{row.lane} {row.key}: {row.status}: {row.note}")
            progress.update(task, visible=False)
            progress.advance(overall)
    wall = time.perf_counter() - t_start
    table = markdown(rows)
    cmd = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    head = [
        f"host CPU: {host}",
        f"held-out windows: {meta['windows']} ({meta['source']}), decision threshold {threshold:g}; "
        "reference: the shipped student, PyTorch FP32",
    ]
    text = "\n".join([*head, "", table, "", f"wall time: {wall:.0f} s", f"command: {cmd}"])
    print(text)
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(text + "\n", encoding="utf-8")
    results = {
        "host_cpu": host,
        "heldout": meta,
        "wall_s": round(wall, 1),
        "command": cmd,
        "rows": [
            {
                "key": r.key,
                "lane": r.lane,
                "lane_class": r.lane_class,
                "target": r.target,
                "recipe": r.recipe,
                "made_for": r.made_for,
                "status": r.status,
                "note": r.note,
                "seconds": round(r.seconds, 1),
                "worker": r.worker,
                "report": r.report,
            }
            for r in rows
        ],
    }
    (a.out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0 if all(r.status != "error" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
