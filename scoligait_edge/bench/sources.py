"""Build the suite's cases from the real pieces: models, the export-target table, bundles, pipeline stages.

Each row comes from one small function; anything missing (a backend not installed, a model
not shipped, no video) becomes a ⏭/❌ case with its reason instead of an exception.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.bench.cases import Case, EvalSet, Runner, failed, one_line, unavailable
from scoligait_edge.bench.quiet import quiet_fds
from scoligait_edge.bench.report import FAILED
from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.runtime.parity import floors

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_ROI = (450, 150, 318, 300)  #: the walkers' path in vtest.avi (too small to detect full-frame)
REFERENCE_TARGET = "pytorch"


# ------------------------------------------------------------------------------- models


def load_models(model: str | Path | None = "student", teacher: bool = True) -> tuple[Any, Any]:
    """(student, teacher) PyTorch models: shipped defaults, or ``model`` as a student checkpoint path.

    The teacher is always the shipped reference teacher; a missing one (or ``teacher=False``)
    is ``None`` (its rows ⏭).
    """
    from scoligait_edge.models import load_default_student, load_default_teacher, load_model

    default = model in (None, "", "student", "default")
    student = load_default_student() if default else load_model(Path(str(model)))
    ref = None
    if teacher:
        try:
            ref = load_default_teacher().eval()
        except ScoliGaitError:
            ref = None
    return student.eval(), ref


def model_threshold(model: Any) -> float:
    thr = getattr(model, "threshold", None)
    try:
        v = float(thr)
    except (TypeError, ValueError):
        return 0.5
    return v if 0.0 < v < 1.0 else 0.5


def model_fingerprint(model: Any) -> str:
    """sha256 of a model's class and state dict: bundles in ``--bundles`` are reused only for this model."""
    import hashlib

    h = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def exporter_fingerprint() -> str:
    """sha256 of the export and calibration code: a changed exporter never reuses an old bundle."""
    import hashlib

    import scoligait_edge.calibration as cal
    import scoligait_edge.export as exp

    h = hashlib.sha256()
    for pkg in (exp, cal):
        root = Path(pkg.__file__).parent
        for f in sorted(root.glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def bundle_key(model: Any) -> str:
    """``<model sha256[:12]>-<exporter sha256[:8]>``: what a reusable bundle's name is keyed by."""
    return f"{model_fingerprint(model)[:12]}-{exporter_fingerprint()[:8]}"


def model_flops(model: Any) -> int | None:
    try:
        from scoligait_edge.models import count_flops

        return int(count_flops(model, batch=1))
    except Exception:
        return None


def torch_case(case_id: str, label: str, model: Any, role: str | None, flops: int | None = None) -> Case:
    """A PyTorch eager row (teacher reference, FP32 student reference, or a test's variant)."""
    from scoligait_edge.runtime.base import TorchRunner

    return Case(
        id=case_id,
        kind="model",
        label=label,
        target=REFERENCE_TARGET,
        precision="fp32",
        load=lambda _threads: TorchRunner(model),
        size_bytes=_state_dict_bytes(model),
        threshold=model_threshold(model),
        role=role,
        flops=flops,
    )


def _state_dict_bytes(model: Any) -> int | None:
    try:
        return int(sum(t.numel() * t.element_size() for t in model.state_dict().values()))
    except Exception:
        return None


# ------------------------------------------------------------------------------- targets


def resolve_targets(spec: str) -> list[str]:
    """``all`` → every target but the PyTorch reference; otherwise names/aliases, validated."""
    from scoligait_edge.export.targets import TARGETS, get_target

    if spec.strip().lower() == "all":
        return [t for t in TARGETS if t != REFERENCE_TARGET]
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name = get_target(part).name  # TargetError with a suggestion for typos
        if name != REFERENCE_TARGET and name not in out:
            out.append(name)
    return out


def resolve_precisions(spec: str) -> list[str]:
    from scoligait_edge.export.targets import PRECISIONS

    if spec.strip().lower() == "all":
        return list(PRECISIONS)
    out = [p.strip().lower() for p in spec.split(",") if p.strip()]
    bad = [p for p in out if p not in PRECISIONS]
    if bad or not out:
        raise ScoliGaitError(
            f"unknown precision {bad[0] if bad else '(none)'!r}", f"use {','.join(PRECISIONS)} or all"
        )
    return out


def bundle_size(target: str, path: Path) -> int | None:
    from scoligait_edge.export.targets import artifact_files

    try:
        files = artifact_files(target, path)
        return int(sum(p.stat().st_size for p in files)) or None
    except OSError:
        return None


def load_runner(path: Path, threads: int) -> Runner:
    """``load_bundle`` with the thread count, for backends whose loader takes one."""
    from scoligait_edge.export import backend, load_bundle
    from scoligait_edge.export.bundle import read_manifest

    man = read_manifest(path)
    loader = backend(man["target"]).load
    if "threads" in inspect.signature(loader).parameters:
        return load_bundle(path, threads=threads)
    return load_bundle(path)


def export_case(
    student: Any,
    target: str,
    precision: str,
    bundle_dir: Path,
    flops: int | None,
    step: Callable[[str], None] | None = None,
    export: bool = True,
    fingerprint: str | None = None,
    export_unrunnable: bool = True,
    model_spec: str | Path | None = None,
) -> Case:
    """One exported-student row: reuse its bundle in ``bundle_dir`` or export it there.

    With ``model_spec`` (``student`` or a checkpoint path) the export runs in a child process
    (``bench.export_worker``) that loads the same model, so a converter crash is this row's ❌.
    """
    from scoligait_edge.export import export_model
    from scoligait_edge.export.bundle import read_manifest
    from scoligait_edge.export.targets import availability, get_target

    t = get_target(target)
    fingerprint = fingerprint or model_fingerprint(student)
    cid, label = f"student/{t.name}/{precision}", "student"
    kw: dict[str, Any] = {"target": t.name, "precision": precision, "flops": flops}
    if precision not in t.precisions:
        return unavailable(cid, "model", label, f"{t.name} has no {precision} path", **kw)
    ok = availability(t)
    if ok is not True:
        return unavailable(cid, "model", label, str(ok), **kw)
    if not t.runs_here and not export_unrunnable:
        where = "/".join(t.devices)
        return unavailable(cid, "model", label, f"runs on {where} only (not exported in --quick)", **kw)
    # Keyed by the model's and the exporter's fingerprints: a changed student or export code
    # never reuses a stale bundle, and nothing already in a user's --bundles directory is overwritten.
    path = bundle_dir / f"student-{fingerprint[:12]}-{exporter_fingerprint()[:8]}_{t.name}_{precision}"
    notes: list[str] = []
    if not (path / "manifest.json").is_file():
        if not export:
            return unavailable(cid, "model", label, f"no bundle at {path} (export disabled)", **kw)
        t0 = time.perf_counter()
        if model_spec is not None:  # a child process: a crashing converter costs only this row
            from scoligait_edge.bench.export_worker import export_in_child

            why = export_in_child(str(model_spec), t.name, precision, path, fingerprint)
            if why is not None:
                return failed(cid, "model", label, f"export failed: {why}", **kw)
        else:
            try:
                with quiet_fds():
                    export_model(student, t.name, out=path, precision=precision, validate=False, step=step)
            except Exception as e:
                return failed(cid, "model", label, f"export failed: {one_line(e)}", **kw)
        notes.append(f"exported in {time.perf_counter() - t0:.1f} s")
    try:
        man = read_manifest(path)
    except Exception as e:
        return failed(cid, "model", label, f"bundle unreadable: {one_line(e)}", **kw)
    size = bundle_size(t.name, path)
    if not t.runs_here:
        return unavailable(
            cid,
            "model",
            label,
            f"artifact built ({', '.join(t.suffixes)}); it runs on {'/'.join(t.devices)} only",
            size_bytes=size,
            notes=notes,
            **kw,
        )
    return Case(
        id=cid,
        kind="model",
        label=label,
        load=lambda threads, p=path: load_runner(p, threads),
        artifact=path,
        size_bytes=size,
        threshold=float(man.get("decision_threshold", 0.5)),
        floors=floors(t.tolerance(precision)),
        notes=notes,
        **kw,
    )


def model_cases(
    student: Any,
    teacher: Any,
    targets: list[str],
    precisions: list[str],
    bundle_dir: Path,
    progress: Any = None,
    export: bool = True,
    export_unrunnable: bool = True,
    model_spec: str | Path | None = None,
    only: set[str] | None = None,
) -> list[Case]:
    """Teacher + FP32 student references, then every target × precision of the student.

    ``only``: export and measure just the student rows with these ids (the references always).
    """
    s_flops = model_flops(student)
    fp = model_fingerprint(student)
    cases = []
    if teacher is not None:
        cases.append(torch_case("teacher/pytorch/fp32", "teacher", teacher, "teacher", model_flops(teacher)))
    else:
        cases.append(
            unavailable(
                "teacher/pytorch/fp32",
                "model",
                "teacher",
                "no shipped teacher checkpoint",
                target=REFERENCE_TARGET,
                precision="fp32",
            )
        )
    cases.append(torch_case("student/pytorch/fp32", "student", student, "student_fp32", s_flops))
    combos = [(t, p) for t in targets for p in precisions if only is None or f"student/{t}/{p}" in only]
    task = progress.add_task("exporting", total=len(combos)) if progress is not None else None
    for t, p in combos:
        if progress is not None:
            progress.update(task, description=f"exporting {t} {p}")
        cases.append(
            export_case(
                student,
                t,
                p,
                bundle_dir,
                s_flops,
                export=export,
                fingerprint=fp,
                export_unrunnable=export_unrunnable,
                model_spec=model_spec,
            )
        )
        if progress is not None:
            progress.advance(task)
    if progress is not None:
        progress.update(task, description="exported")
    if model_spec is not None:  # first load + inference of every bundle in a child: a crash is one ❌ row
        from scoligait_edge.bench.export_worker import probe_in_child

        probed = probe_in_child([c.artifact for c in cases if c.runnable and c.artifact is not None])
        for c in cases:
            why = probed.get(c.artifact) if c.artifact is not None else None
            if why:
                c.status, c.reason = FAILED, why if "crashed" in why else f"run failed: {why}"
    return [c for c in cases if not (c.status == "unavailable" and "has no" in (c.reason or ""))]


# ------------------------------------------------------------------------------- parity set


SYNTH_EVAL_SEED = 9001  #: subjects no shipped model was trained on


def eval_set(data_dir: Path | None = None, max_windows: int = 256, seed: int = 0) -> EvalSet:
    """Held-out windows for parity: ``data_dir``'s test split (else val), or ``synth_eval_set()``."""
    if data_dir is None:
        return synth_eval_set()
    from scoligait_edge.data.windows import load_windows
    from scoligait_edge.errors import DatasetError

    for split in ("test", "val"):
        ws = load_windows(Path(data_dir), split)
        if len(ws):
            break
    else:
        raise DatasetError(
            f"{data_dir} has no test or val windows", "pass a dataset with a test split (--data DIR)"
        )
    n = len(ws)
    idx = (
        np.arange(n)
        if n <= max_windows
        else np.sort(np.random.default_rng(seed).permutation(n)[:max_windows])
    )
    inputs = {k: np.ascontiguousarray(v) for k, v in ws.batch(idx).items()}
    labels = np.asarray(ws.label)[idx].astype(np.int64)
    return EvalSet(
        inputs=inputs, labels=labels, source=f"{Path(data_dir).name}:{split} ({len(idx)} of {n} windows)"
    )


def synth_eval_set(subjects: int = 64, per_clip: int = 3, seed: int = SYNTH_EVAL_SEED) -> EvalSet:
    """The last ``per_clip`` windows of one ScoliGait-Synth clip per held-out subject, with labels.

    Windows come from ``data.windows.clip_windows`` (kmap, [0, 1] silhouettes, prompt ids) —
    exactly what training and export see; subjects use a seed no shipped model was trained on.
    """
    from scoligait_edge.data.synth import sample_subject, simulate_clip
    from scoligait_edge.data.windows import clip_windows

    parts: dict[str, list[np.ndarray]] = {"kmap": [], "silhouette": [], "prompt_id": []}
    labels = []
    for i in range(subjects):
        subj = sample_subject(seed, i)
        w = clip_windows(simulate_clip(subj, seed, 0))
        for k in parts:
            parts[k].append(w[k][-per_clip:])
        labels += [int(subj.label)] * len(w["kmap"][-per_clip:])
    return EvalSet(
        inputs={k: np.ascontiguousarray(np.concatenate(v)) for k, v in parts.items()},
        labels=np.asarray(labels),
        source=f"ScoliGait-Synth, {subjects} held-out subjects (seed {seed}), {per_clip} windows each",
    )


# ------------------------------------------------------------------------------- pipeline


def synth_pose(frames: int = 192, seed: int = 0) -> np.ndarray:
    """A ScoliGait-Synth walking clip's COCO-17 pose ``[frames, 17, 3]`` (deterministic)."""
    from scoligait_edge.data.synth import SynthConfig, sample_subject, simulate_clip

    cfg = SynthConfig(frames=frames) if "frames" in SynthConfig.__dataclass_fields__ else SynthConfig()
    return simulate_clip(sample_subject(seed, 0, cfg), seed, 0, cfg).pose


def kmap_case() -> Case:
    """Streaming knowledge-map update, per pose frame (amortised over emitted windows)."""
    cid, label = "pipeline/kmap-stream", "kmap push (streaming)"
    try:
        from scoligait_edge.kmap import StreamingKnowledgeMap

        pose = synth_pose()
    except Exception as e:
        return unavailable(cid, "pipeline", label, one_line(e), unit="frame")

    hop = 16

    def setup(_threads: int):
        skm = StreamingKnowledgeMap(window=96, hop=hop)
        it = {"i": 0}

        def push() -> object:  # one hop of frames per call: the amortised cost includes the emission
            out = None
            for _ in range(hop):
                i = it["i"]
                it["i"] = (i + 1) % len(pose)
                w = skm.push(pose[i])
                if w is not None:
                    out = w
            return out

        for i in range(120):  # fill the ring buffer so steady-state frames are timed
            skm.push(pose[i % len(pose)])
        return push

    return Case(
        id=cid,
        kind="pipeline",
        label=label,
        target="numpy",
        unit="frame",
        setup=setup,
        items_per_call=hop,
        notes=[f"timed {hop} frames per call (one emitted window), reported per frame"],
    )


def pose_case(
    video: Path = VTEST, frames: int = 24, roi: tuple[int, int, int, int] | None = VTEST_ROI
) -> Case:
    """MediaPipe PoseLandmarker per frame on real footage (frames decoded once, up front)."""
    cid, label = "pipeline/pose-mediapipe", "pose (MediaPipe, per frame)"
    if not video.is_file():
        return unavailable(
            cid, "pipeline", label, f"no video at {video} (apt-get install opencv-doc)", unit="frame"
        )
    try:
        import cv2

        from scoligait_edge.pose.video import FramePoser

        cap = cv2.VideoCapture(str(video))
        imgs = []
        while len(imgs) < frames:
            ok, img = cap.read()
            if not ok:
                break
            imgs.append(img)
        cap.release()
        if not imgs:
            return failed(cid, "pipeline", label, f"could not decode {video}", unit="frame")
    except Exception as e:
        return unavailable(cid, "pipeline", label, one_line(e), unit="frame")

    case = Case(
        gate_latency=False,
        gate_why="MediaPipe runs its own thread pool; a 1-thread reference cannot normalise it on a busy box",
        id=cid,
        kind="pipeline",
        label=label,
        target="mediapipe",
        precision="fp32",
        unit="frame",
        notes=[
            f"{video.name} ({imgs[0].shape[1]}×{imgs[0].shape[0]}, ROI {roi}); MediaPipe sets its own threads"
        ],
    )

    def setup(_threads: int):
        poser = FramePoser(roi=roi if video == VTEST else None)
        case.cleanups.append(poser.close)
        st = {"i": 0}

        def step() -> object:
            i = st["i"]
            st["i"] += 1
            return poser.process(imgs[i % len(imgs)], i, i / 30.0)

        return step

    case.setup = setup
    return case


def e2e_case(student_case: Case | None, with_pose: Case | None = None) -> Case:
    """End-to-end per emitted window: ``hop`` frames of (pose →) kmap push, then one inference."""
    name = "pose+kmap+model" if with_pose is not None else "kmap+model"
    cid, label = f"pipeline/e2e-{name}", f"end-to-end per window ({name.replace('+', ' + ')})"
    if student_case is None or not student_case.runnable:
        why = student_case.reason if student_case is not None else "no runnable student row"
        return unavailable(cid, "pipeline", label, f"needs the student row: {why}")
    try:
        from scoligait_edge.kmap import StreamingKnowledgeMap

        pose = synth_pose()
    except Exception as e:
        return unavailable(cid, "pipeline", label, one_line(e))
    sil = np.zeros((1, 96, 64, 44), np.float32)
    pid = np.zeros(1, np.int64)

    def setup(threads: int):
        runner = student_case.load(threads)
        pose_step = with_pose.setup(threads) if with_pose is not None and with_pose.setup else None
        skm = StreamingKnowledgeMap(window=96, hop=16)
        st = {"i": 0}
        for i in range(120):
            skm.push(pose[i % len(pose)])

        def window() -> object:
            while True:  # frames until the buffer emits a window (every hop frames)
                i = st["i"]
                st["i"] = (i + 1) % len(pose)
                if pose_step is not None:
                    pose_step()
                w = skm.push(pose[i])
                if w is not None:
                    return runner.run(
                        {"kmap": w[None].astype(np.float32, copy=False), "silhouette": sil, "prompt_id": pid}
                    )

        return window

    return Case(
        id=cid,
        kind="pipeline",
        label=label,
        target=student_case.target,
        precision=student_case.precision,
        setup=setup,
        notes=[f"model: {student_case.id}; silhouettes held constant"],
        gate_latency=with_pose is None,
        gate_why="includes MediaPipe, which runs its own thread pool",
    )


def pipeline_cases(
    model_rows: list[Case], quick: bool, only: set[str] | None = None, screen: bool | None = None
) -> list[Case]:
    """Pose, kmap and end-to-end rows (the e2e row uses ONNX INT8 if present, else the FP32 student).

    ``screen`` (default: the full run, not ``--quick``) adds the ``screen`` per-stage and
    device-footprint rows of :mod:`scoligait_edge.bench.screen_rows` (not gate rows).
    ``only``: just the pipeline rows with these ids (none wanted: no stage is even built).
    """
    if only is not None:
        wanted = {c for c in only if c.startswith("pipeline/")}
        if not wanted:
            return []
        from scoligait_edge.bench.screen_rows import SCREEN_ROW_IDS, screen_cases

        core = [c for c in pipeline_cases(model_rows, quick, screen=False) if c.id in wanted]
        if wanted & set(SCREEN_ROW_IDS):
            core += screen_cases(next((c for c in model_rows if c.id == "student/onnx/int8"), None), wanted)
        return core
    pref = ("student/onnx/int8", "student/openvino/int8", "student/onnx/fp32", "student/pytorch/fp32")
    by = {c.id: c for c in model_rows}
    student = next((by[k] for k in pref if k in by and by[k].runnable), None)
    pose = pose_case()
    cases = [pose, kmap_case(), e2e_case(student)]
    if not quick:
        cases.append(
            e2e_case(student, with_pose=pose if pose.runnable else None)
            if pose.runnable
            else unavailable(
                "pipeline/e2e-pose+kmap+model",
                "pipeline",
                "end-to-end per window (pose + kmap + model)",
                pose.reason or "pose unavailable",
            )
        )
    if (not quick) if screen is None else screen:
        from scoligait_edge.bench.screen_rows import screen_cases

        cases += screen_cases(by.get("student/onnx/int8"))
    return cases
