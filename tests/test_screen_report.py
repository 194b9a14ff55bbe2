"""The clinician's HTML report: self-contained, escaped, no video pixels by default, draws in Chromium."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from scoligait_edge.data.synth import SynthConfig, sample_subject, simulate_clip
from scoligait_edge.errors import OutputExistsError
from scoligait_edge.kmap import knowledge_map
from scoligait_edge.kmap.saliency import top_features
from scoligait_edge.screen.report import render_report, write_report

HOSTILE = "<script>alert(1)</script>.mp4"
FPS = 30.0


def _saliency(n: int, rng: np.random.Generator) -> np.ndarray:
    """Attention-like saliency: a few smooth blobs over (time, feature) plus a floor, summing to 1."""
    t = np.arange(n)[:, None]
    f = np.arange(238)[None, :]
    sal = np.full((n, 238), 1e-4)
    for _ in range(6):
        t0, f0 = rng.uniform(0, n), rng.integers(0, 238)
        sal += rng.uniform(0.3, 1.0) * np.exp(-((t - t0) ** 2) / (2 * 12.0**2) - (f - f0) ** 2 / (2 * 1.5**2))
    return (sal / sal.sum()).astype(np.float32)


def make_result(
    verdict: str = "refer", frames: int = 192, with_frames: bool = False, path: str = "clips/child_07.mp4"
) -> SimpleNamespace:
    """A ScreenResult-like object: synthetic pose, its real knowledge map, attention-like saliency."""
    rng = np.random.default_rng(7)
    clip = simulate_clip(sample_subject(0, 3), 0, 0, SynthConfig(frames=frames), silhouettes=False)
    pose = clip.pose.astype(np.float32)
    kmap, mask = knowledge_map(pose, FPS, return_mask=True)
    retake = verdict == "retake"
    sal = None if retake else _saliency(frames, rng)
    starts = list(range(0, frames - 95, 48))
    centre = 0.7 if verdict == "refer" else 0.25
    probs = np.clip(centre + rng.normal(0, 0.1, len(starts)), 0.01, 0.99)
    windows = [
        {"start": s, "end": s + 96, "referral_prob": float(p), "cobb_angle": float(c), "prompt_id": 2}
        for s, p, c in zip(starts, probs, rng.uniform(8, 20, len(starts)), strict=True)
    ]
    checks = [
        {"name": "person visible", "value": 0.97, "threshold": 0.8, "passed": True, "measured": True,
         "why": "the whole body must be in view", "remedy": "step back so head and feet are in frame"},
        {"name": "walking frames", "value": 40.0 if retake else 180.0, "threshold": 96.0,
         "passed": not retake, "measured": True, "why": "one analysis window needs 96 frames (3.2 s)",
         "remedy": "record at least 4 s of continuous walking"},
        {"name": "lighting", "value": None, "threshold": 0.2, "passed": True, "measured": False,
         "why": "too dark frames lose joints", "remedy": "switch on the room lights"},
    ]  # fmt: skip
    data = {
        "schema": "scoligait-edge/screen-result",
        "schema_version": 1,
        "source": {"path": path, "kind": "video", "fps": FPS, "frames": frames, "size": [1920, 1080]},
        "verdict": verdict,
        "reasons": [
            {
                "check": c["name"],
                "value": c["value"],
                "threshold": c["threshold"],
                "why": c["why"],
                "remedy": c["remedy"],
            }
            for c in checks
            if not c["passed"]
        ],
        "referral_prob": None if retake else (0.7321 if verdict == "refer" else 0.2468),
        "threshold": 0.5,
        "cobb_angle": {
            "estimate_deg": None if retake else 14.25,
            "mae_deg": 4.8,
            "caveat": "Estimated from gait; not a radiographic measurement.",
        },
        "quality": {"passed": not retake, "checks": checks},
        "windows": [] if retake else windows,
        "explanation": None if retake else top_features(sal, top_k=5, fps=FPS),
        "bundle": {
            "path": "bundles/student_int8",
            "target": "onnx",
            "precision": "int8",
            "device_class": "cpu-2core",
            "recipe": "ptq-minmax",
            "manifest_sha256": "ab" * 32,
        },
        "timing": {"total_s": 9.1, "pose_s": 8.2, "kmap_s": 0.4, "model_s": 0.3, "realtime_factor": 0.7},
        "toolkit_version": "0.1.0",
        "created_utc": "2025-01-01T12:00:00Z",
    }
    fr = None
    if with_frames:
        fr = {i: rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for i in range(0, frames, 24)}
    return SimpleNamespace(data=data, pose=pose, kmap=kmap, mask=mask, saliency=sal, frames=fr)


def _data_uris(text: str) -> list[tuple[str, bytes]]:
    return [
        (m, base64.b64decode(b)) for m, b in re.findall(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)", text)
    ]


def _visible(text: str) -> str:
    """The page's visible text (drawings and tags removed, entities kept)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>|<style>.*?</style>", " ", text, flags=re.S))


