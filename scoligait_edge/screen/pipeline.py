"""The screening pipeline: pose frames → streaming knowledge map + silhouettes + prompt id →
any bundle's Runner per window → quality gate → clip verdict ``refer | no-referral | retake``.

Device side: numpy + the bundle's runtime (+ OpenCV and MediaPipe for video). The model always
runs through ``load_bundle`` — the same code a phone or a Jetson runs — with the bundle's golden
vectors checked once at load (``self_test=True``).

    s = Screener("student_onnx_int8")          # or Screener() for the shipped student's bundle
    for frame, sil, people in frames:          # LIVE: push as they come, get window results
        w = s.push(frame, sil, people)
    result = s.finish(source={"path": "walk.mp4", "kind": "video", "fps": 30.0})

Clip rule (documented in docs/screen.md): ``retake`` when any quality check fails or no window
was emitted; otherwise the mean window referral probability vs the bundle's decision threshold.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.contract import FPS, N_FEATURES, SIL_H, SIL_W, WINDOW
from scoligait_edge.errors import ShapeError
from scoligait_edge.screen import quality as Q

SCHEMA = "scoligait-edge/screen-result"
SCHEMA_VERSION = 1
DEFAULT_HOP = 16
COBB_CAVEAT = "a model estimate from gait, not a measurement: only a standing X-ray measures the Cobb angle"


@dataclass
class WindowResult:
    """One model window: frames ``[start, end)`` of the clip at 30 Hz."""

    start: int
    end: int
    referral_prob: float
    cobb_angle: float
    prompt_id: int
    saliency: np.ndarray  #: [96, 238], sums to 1

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "referral_prob": self.referral_prob,
            "cobb_angle": self.cobb_angle,
            "prompt_id": self.prompt_id,
        }


@dataclass
class ScreenResult:
    """A screened clip: the JSON-ready ``data`` plus the arrays the report draws."""

    data: dict[str, Any]
    pose: np.ndarray
    kmap: np.ndarray
    mask: np.ndarray | None = None
    saliency: np.ndarray | None = None
    frames: dict[int, np.ndarray] | None = None
    windows: list[WindowResult] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return str(self.data["verdict"])

    def to_json(self) -> dict[str, Any]:
        return self.data

    def save(self, out_dir: str | Path, *, force: bool = False, include_frames: bool = False) -> Path:
        """Write ``result.json`` and ``report.html`` into ``out_dir`` (atomically); return the directory."""
        import json

        from scoligait_edge.fileio import atomic_write_text

        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            d / "result.json", json.dumps(self.data, indent=2, allow_nan=False) + "\n", force=force
        )
        try:
            from scoligait_edge.screen.report import write_report
        except ImportError:  # pragma: no cover - report module absent in a trimmed install
            return d
        write_report(self, d / "report.html", include_frames=include_frames, force=force)
        return d


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


class Screener:
    """Streaming screening session over one bundle (MediaPipe Tasks' LIVE_STREAM/VIDEO style).

    ``push(frame, silhouette=None, people=None)`` takes one 30 Hz COCO-17 frame ``[17, 3]`` (pixels,
    confidence; NaN where missing), an optional ``[64, 44]`` silhouette and the number of people the
    pose source saw; it returns a :class:`WindowResult` every ``hop`` frames once 96 frames are in,
    and calls ``on_window`` (LIVE_STREAM result callback) with it. ``finish(source)`` applies the
    quality gate and the clip rule and returns a :class:`ScreenResult`; ``reset()`` starts a new clip.
    """

    def __init__(
        self,
        bundle: str | Path | Any | None = None,
        *,
        threshold: float | None = None,
        hop: int = DEFAULT_HOP,
        on_window: Any = None,
    ) -> None:
        from scoligait_edge.screen.bundles import open_runner

        self.runner, self.bundle_info = open_runner(bundle)
        man = self.runner.manifest
        self.threshold = float(threshold if threshold is not None else man.get("decision_threshold", 0.5))
        if not 0.0 < self.threshold < 1.0:
            from scoligait_edge.errors import ScoliGaitError

            raise ScoliGaitError(f"threshold {self.threshold} is outside (0, 1)", "pass --threshold 0.5")
        self.hop = int(hop)
        self.on_window = on_window
        self.n_prompts = self.runner.n_prompts
        self.reset()

    def reset(self) -> None:
        from scoligait_edge.kmap import StreamingKnowledgeMap

        self.kmap = StreamingKnowledgeMap(window=WINDOW, hop=self.hop, fps=FPS)
        self._sil: deque[np.ndarray] = deque(maxlen=WINDOW)
        self._pose: list[np.ndarray] = []
        self._people: list[int] = []
        self._has_people = False
        self.windows: list[WindowResult] = []
        self.timing = {"kmap_s": 0.0, "model_s": 0.0}
        self.frame_ms: deque[float] = deque(maxlen=4 * self.hop)  #: live: recent per-frame latency

    def push(
        self, frame: np.ndarray, silhouette: np.ndarray | None = None, people: int | None = None
    ) -> WindowResult | None:
        f = np.asarray(frame, np.float32)
        if f.shape != (17, 3):
            raise ShapeError(f"pose frame has shape {f.shape}, expected (17, 3)", "push COCO-17 frames")
        sil = (
            np.zeros((SIL_H, SIL_W), np.float32) if silhouette is None else np.asarray(silhouette, np.float32)
        )
        if sil.shape != (SIL_H, SIL_W):
            raise ShapeError(
                f"silhouette has shape {sil.shape}, expected ({SIL_H}, {SIL_W})", "resize to 64x44"
            )
        self._pose.append(f)
        self._sil.append(sil / 255.0 if sil.max(initial=0.0) > 1.0 else sil)
        if people is not None:
            self._has_people = True
        self._people.append(int(people) if people is not None else 0)
        t0 = time.perf_counter()
        win = self.kmap.push(f)
        self.timing["kmap_s"] += time.perf_counter() - t0
        if win is None:
            return None
        return self._run_window(win)

    def _run_window(self, win: np.ndarray) -> WindowResult:
        from scoligait_edge.prompts import describe

        pid, _ = describe(win)
        if self.n_prompts:
            pid = min(int(pid), self.n_prompts - 1)
        t0 = time.perf_counter()
        out = self.runner.run(
            {
                "kmap": win[None],
                "silhouette": np.stack(self._sil)[None],
                "prompt_id": np.array([pid], np.int64),
            }
        )
        self.timing["model_s"] += time.perf_counter() - t0
        end = len(self._pose)
        w = WindowResult(
            start=end - WINDOW,
            end=end,
            referral_prob=float(out["referral_prob"][0]),
            cobb_angle=float(out["cobb_angle"][0]),
            prompt_id=int(pid),
            saliency=out["saliency"][0],
        )
        self.windows.append(w)
        if self.on_window is not None:
            self.on_window(w)
        return w

    def finish(
        self,
        source: dict[str, Any] | None = None,
        source_fps: float = FPS,
        pose_s: float = 0.0,
        frames: dict[int, np.ndarray] | None = None,
    ) -> ScreenResult:
        """Quality gate + clip rule + explanation over everything pushed since the last reset."""
        from scoligait_edge.kmap import knowledge_map
        from scoligait_edge.kmap.saliency import clip_saliency, top_features

        pose = np.stack(self._pose) if self._pose else np.zeros((0, 17, 3), np.float32)
        n = len(pose)
        q = Q.quality(pose, source_fps, np.asarray(self._people) if self._has_people else None)
        t0 = time.perf_counter()
        if n:
            km, mask = knowledge_map(pose, FPS, return_mask=True)
        else:
            km, mask = np.zeros((0, N_FEATURES), np.float32), np.zeros((0, N_FEATURES), bool)
        kmap_s = self.timing["kmap_s"] + (time.perf_counter() - t0)
        probs = [w.referral_prob for w in self.windows]
        rule = Q.clip_verdict(q, probs, self.threshold)
        reasons = {r["check"]: r for r in q.reasons()}
        for name in rule["reasons"]:  # "duration" without a failed check: no window was emitted
            if name not in reasons:
                why, remedy = Q.WHY[name]
                reasons[name] = {"check": name, "value": float(n), "threshold": float(WINDOW), "why": why,
                                 "remedy": remedy}  # fmt: skip
        retake = rule["verdict"] == "retake"
        prob = rule["referral_prob"]
        cobb = None if retake else float(np.mean([w.cobb_angle for w in self.windows]))
        sal = None
        expl = None
        if self.windows:
            starts = [w.start for w in self.windows]
            sal = clip_saliency(starts, np.stack([w.saliency for w in self.windows]), n).astype(np.float32)
            expl = top_features(sal, top_k=5)
        total = pose_s + kmap_s + self.timing["model_s"]
        duration = float((source or {}).get("duration_s") or n / FPS)  # of the whole input
        data = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "source": {"path": None, "kind": "pose", "fps": source_fps, "frames": n, "size": None}
            | (source or {}),
            "verdict": rule["verdict"],
            "reasons": list(reasons.values()),
            "referral_prob": prob,
            "threshold": self.threshold,
            "cobb_angle": {
                "estimate_deg": cobb,
                "mae_deg": self.bundle_info.get("cobb_mae_deg"),
                "caveat": COBB_CAVEAT,
            },
            "quality": q.to_json(),
            "windows": [w.to_json() for w in self.windows],
            "explanation": None if retake else expl,
            "bundle": {k: v for k, v in self.bundle_info.items() if k != "cobb_mae_deg"},
            "timing": {
                "total_s": round(total, 4),
                "pose_s": round(pose_s, 4),
                "kmap_s": round(kmap_s, 4),
                "model_s": round(self.timing["model_s"], 4),
                "realtime_factor": _finite(duration / total) if total > 0 else None,
            },
            "toolkit_version": _version(),
            "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return ScreenResult(data, pose, km, mask, sal, frames, list(self.windows))


def _version() -> str:
    from scoligait_edge import __version__

    return __version__
