"""Golden vectors for the Android JVM core, written by the project's own Python code.

``python android_demo/tools/make_vectors.py [--out android_demo/core/build/vectors]`` writes:

- ``index.json`` — catalog (names, labels, domains, canonical JSON, hash), prompt table, cue
  thresholds, the MediaPipe → COCO map, the list of cases, silhouette and resampling vectors;
- ``cases/<name>/*.bin`` — little-endian raw arrays (float32, uint8 for masks/silhouettes),
  shapes in ``index.json``: the 30 Hz pose, the Python *offline* map + mask, the Python
  *streaming* windows + masks (``StreamingKnowledgeMap(96, 16)``), and the model's per-window
  outputs (probabilities, saliency) when a model is available;
- ``bundle/`` — a sample ONNX FP32 bundle of the shipped student (``model.onnx``, an ``.ort``
  copy when it can be made, ``manifest.json``, ``golden.npz`` in the format of
  ``scoligait_edge.runtime.golden``), exported once and cached.

Cases: ScoliGait-Synth clips (``scoligait_edge.data.synth``) in both views, the same walks filmed
from the side, far away, too short, with two people; hostile sequences (NaN / inf / huge values,
dropouts, frozen and constant frames, collapsed skeletons, no hips, tiny and huge pixel scales);
and real footage: OpenCV's ``vtest.avi`` through ``scoligait-edge pose`` when the file exists
(the extracted clips are cached). Expected quality checks and verdicts come from
``reference_rules.py`` (the written rules of the core, implemented a second time in Python).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import reference_rules as R  # noqa: E402

from scoligait_edge.contract import INPUT_NAMES, OUTPUT_NAMES, SIL_H, SIL_W, WINDOW  # noqa: E402
from scoligait_edge.data import synth as Y  # noqa: E402
from scoligait_edge import prompts as TX  # noqa: E402
from scoligait_edge.kmap import CATALOG, DOMAINS, SIGNALS, StreamingKnowledgeMap, knowledge_map  # noqa: E402
from scoligait_edge.kmap import catalog as C  # noqa: E402
from scoligait_edge.kmap import signals as S  # noqa: E402
from scoligait_edge.kmap.testing import toy_walk  # noqa: E402
from scoligait_edge.pose.coco import COCO_JOINTS, MEDIAPIPE_TO_COCO  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_ROI = "450,150,318,300"
VTEST_FRAMES = 240
HOP = 16
FORMAT_VERSION = 1
TOP_K = 3
N_GOLDEN = 6


def log(msg: str) -> None:
    print(f"make_vectors: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ writing
class Writer:
    def __init__(self, out: Path) -> None:
        self.out = out

    def array(self, rel: str, a: np.ndarray, dtype: str) -> dict[str, Any]:
        arr = np.ascontiguousarray(np.asarray(a).astype(np.dtype(dtype).newbyteorder("<"), copy=False))
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(arr.tobytes())
        return {"file": rel, "dtype": np.dtype(dtype).name, "shape": list(arr.shape)}


# ------------------------------------------------------------------------------------ cases
def side_projection(world: np.ndarray, cp: Y.ClipParams, distance: float = 6.0) -> np.ndarray:
    """The same 3-D walk seen by a camera beside the walking line (a view the model was not made for)."""
    zc = world[:, 11:13, 2].mean(axis=1).mean()
    depth = np.maximum(distance - world[..., 0], 0.5)
    u = Y.IMAGE_W / 2 + cp.focal * (world[..., 2] - zc) / depth
    v = Y.IMAGE_H / 2 - cp.focal * (world[..., 1] - cp.cam_height) / depth
    return np.stack([u, v], -1)


def synth_clip(index: int, clip: int = 0, frames: int = 192, seed: int = 0) -> Any:
    cfg = Y.SynthConfig(frames=frames)
    return Y.simulate_clip(Y.sample_subject(seed, index, cfg), seed, clip, cfg, silhouettes=True)


def synth_side(index: int, seed: int = 0) -> np.ndarray:
    cfg = Y.SynthConfig()
    subj = Y.sample_subject(seed, index, cfg)
    cp = Y.sample_clip_params(subj, seed, 0, cfg)
    rng = np.random.default_rng([seed, index, 1, 7])
    world = Y.simulate_world_pose(subj, cp, cfg.frames, cfg.fps, rng)
    return Y.add_estimator_noise(side_projection(world, cp), cp, rng)


def hostile_random(seed: int, frames: int) -> np.ndarray:
    """NaN joints, a lost person, a frozen stretch and an outlier frame (tests/test_kmap_streaming.py)."""
    rng = np.random.default_rng(seed)
    pose = toy_walk(frames, seed=seed, missing=float(rng.uniform(0, 0.3)))
    n_nan = int(rng.integers(0, frames * 3))
    pose[rng.integers(0, frames, n_nan), rng.integers(0, 17, n_nan), rng.integers(0, 3, n_nan)] = np.nan
    a = int(rng.integers(0, frames - 30))
    pose[a : a + int(rng.integers(1, 30)), :, 2] = 0.0
    b = int(rng.integers(0, frames - 30))
    pose[b : b + 30] = pose[b]
    pose[int(rng.integers(0, frames)), 5:7, :2] *= 50.0
    return pose


def build_cases(cache: Path, real: bool) -> list[dict[str, Any]]:
    """Every case: name, kind, pose [T,17,3] float32, source fps, optional silhouettes / people."""
    cases: list[dict[str, Any]] = []

    def add(name: str, kind: str, pose: np.ndarray, desc: str, **kw: Any) -> None:
        cases.append({"name": name, "kind": kind, "pose": np.asarray(pose, np.float32), "desc": desc} | kw)

    # ScoliGait-Synth: both views, both labels, silhouettes rendered by the generator.
    for i in (0, 2, 3, 6, 8):
        c = synth_clip(i)
        m = c.metadata
        add(
            f"synth_{i:02d}",
            "synth",
            c.pose,
            f"ScoliGait-Synth seed 0 subject {i} view {m['view']} Cobb {m['cobb_angle']:.1f}",
            silhouettes=c.silhouettes,
        )
    long = synth_clip(5, clip=1, frames=330)
    add("synth_long", "synth", long.pose, "ScoliGait-Synth 330 frames (11 s)", silhouettes=long.silhouettes)
    base = synth_clip(2).pose
    add("synth_side", "synth", synth_side(2), "subject 2 filmed from the side (view check must fail)")
    far = base.copy()
    far[..., :2] = (far[..., :2] - np.float32([Y.IMAGE_W / 2, Y.IMAGE_H / 2])) * np.float32(
        0.35
    ) + np.float32([Y.IMAGE_W / 2, Y.IMAGE_H / 2])
    add("synth_small", "synth", far, "subject 2 at 0.35x size (person-size check must fail)")
    add("synth_short", "synth", synth_clip(3, frames=80).pose, "80 frames: shorter than one window")
    other = synth_clip(0).pose.copy()
    two = base.copy()
    for s in range(40, 192, 80):
        two[s : s + 40] = other[s : s + 40]
    add(
        "synth_two_people",
        "synth",
        two,
        "tracker alternates between two walkers every 40 frames; source reports two people",
        people=np.full(len(two), 2, np.int32),
    )
    low = base.copy()
    add("synth_low_fps", "synth", low, "subject 2, source filmed at 15 fps", source_fps=15.0)

    # Hostile sequences.
    rng = np.random.default_rng(11)
    p = base.copy()
    sel = rng.random(p.shape) < 0.2
    p[sel] = np.nan
    add("hostile_nan_entries", "hostile", p, "20% of all x / y / confidence entries NaN")
    p = base.copy()
    for a, n in ((20, 5), (60, 20), (120, 40)):
        p[a : a + n] = np.nan
    add("hostile_dropouts", "hostile", p, "full-frame NaN runs of 5, 20 and 40 frames")
    p = base.copy()
    p[50:130] = p[50]
    add("hostile_frozen", "hostile", p, "frames 50-129 frozen (zero-variance signals)")
    p = base.copy()
    p[:60, :, 2] = 0.0
    add("hostile_late_start", "hostile", p, "nothing observed for the first 60 frames")
    p = base.copy()
    p[10:20, 5, 0] = np.inf
    p[30:35, 9, 1] = -np.inf
    p[40, :, :2] = 1e30
    p[41, 3:7, :2] = -1e30
    p[50:60, 7, 2] = -1.0
    p[70:80, 8, 2] = 5.0
    p[90, 11, 2] = np.inf
    p[100:104, :, 0] = 3.4e38
    add(
        "hostile_inf_huge",
        "hostile",
        p,
        "inf, ±1e30, float32 max coordinates, negative / >1 / inf confidence",
    )
    p = base.copy()
    p[30:60, :, :2] = p[30:60, 11:12, :2]
    p[80:110, 6, :2] = p[80:110, 5, :2]
    p[130:150, 12, :2] = p[130:150, 11, :2]
    add("hostile_collapsed", "hostile", p, "all joints on one point; coincident shoulders; coincident hips")
    p = base.copy()
    p[:, 11:13, 2] = 0.0
    add("hostile_no_hips", "hostile", p, "hips never observed: nothing is observed")
    add("hostile_constant", "hostile", np.repeat(base[:1], 150, axis=0), "one frame repeated 150 times")
    add("hostile_tiny_scale", "hostile", base * np.float32([1e-3, 1e-3, 1]), "coordinates in 1/1000 px")
    add("hostile_huge_scale", "hostile", base * np.float32([1e4, 1e4, 1]), "coordinates × 10 000")
    p = base.copy()
    for t in (15, 16, 77, 150):
        p[t, 5:11, :2] *= 50.0
    add("hostile_outliers", "hostile", p, "single frames with arms and shoulders 50× away")
    for seed, n in ((3, 200), (17, 260), (41, 130)):
        add(f"hostile_random_{seed}", "hostile", hostile_random(seed, n), f"random hostile walk seed {seed}")
    p = toy_walk(180, seed=5, missing=0.1)
    add("toy_walk", "hostile", p, "kmap.testing.toy_walk with 10% joints missing", source_fps=30.0)
    ms = synth_clip(6).pose
    ms[::2] = np.nan
    add("hostile_every_other", "hostile", ms, "every other frame lost (no velocities at all)")

    if real:
        cases += real_cases(cache)
    return cases


def real_cases(cache: Path) -> list[dict[str, Any]]:
    """vtest.avi through the project's pose CLI (cached), as clips and as the live 30 Hz timeline."""
    if not VTEST.is_file():
        log(f"{VTEST} absent: no real-footage cases (install Debian's opencv-doc: make test-assets)")
        return []
    from scoligait_edge.pose import load_clip

    d = cache / "vtest"
    stamp = d / "done.json"
    want = {"roi": VTEST_ROI, "frames": VTEST_FRAMES, "size": VTEST.stat().st_size}
    if not stamp.is_file() or json.loads(stamp.read_text()) != want:
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        log("extracting pose from vtest.avi with `scoligait-edge pose` (cached afterwards)")
        exe = Path(sys.executable).with_name("scoligait-edge")
        cmd = [str(exe), "pose", str(VTEST), "--out", str(d / "vtest.npz"), "--roi", VTEST_ROI]
        cmd += ["--max-frames", str(VTEST_FRAMES), "--force"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            log(f"pose extraction failed ({r.stderr.strip().splitlines()[-1:]}); no real cases")
            return []
        stamp.write_text(json.dumps(want))
    parts = sorted(d.glob("vtest*.npz"))
    clips = [load_clip(p) for p in parts]
    out: list[dict[str, Any]] = []
    src_fps = float(clips[0].metadata.get("source_fps", 10.0)) if clips else 10.0
    for c in clips:
        if len(c) >= WINDOW:
            k = c.metadata["part"]
            out.append(
                {
                    "name": f"real_vtest_part{k}",
                    "kind": "real",
                    "pose": c.pose,
                    "desc": f"vtest.avi part {k} ({len(c)} frames, gaps ≤ 15 frames interpolated)",
                    "silhouettes": c.silhouettes,
                    "source_fps": src_fps,
                    "image": c.metadata.get("source_size"),
                }
            )
    if clips:  # the live stream a phone would feed: parts on the 30 Hz timeline, NaN while lost
        end = max(int(c.metadata["start_frame"]) + len(c) for c in clips)
        pose = np.full((end, 17, 3), np.nan, np.float32)
        pose[:, :, 2] = 0.0
        sil = np.zeros((end, SIL_H, SIL_W), np.uint8)
        for c in clips:
            s = int(c.metadata["start_frame"])
            pose[s : s + len(c)] = c.pose
            if c.silhouettes is not None:
                sil[s : s + len(c)] = c.silhouettes
        out.append(
            {
                "name": "real_vtest_stream",
                "kind": "real",
                "pose": pose,
                "desc": f"vtest.avi as one 30 Hz stream ({end} frames, NaN while the person is lost)",
                "silhouettes": sil,
                "source_fps": src_fps,
                "image": clips[0].metadata.get("source_size"),
            }
        )
    return out


# ------------------------------------------------------------------------------------ model
def student_key() -> str:
    """Cache key: the student checkpoint, the exporter's sources and the catalog."""
    from scoligait_edge.models.checkpoint import default_student_path

    h = hashlib.sha256(Path(default_student_path()).read_bytes())
    pkg = ROOT / "scoligait_edge"
    for p in sorted((ROOT / "export").glob("*.py")) + sorted((pkg / "runtime").glob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return f"{h.hexdigest()[:16]}-{C.catalog_hash()[:12]}-v{FORMAT_VERSION}"


def export_bundle(cache: Path) -> tuple[Path | None, str]:
    """The student as an ONNX FP32 bundle (cached by checkpoint hash); returns (dir, how)."""
    key = student_key()
    d = cache / "bundles" / key / "onnx_fp32"
    if (d / "manifest.json").is_file():
        return d, json.loads((d.parent / "how.json").read_text())["how"]
    d.parent.mkdir(parents=True, exist_ok=True)
    how = ""
    try:
        from scoligait_edge.export import export_model

        export_model(None, "onnx", d, precision="fp32", validate=False, force=True)
        how = "scoligait_edge.export.export_model(target='onnx', precision='fp32')"
    except Exception as e:  # the exporter is optional here: fall back to a plain torch.onnx.export
        log(f"export_model failed ({type(e).__name__}: {str(e).splitlines()[0][:160]}); plain export")
        shutil.rmtree(d, ignore_errors=True)
        try:
            how = plain_export(d)
        except Exception as e2:
            log(f"plain ONNX export failed too ({type(e2).__name__}: {e2}); vectors without a bundle")
            traceback.print_exc()
            shutil.rmtree(d, ignore_errors=True)
            return None, f"no bundle: {type(e2).__name__}: {e2}"
    (d.parent / "how.json").write_text(json.dumps({"how": how}))
    return d, how


def plain_export(d: Path) -> str:
    import torch
    from scoligait_edge.export import bundle as B
    from scoligait_edge.export.pytorch import contract_module, dynamic_shapes, example_args

    from scoligait_edge.models import load_default_student

    model = load_default_student().eval()
    d.mkdir(parents=True)
    with torch.no_grad():
        torch.onnx.export(
            contract_module(model),
            example_args(2, 0),
            str(d / "model.onnx"),
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=dynamic_shapes(True),
            opset_version=20,
            dynamo=True,
            external_data=False,
        )
    info = B.model_metadata(model)
    man = B.build_manifest(
        d,
        target="onnx",
        precision="fp32",
        artifact="model.onnx",
        model_info=info,
        options={"precision": "fp32", "dynamic": True, "opset": 20},
        versions={"torch": torch.__version__},
    )
    man["parity"] = {"skipped": "android_demo/tools/make_vectors.py plain export"}
    B.write_manifest(d, man)
    return "torch.onnx.export(dynamo=True) + export.bundle.build_manifest (export_model was unavailable)"


class OnnxModel:
    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outs = self.sess.run(list(OUTPUT_NAMES), {k: inputs[k] for k in INPUT_NAMES})
        return dict(zip(OUTPUT_NAMES, outs, strict=True))


class TorchModel:
    def __init__(self) -> None:
        from scoligait_edge.models import load_default_student
        from scoligait_edge.runtime.base import TorchRunner

        self.runner = TorchRunner(load_default_student())

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.runner.run(inputs)


def run_batched(model: Any, inputs: dict[str, np.ndarray], batch: int = 16) -> dict[str, np.ndarray]:
    n = len(inputs["prompt_id"])
    parts = [model.run({k: v[s : s + batch] for k, v in inputs.items()}) for s in range(0, n, batch)]
    return {k: np.concatenate([p[k] for p in parts]) for k in OUTPUT_NAMES}


def make_ort(bundle: Path) -> str | None:
    """An ORT-format copy of model.onnx (what onnxruntime-android runs), when the converter works."""
    ort_path = bundle / "model.ort"
    if ort_path.is_file():
        return ort_path.name
    tmp = bundle.parent / "ort_tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    shutil.copy(bundle / "model.onnx", tmp / "model.onnx")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "onnxruntime.tools.convert_onnx_models_to_ort",
            str(tmp),
            "--output_dir",
            str(tmp),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or not (tmp / "model.ort").is_file():
        log(f"ORT-format conversion failed: {r.stderr.strip().splitlines()[-1:]}")
        return None
    shutil.copy(tmp / "model.ort", ort_path)
    shutil.rmtree(tmp, ignore_errors=True)
    return ort_path.name


# ------------------------------------------------------------------------------------ golden
def golden_tolerance() -> tuple[dict[str, Any], str]:
    try:
        from scoligait_edge.export.targets import get_target

        return get_target("onnx").tolerance("fp32").as_dict(), "export.targets onnx fp32"
    except Exception:
        atol = {"referral_logit": 1e-3, "referral_prob": 1e-4, "cobb_angle": 1e-2}
        return {"atol": atol, "saliency_tv": 1e-3, "min_agreement": 1.0, "max_auc_drop": None}, "make_vectors"


def select_golden(prob: np.ndarray, threshold: float) -> np.ndarray:
    """The most confident referrals and non-referrals (runtime.golden.select when importable)."""
    try:
        from scoligait_edge.runtime.golden import select

        return select(prob, threshold, N_GOLDEN)
    except Exception:
        order = np.argsort(-np.abs(prob - threshold))
        pos = [int(i) for i in order if prob[i] >= threshold][: N_GOLDEN // 2]
        neg = [int(i) for i in order if prob[i] < threshold][: N_GOLDEN - len(pos)]
        return np.array(sorted(pos + neg), np.int64)


def write_golden(path: Path, inputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> str:
    """golden.npz in scoligait_edge.runtime.golden's format (its writer when importable)."""
    try:
        from scoligait_edge.runtime import golden as G

        G.write(path, inputs, reference)
        return "scoligait_edge.runtime.golden.write"
    except Exception as e:
        log(f"runtime.golden unavailable ({type(e).__name__}); writing the same layout here")
    s = np.asarray(reference["saliency"], np.float64)
    arrays = {
        "kmap": np.asarray(inputs["kmap"], np.float16),
        "silhouette_bits": np.packbits(np.asarray(inputs["silhouette"]) >= 0.5, axis=-1),
        "prompt_id": np.asarray(inputs["prompt_id"], np.int64),
        **{f"reference/{k}": np.asarray(reference[k], np.float32) for k in OUTPUT_NAMES[:3]},
        "reference/saliency_features": s.sum(axis=1).astype(np.float32),
        "reference/saliency_time": s.sum(axis=2).astype(np.float32),
    }
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return "make_vectors (runtime.golden layout)"


def sample_bundle(
    src: Path, dst: Path, golden_in: dict[str, np.ndarray], ort_name: str | None
) -> dict[str, Any]:
    """Copy the cached bundle, add golden vectors + schema-2 fields, recompute the file table."""
    from scoligait_edge.export import bundle as B

    from scoligait_edge.models import load_default_student
    from scoligait_edge.runtime.base import TorchRunner

    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    try:
        from scoligait_edge.runtime.golden import compact_inputs
    except Exception:

        def compact_inputs(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {
                "kmap": np.asarray(x["kmap"], np.float16).astype(np.float32),
                "silhouette": (np.asarray(x["silhouette"]) >= 0.5).astype(np.float32),
                "prompt_id": np.asarray(x["prompt_id"], np.int64),
            }

    man = json.loads((dst / "manifest.json").read_text())
    g = man.get("golden") or {}
    if g.get("file") and (dst / g["file"]).is_file():  # the exporter wrote its own golden vectors
        how, tol_src = "the exporter (scoligait_edge.export)", "the exporter"
    else:
        x = compact_inputs(golden_in)
        ref = TorchRunner(load_default_student()).run(x)
        how = write_golden(dst / "golden.npz", x, ref)
        tol, tol_src = golden_tolerance()
        man["golden"] = {
            "file": "golden.npz",
            "windows": len(x["prompt_id"]),
            "tolerance_reference": tol,
        }
    man.setdefault("device_class", "any")
    man.setdefault("int8_recipe", None)
    man.setdefault("export_machine", {"cpu": "make_vectors sample", "isa": []})
    man["files"] = B.file_entries(dst)
    B.write_manifest(dst, man)
    return {"dir": "bundle", "golden_writer": how, "tolerance_source": tol_src, "ort": ort_name}


# ------------------------------------------------------------------------------------ silhouettes
def silhouette_vectors(w: Writer) -> list[dict[str, Any]]:
    import cv2

    from scoligait_edge.pose.video import silhouette_64x44

    rng = np.random.default_rng(5)
    out = []
    for k, (h, wd) in enumerate([(240, 320), (360, 480), (480, 360), (200, 200), (300, 90), (96, 400)]):
        m = np.zeros((h, wd), np.float32)
        cx, cy = wd * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.6)
        sc = min(h, wd) * rng.uniform(0.15, 0.35)
        cv2.ellipse(m, (int(cx), int(cy - sc)), (int(sc * 0.3), int(sc * 0.4)), 0, 0, 360, 1.0, -1)
        cv2.rectangle(
            m, (int(cx - sc * 0.4), int(cy - sc * 0.6)), (int(cx + sc * 0.4), int(cy + sc * 0.6)), 1.0, -1
        )
        cv2.line(
            m, (int(cx - sc * 0.2), int(cy + sc * 0.5)), (int(cx - sc * 0.5), int(cy + 1.6 * sc)), 1.0, 9
        )
        cv2.line(
            m, (int(cx + sc * 0.2), int(cy + sc * 0.5)), (int(cx + sc * 0.3), int(cy + 1.7 * sc)), 1.0, 9
        )
        m = cv2.GaussianBlur(m, (7, 7), 2.0)
        m += rng.normal(0, 0.05, m.shape).astype(np.float32)
        m = np.clip(m, 0, 1)
        if k == 5:
            m[: h // 2] = 0  # person only in the lower half
        exp = silhouette_64x44(m)
        out.append(
            {
                "name": f"mask_{k}",
                "mask": w.array(f"silhouettes/mask_{k}.bin", m, "float32"),
                "expected": w.array(f"silhouettes/mask_{k}.sil.bin", exp, "uint8"),
            }
        )
    empty = np.zeros((120, 160), np.float32)
    line = np.zeros((120, 160), np.float32)
    line[50, 40:90] = 1.0
    for name, m in (("empty", empty), ("one_row", line)):
        out.append(
            {
                "name": name,
                "mask": w.array(f"silhouettes/{name}.bin", m, "float32"),
                "expected": w.array(f"silhouettes/{name}.sil.bin", silhouette_64x44(m), "uint8"),
            }
        )
    return out


# ------------------------------------------------------------------------------------ resampling
def _fixed_stream_class() -> type:
    from scoligait_edge.pose.stream import PoseStream

    class FixedStream(PoseStream):
        """PoseStream over ready-made FramePose records (its own causal 30 Hz resampling)."""

        def __init__(self, records: list[Any]) -> None:
            super().__init__("unused.mp4")
            self.records = records

        def frames(self):  # type: ignore[override]
            yield from self.records

    return FixedStream


def fixed_stream(records: list[Any]) -> Any:
    return _fixed_stream_class()(records)


def resample_vectors(w: Writer) -> list[dict[str, Any]]:
    """Source frames at irregular times → PoseStream's causal 30 Hz frames (its own __iter__)."""
    from scoligait_edge.pose.video import FramePose

    out = []
    for name, fps, jitter, lost in (("fps24_jitter", 24.0, 0.004, (30, 38)), ("fps10", 10.0, 0.0, (12, 14))):
        rng = np.random.default_rng(int(fps))
        n = 60
        times = np.arange(n) / fps + rng.uniform(-jitter, jitter, n) * (np.arange(n) > 0)
        pose = toy_walk(n, seed=int(fps))
        pose[lost[0] : lost[1]] = np.nan
        pose[lost[0] : lost[1], :, 2] = 0.0
        pose[5, 3, :2] = np.nan  # one joint missing in one frame
        frames = [
            FramePose(
                i, float(times[i]), pose[i], np.zeros((4, 3), np.float32), np.zeros((64, 44), np.uint8), True
            )
            for i in range(n)
        ]

        got = np.stack(list(fixed_stream(frames)))
        out.append(
            {
                "name": name,
                "times": w.array(f"resample/{name}.times.bin", times, "float64"),
                "pose": w.array(f"resample/{name}.pose.bin", pose, "float32"),
                "expected": w.array(f"resample/{name}.out.bin", got, "float32"),
            }
        )
    return out


# ------------------------------------------------------------------------------------ tracking
def tracker_vectors(w: Writer) -> list[dict[str, Any]]:
    """Candidate boxes per frame → `pose.video.PersonTracker` choices; landmarks → `pose_bbox`."""
    from scoligait_edge.pose.video import PersonTracker, pose_bbox

    out = []
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        walkers = [
            np.array([rng.uniform(50, 500), rng.uniform(50, 300), rng.uniform(40, 160)]) for _ in range(3)
        ]
        frames: list[list[list[float]]] = []
        for t in range(120):
            boxes = []
            for k, (x, y, h) in enumerate(walkers):
                if rng.random() < (0.15 if k == 0 else 0.35):
                    continue  # not detected in this frame
                cx = x + (2.0 + k) * t * (1 if k % 2 == 0 else -1) + rng.normal(0, 2)
                cy = y + rng.normal(0, 2)
                hh = h * (1 + 0.002 * t)
                boxes.append([cx - 0.2 * hh, cy - 0.5 * hh, cx + 0.2 * hh, cy + 0.5 * hh])
            if 50 <= t < 60:
                boxes = []  # everybody lost for 10 frames: re-acquisition counts as a jump
            rng.shuffle(boxes)
            frames.append(boxes)
        tr = PersonTracker()
        chosen = [tr.choose([tuple(b) for b in boxes], t, t / 30) for t, boxes in enumerate(frames)]
        out.append(
            {
                "frames": frames,
                "chosen": [-1 if c is None else int(c) for c in chosen],
                "jumps": len(tr.jumps),
            }
        )
    rng = np.random.default_rng(7)
    bboxes = []
    for k in range(5):
        mp33 = np.concatenate([rng.uniform(0, 640, (33, 2)), rng.uniform(0, 1, (33, 1))], axis=1).astype(
            np.float32
        )
        if k == 4:
            mp33[:, 2] = 0.1  # nobody visible: the box of all landmarks
        bboxes.append({"landmarks": mp33.reshape(-1).tolist(), "box": list(pose_bbox(mp33))})
    return [{"sequences": out, "bboxes": bboxes}]


# ------------------------------------------------------------------------------------ main
def stream(pose: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    s = StreamingKnowledgeMap(window=WINDOW, hop=HOP, fps=30.0)
    ends, wins, masks = [], [], []
    for t, f in enumerate(pose):
        win = s.push(f)
        if win is not None:
            ends.append(t + 1)
            wins.append(win)
            masks.append(s.last_mask)
    if not wins:
        return [], np.zeros((0, WINDOW, 238), np.float32), np.zeros((0, WINDOW, 238), bool)
    return ends, np.stack(wins), np.stack(masks)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "android_demo/core/build/vectors")
    ap.add_argument("--cache", type=Path, default=ROOT / "android_demo/core/build/cache")
    ap.add_argument("--no-model", action="store_true", help="skip the model outputs and the bundle")
    ap.add_argument("--no-real", action="store_true", help="skip vtest.avi")
    a = ap.parse_args(argv)
    t0 = time.time()
    tmp = a.out.with_name(a.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    a.cache.mkdir(parents=True, exist_ok=True)
    w = Writer(tmp)

    model: Any = None
    bundle_info: dict[str, Any] | None = None
    bundle_dir: Path | None = None
    threshold = 0.5
    model_source = "none"
    if not a.no_model:
        bundle_dir, how = export_bundle(a.cache)
        if bundle_dir is not None:
            model = OnnxModel(bundle_dir / "model.onnx")
            threshold = float(json.loads((bundle_dir / "manifest.json").read_text())["decision_threshold"])
            model_source = f"ONNX Runtime on the sample bundle's model.onnx ({how})"
        else:
            model = TorchModel()
            threshold = float(model.runner.model.threshold)
            model_source = "PyTorch student (no bundle could be exported)"

    cases_out = []
    golden_pool: dict[str, list[np.ndarray]] = {"kmap": [], "silhouette": [], "prompt_id": [], "prob": []}
    max_off_vs_stream = 0.0
    for case in build_cases(a.cache, real=not a.no_real):
        name, pose = case["name"], case["pose"]
        d = f"cases/{name}"
        kmap, mask = knowledge_map(pose, 30.0, return_mask=True)
        ends, wins, wmask = stream(pose)
        for e, win in zip(ends, wins, strict=True):
            max_off_vs_stream = max(max_off_vs_stream, float(np.abs(win - kmap[e - WINDOW : e]).max()))
        entry: dict[str, Any] = {
            "name": name,
            "kind": case["kind"],
            "description": case["desc"],
            "frames": len(pose),
            "source_fps": float(case.get("source_fps", 30.0)),
            "image": case.get("image") or [Y.IMAGE_W, Y.IMAGE_H],
            "pose": w.array(f"{d}/pose.bin", pose, "float32"),
            "offline": {
                "kmap": w.array(f"{d}/offline.kmap.bin", kmap, "float32"),
                "mask": w.array(f"{d}/offline.mask.bin", mask, "uint8"),
            },
            "windows": {"ends": ends},
        }
        sil = case.get("silhouettes")
        if sil is not None:
            entry["silhouettes"] = w.array(f"{d}/silhouettes.bin", sil, "uint8")
        people = case.get("people")
        if people is not None:
            entry["people"] = [int(x) for x in people]
        if ends:
            entry["windows"] |= {
                "kmap": w.array(f"{d}/windows.kmap.bin", wins, "float32"),
                "mask": w.array(f"{d}/windows.mask.bin", wmask, "uint8"),
            }
            cues = TX.cue_values(wins)
            entry["windows"]["cue_values"] = cues.tolist()
            entry["windows"]["prompt_ids"] = [int(i) for i in TX.prompt_ids(cues)]
        q = R.quality(pose, entry["source_fps"], people)
        entry["quality"] = q.to_json()
        probs: list[float] = []
        if model is not None and ends:
            if sil is not None:
                sw = np.stack([sil[e - WINDOW : e] for e in ends]).astype(np.float32) / np.float32(255.0)
            else:
                sw = np.zeros((len(ends), WINDOW, SIL_H, SIL_W), np.float32)
            inputs = {
                "kmap": wins,
                "silhouette": sw,
                "prompt_id": np.asarray(entry["windows"]["prompt_ids"], np.int64),
            }
            out = run_batched(model, inputs)
            probs = [float(x) for x in out["referral_prob"]]
            entry["model"] = {
                "referral_prob": probs,
                "referral_logit": [float(x) for x in out["referral_logit"]],
                "cobb_angle": [float(x) for x in out["cobb_angle"]],
                "saliency": w.array(f"{d}/saliency.bin", out["saliency"], "float32"),
            }
            from scoligait_edge.screen.explain import top_features

            sal = R.clip_saliency(ends, out["saliency"], len(pose))
            entry["expected_explanation"] = top_features(sal, TOP_K, 30.0)
            if case["kind"] == "synth" and sil is not None:
                golden_pool["kmap"] += list(wins)
                golden_pool["silhouette"] += list(sw)
                golden_pool["prompt_id"] += entry["windows"]["prompt_ids"]
                golden_pool["prob"] += probs
        if model is not None:
            entry["expected_verdict"] = R.verdict(q, probs, threshold)
        cases_out.append(entry)
        v = entry.get("expected_verdict", {}).get("verdict", "-")
        log(f"{name}: {len(pose)} frames, {len(ends)} windows, quality {'ok' if q.passed else 'fail'}, {v}")

    if bundle_dir is not None and golden_pool["prob"]:
        idx = select_golden(np.asarray(golden_pool["prob"]), threshold)
        gin = {k: np.stack([golden_pool[k][i] for i in idx]) for k in ("kmap", "silhouette")}
        gin["prompt_id"] = np.asarray([golden_pool["prompt_id"][i] for i in idx], np.int64)
        ort_name = make_ort(bundle_dir)
        bundle_info = sample_bundle(bundle_dir, tmp / "bundle", gin, ort_name)

    index = {
        "format": "scoligait-android-vectors",
        "format_version": FORMAT_VERSION,
        "generated_by": "android_demo/tools/make_vectors.py",
        "window": WINDOW,
        "hop": HOP,
        "fps": 30.0,
        "catalog": {
            "hash": C.catalog_hash(),
            "json": C.catalog_json(),
            "kmap_version": C.KMAP_VERSION,
            "names": [f.name for f in CATALOG],
            "labels": [f.label for f in CATALOG],
            "domains": [f.domain for f in CATALOG],
            "domain_slices": {k: [v.start, v.stop] for k, v in DOMAINS.items()},
            "signals": list(SIGNALS),
            "constants": {
                "min_confidence": S.MIN_CONFIDENCE,
                "corr_window": S.CORR_WINDOW,
                "corr_min_frames": S.CORR_MIN_FRAMES,
                "max_coord": S.MAX_COORD,
            },
        },
        "coco_joints": list(COCO_JOINTS),
        "mediapipe_to_coco": list(MEDIAPIPE_TO_COCO),
        "prompts": {
            "texts": list(TX.PROMPTS),
            "cues": list(TX.CUES),
            "thresholds": {k: list(v) for k, v in TX.THRESHOLDS.items()},
            "ratio_floor": TX.RATIO_FLOOR,
        },
        "quality_thresholds": {
            "min_source_fps": R.MIN_SOURCE_FPS,
            "min_frames": R.MIN_FRAMES,
            "min_tracked_fraction": R.MIN_TRACKED_FRACTION,
            "min_person_height_px": R.MIN_PERSON_HEIGHT_PX,
            "min_view_ratio": R.MIN_VIEW_RATIO,
            "min_gait_cycles": R.MIN_GAIT_CYCLES,
            "step_hysteresis": R.STEP_HYSTERESIS,
            "max_track_jumps": R.MAX_TRACK_JUMPS,
            "jump_torsos": R.JUMP_TORSOS,
            "max_multi_person_fraction": R.MAX_MULTI_PERSON_FRACTION,
            "min_progression": R.MIN_PROGRESSION,
            "progression_frames": R.PROGRESSION_FRAMES,
        },
        "model": {"source": model_source, "threshold": threshold, "top_k": TOP_K}
        if model is not None
        else None,
        "bundle": bundle_info,
        "python_offline_vs_streaming_max_abs": max_off_vs_stream,
        "cases": cases_out,
        "silhouettes": silhouette_vectors(w),
        "resample": resample_vectors(w),
        "tracking": tracker_vectors(w)[0],
    }
    (tmp / "index.json").write_text(json.dumps(index, indent=1, allow_nan=False))
    shutil.rmtree(a.out, ignore_errors=True)
    tmp.rename(a.out)
    log(f"wrote {len(cases_out)} cases to {a.out} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