def _assert_self_contained(text: str) -> None:
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # SVG namespace is not a fetch
    assert "https://" not in text
    assert "url(" not in text and "@import" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower() and "<iframe" not in text.lower()
    for attr, value in re.findall(r"""\b(src|href|srcset|poster|data)\s*=\s*['"]([^'"]*)""", text):
        assert value.startswith("data:"), (attr, value[:80])


def test_report_is_self_contained_and_complete(tmp_path):
    res = make_result("refer")
    out = write_report(res, tmp_path / "report.html")
    text = out.read_text("utf-8")
    _assert_self_contained(text)
    assert out.stat().st_size < 1_500_000
    # decision, Cobb with error and caveat, quality table, features, windows, bundle, timing
    assert ">Refer<" in text and "0.732" in text and "threshold 0.500" in text
    assert "14.2°" in text and "± 4.8°" in text and "Not a measurement" in text
    assert "Estimated from gait; not a radiographic measurement." in text and "radiograph (X-ray" in text
    for name in ("person visible", "walking frames", "lighting", "not measured", "Remedy"):
        assert name in text
    expl = res.data["explanation"]
    for domain in ("motion", "skeleton", "crosscorr"):
        top = expl[domain][0]
        assert top["label"] in text or top["label"].replace("'", "&#x27;") in text
        assert f"{100 * top['score']:.1f} %" in text
    assert "Per-window results" in text and text.count("<tr><td class='num'>") >= len(res.data["windows"])
    assert "ab" * 32 in text and "int8" in text and "0.70×" in text
    # images decode: one PNG knowledge map, skeletons as inline SVG, no JPEG frames
    uris = _data_uris(text)
    assert [m for m, _ in uris] == ["image/png"]
    import cv2

    img = cv2.imdecode(np.frombuffer(uris[0][1], np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[0] > 300 and img.shape[1] > 600
    assert text.count("aria-label='skeleton'") == 3 and text.count("<line") > 3 * 7 * 10


def test_pipeline_caveat_replaces_the_default_one():
    res = make_result("refer")
    res.data["cobb_angle"]["caveat"] = (
        "a model estimate from gait, not a measurement: only an X-ray measures it"
    )
    text = render_report(res)
    assert "Not a measurement.</strong> A model estimate from gait, not a measurement" in text
    assert "radiograph (X-ray" not in text  # no second, redundant caveat


def test_hostile_strings_are_escaped(tmp_path):
    res = make_result("refer", path=HOSTILE)
    d = res.data
    d["bundle"]["path"] = HOSTILE
    d["quality"]["checks"][0]["name"] = HOSTILE
    d["quality"]["checks"][1]["remedy"] = "<img src=x onerror=alert(2)>"
    d["explanation"]["motion"][0]["label"] = "<b onmouseover='x'>lean</b>"
    d["toolkit_version"] = '"><script>alert(3)</script>'
    d["created_utc"] = "</title><script>alert(4)</script>"
    text = write_report(res, tmp_path / "r.html").read_text("utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.mp4" in text
    assert "<img src=x" not in text and "<b onmouseover" not in text
    assert "onerror=alert(2)" not in text.replace("&lt;img src=x onerror=alert(2)&gt;", "")
    _assert_self_contained(text)
    assert "default-src 'none'" in text  # CSP as a second line of defence


def test_retake_shows_reasons_and_no_decision(tmp_path):
    res = make_result("retake")
    res.data["referral_prob"] = 0.91  # even if a probability leaked into the result, it is not shown
    res.data["cobb_angle"]["estimate_deg"] = 17.5
    res.saliency = np.full(res.kmap.shape, 1.0 / res.kmap.size, np.float32)
    text = write_report(res, tmp_path / "r.html").read_text("utf-8")
    _assert_self_contained(text)
    assert ">Retake<" in text and "no referral decision was made" in text
    assert "walking frames" in text and "record at least 4 s of continuous walking" in text
    assert "measured 40, threshold 96" in text
    seen = _visible(text)
    assert "0.91" not in seen and "17.5" not in seen
    assert "Referral probability" not in seen and "referral threshold" not in seen
    assert ">Refer<" not in text and "No referral<" not in text
    assert "Per-window results" not in text and "Top features" not in text
    assert "Skeleton overview" in text  # what the pose estimator saw, still without pixels
    assert "no model output" in text


def test_no_video_pixels_by_default_frames_on_request(tmp_path):
    res = make_result("no-referral", with_frames=True)
    default = write_report(res, tmp_path / "a.html").read_text("utf-8")
    assert "image/jpeg" not in default and "Video frames" not in default
    assert [m for m, _ in _data_uris(default)] == ["image/png"]  # only the knowledge map
    assert "no video pixels" in default

    path = write_report(res, tmp_path / "b.html", include_frames=True)
    text = path.read_text("utf-8")
    _assert_self_contained(text)
    jpegs = [b for m, b in _data_uris(text) if m == "image/jpeg"]
    assert len(jpegs) == 8 and all(b[:3] == b"\xff\xd8\xff" for b in jpegs)
    import cv2

    first = cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (180, 320, 3)  # downscaled
    assert path.stat().st_size < 2_000_000
    assert "contains video frames" in text

    res.frames = None
    text = write_report(res, tmp_path / "c.html", include_frames=True).read_text("utf-8")
    assert "image/jpeg" not in text and "holds none" in text


def test_refuses_to_overwrite_without_force(tmp_path):
    res = make_result("no-referral")
    p = tmp_path / "report.html"
    p.write_text("old")
    with pytest.raises(OutputExistsError):
        write_report(res, p)
    assert p.read_text() == "old"
    assert write_report(res, p, force=True) == p
    assert "No referral" in p.read_text("utf-8")
    assert [x.name for x in tmp_path.iterdir()] == ["report.html"]  # no temporary left behind


def test_degenerate_inputs_still_render():
    res = make_result("refer", frames=120)
    res.pose[40:60] = np.nan  # lost track
    res.kmap[:5, :10] = np.nan
    res.mask = None
    res.data["windows"] = []
    res.data["timing"]["realtime_factor"] = None
    text = render_report(res)
    _assert_self_contained(text)
    assert "knowledge map could not be drawn" not in text
    res.kmap = np.zeros((0, 238), np.float32)
    res.pose = None
    res.data["source"]["fps"] = None
    text = render_report(res)
    assert "No knowledge map to show" in text and ">Refer<" in text


def test_works_without_matplotlib_pillow_or_opencv(monkeypatch):
    res = make_result("refer", with_frames=True)
    for mod in ("matplotlib", "PIL", "cv2"):
        monkeypatch.setitem(sys.modules, mod, None)  # import → ImportError
    text = render_report(res, include_frames=True)
    _assert_self_contained(text)
    uris = _data_uris(text)
    assert len(uris) == 1 + 8 and all(m == "image/png" for m, _ in uris)
    assert "purple tint" in text  # the plain drawing's caption explains its layout
    monkeypatch.undo()
    import cv2

    for _, b in uris:
        assert cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) is not None


# --------------------------------------------------------------------------- real browser
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def _screenshot(exe: str, page: Path, png: Path, tmp: Path, size: str = "1280,2400") -> tuple[int, str]:
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--screenshot={png}",
           f"--window-size={size}", page.resolve().as_uri()]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _console_lines(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if ":CONSOLE" in ln]


@pytest.mark.slow
def test_report_draws_in_headless_chromium(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (make browser: apt-get install -y -qq chromium)")
    # Control page: proves Chromium runs here and that console errors reach the log we check.
    ctl = tmp_path / "control.html"
    ctl.write_text("<!doctype html><h1>control</h1><script>console.error('control-error')</script>")
    rc, log = _screenshot(exe, ctl, tmp_path / "control.png", tmp_path, "400,300")
    if rc != 0 or not (tmp_path / "control.png").exists():
        pytest.skip(f"chromium cannot run here (rc={rc}): {log.strip().splitlines()[-1:]}")
    assert any("control-error" in ln for ln in _console_lines(log)), "console errors are not logged"

    import cv2

    for verdict in ("refer", "retake"):
        page = write_report(make_result(verdict), tmp_path / f"{verdict}.html")
        png = tmp_path / f"{verdict}.png"
        rc, log = _screenshot(exe, page, png, tmp_path)
        assert rc == 0, log[-2000:]
        assert _console_lines(log) == [], _console_lines(log)
        img = cv2.imread(str(png), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[:2] == (2400, 1280)
        assert float(img.std()) > 20.0
        colours = np.unique((img[::4, ::4] // 16).reshape(-1, 3), axis=0)
        assert len(colours) > 40, len(colours)
        assert (img < 200).any(axis=2).mean() > 0.03  # not an almost white page
        if verdict == "refer":  # the heatmap's saturated reds and blues were drawn
            b, _, r = (img[..., i].astype(int) for i in range(3))
            assert ((r - b > 80) & (r > 150)).sum() > 500 and ((b - r > 80) & (b > 120)).sum() > 500
        keep = os.environ.get("SCOLIGAIT_SCREENSHOT_DIR")  # for a person to look at
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, Path(keep) / f"report_{verdict}.png")
