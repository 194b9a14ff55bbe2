"""``screen``: pose clips and videos → verdict through an exported bundle; quality gate; batch; no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scoligait_edge.export import export_model, load_bundle

from scoligait_edge.contract import WINDOW
from scoligait_edge.errors import InputFileError
from scoligait_edge.pose import read_clip, save_clip
from scoligait_edge.pose.clip import Clip
from scoligait_edge.screen import Screener, screen
from scoligait_edge.screen.batch import run_batch
from scoligait_edge.screen.sources import screen_clip

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VERDICTS = {"refer", "no-referral", "retake"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped student as the portable INT8 ONNX bundle (what `screen` uses by default)."""
    return export_model(
        None, "onnx", tmp_path_factory.mktemp("b") / "student", precision="int8", validate=False
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from scoligait_edge.data.synth import make_dataset

    d = tmp_path_factory.mktemp("ds")
    make_dataset(d / "ds", subjects=4, clips_per_subject=1, frames=192, seed=3)
    return sorted((d / "ds" / "clips").glob("*.npz"))


@pytest.fixture(scope="module")
def screener(bundle: Path) -> Screener:
    return Screener(bundle)


def test_clip_result_is_the_mean_of_the_bundle_windows(
    screener: Screener, clips: list[Path], bundle: Path
) -> None:
    res = screen_clip(clips[0], screener)
    d = res.data
    assert d["schema"] == "scoligait-edge/screen-result" and d["schema_version"] == 1
    assert d["verdict"] in VERDICTS and d["quality"]["passed"] and d["reasons"] == []
    assert len(res.windows) == (192 - WINDOW) // 16 + 1  # window every hop=16 frames once 96 are in
    assert d["referral_prob"] == pytest.approx(np.mean([w.referral_prob for w in res.windows]))
    thr = load_bundle(bundle).manifest["decision_threshold"]
    assert d["threshold"] == pytest.approx(thr)
    assert d["verdict"] == ("refer" if d["referral_prob"] >= thr else "no-referral")
    # the streamed windows are the offline map's windows, run through the same bundle
    from scoligait_edge.kmap import knowledge_map
    from scoligait_edge.prompts import describe

    clip = read_clip(clips[0])
    km = knowledge_map(clip.pose)
    w = res.windows[-1]
    x = {
        "kmap": km[None, w.start : w.end],
        "silhouette": (clip.silhouettes[None, w.start : w.end] / 255.0).astype(np.float32)
        if clip.silhouettes.max() > 1
        else clip.silhouettes[None, w.start : w.end].astype(np.float32),
        "prompt_id": np.array([describe(km[w.start : w.end])[0]]),
    }
    assert load_bundle(bundle).run(x)["referral_prob"][0] == pytest.approx(w.referral_prob, abs=1e-5)
    assert set(d["explanation"]) == {"motion", "skeleton", "crosscorr"}
    top = d["explanation"]["motion"][0]
    assert top["label"] and 0 <= top["frames"][0] < top["frames"][1] <= 192
    assert res.saliency.shape == (192, 238) and res.saliency.sum() == pytest.approx(1.0, rel=1e-4)
    assert d["bundle"]["target"] == "onnx" and d["bundle"]["device_class"] == "any"
    assert "not a measurement" in d["cobb_angle"]["caveat"]


def test_short_clip_is_retake_never_a_decision(screener: Screener, clips: list[Path], tmp_path: Path) -> None:
    clip = read_clip(clips[1])
    short = Clip(pose=clip.pose[:80], fps=30.0, silhouettes=clip.silhouettes[:80])
    p = save_clip(tmp_path / "short.npz", short)
    res = screen_clip(p, screener)
    assert res.verdict == "retake" and res.data["referral_prob"] is None and res.data["explanation"] is None
    reasons = {r["check"]: r for r in res.data["reasons"]}
    assert "duration" in reasons and "5 s" in reasons["duration"]["remedy"]


def test_side_view_is_retake_with_the_remedy(screener: Screener, clips: list[Path], tmp_path: Path) -> None:
    """A walker filmed from the side: shoulders and hips overlap in x (rotate the frontal clip by 90°)."""
    clip = read_clip(clips[2])
    pose = clip.pose.copy()
    mid = np.nanmean(pose[:, [11, 12], 0], axis=1, keepdims=True)
    pose[:, :, 0] = mid + 0.15 * (pose[:, :, 0] - mid)  # lateral widths collapse in a side view
    p = save_clip(tmp_path / "side.npz", Clip(pose=pose, fps=30.0))
    res = screen_clip(p, screener)
    assert res.verdict == "retake"
    view = next(r for r in res.data["reasons"] if r["check"] == "camera_view")
    assert view["value"] < view["threshold"] and "front or back" in view["remedy"]


def test_batch_survives_a_corrupt_file_and_resumes(
    screener: Screener, clips: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00not a video")
    items = [str(clips[0]), str(bad), str(clips[1])]
    out = tmp_path / "out"
    rows = run_batch(items, screener, out)
    assert [r["status"] for r in rows] == ["screened", "error", "screened"]
    assert "broken.mp4" in rows[1]["error"] and "\n" not in rows[1]["error"]
    assert (out / "s00000_c00" / "result.json").is_file() and (out / "results.csv").is_file()
    again = run_batch(items, screener, out)
    assert again[0]["status"].startswith("skipped") and again[2]["status"].startswith("skipped")
    assert again[1]["status"] == "error"  # a failed input is tried again
    csv = (out / "results.csv").read_text().splitlines()
    assert csv[0].startswith("input,output,status,verdict") and len(csv) == 4


def test_screen_api_sources(bundle: Path, clips: list[Path], tmp_path: Path) -> None:
    results = list(screen(str(clips[0].parent), bundle=bundle, stream=True))
    assert len(results) == len(clips) and all(r.verdict in VERDICTS for r in results)
    with pytest.raises(InputFileError, match="no such file"):
        screen(str(tmp_path / "missing.mp4"), bundle=bundle)
    with pytest.raises(InputFileError, match="matches no file"):
        screen(str(tmp_path / "*.avi"), bundle=bundle)
    saved = results[0].save(tmp_path / "r")
    data = json.loads((saved / "result.json").read_text())
    assert data == results[0].to_json()


def test_cli_one_line_error_and_exit_code(bundle: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("scoligait-edge")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF....AVI garbage")
    res = subprocess.run(
        [str(exe), "screen", str(bad), "--bundle", str(bundle), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: 1 of 1 input(s) could not be screened")


def test_device_side_screens_and_verifies_without_torch(bundle: Path, clips: list[Path]) -> None:
    """`verify` and `screen` of a pose clip with torch made impossible to import."""
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
        "from scoligait_edge.runtime.verify import verify\n"
        "from scoligait_edge.screen import Screener\n"
        "from scoligait_edge.screen.sources import screen_clip\n"
        f"assert verify({str(bundle)!r})['passed']\n"
        f"r = screen_clip({str(clips[0])!r}, Screener({str(bundle)!r}))\n"
        "assert r.verdict in ('refer', 'no-referral', 'retake'), r.verdict\n"
        "print('ok', r.verdict)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("ok"), res.stderr[-800:]


def test_default_bundle_needs_torch_or_a_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scoligait_edge.errors import UnavailableError
    from scoligait_edge.screen import bundles

    monkeypatch.setenv("SCOLIGAIT_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(UnavailableError, match="pass --bundle"):
        bundles.default_bundle()


@pytest.mark.slow
@pytest.mark.video
def test_vtest_pedestrians_are_retake(screener: Screener) -> None:
    """Real footage outside the protocol (10 fps, several pedestrians crossing): retake with reasons."""
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} is absent (Debian package opencv-doc)")
    from scoligait_edge.screen.sources import screen_video

    res = screen_video(VTEST, screener, progress=False)
    assert res.verdict == "retake" and res.data["referral_prob"] is None
    failed = {r["check"] for r in res.data["reasons"]}
    assert "frame_rate" in failed  # vtest.avi is 10 fps
    assert res.data["source"]["kind"] == "video" and res.data["timing"]["pose_s"] > 0


@pytest.mark.slow
@pytest.mark.video
def test_frames_only_on_request(screener: Screener, tmp_path: Path) -> None:
    """Reports carry video pixels only with include_frames (a short re-encode of vtest.avi)."""
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} is absent (Debian package opencv-doc)")
    import cv2

    from scoligait_edge.screen.sources import screen_video

    cap, src = cv2.VideoCapture(str(VTEST)), tmp_path / "walk.avi"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for _ in range(200):
        ok, frame = cap.read()
        if not ok:
            break
        w.write(frame)
    w.release()
    cap.release()
    plain = screen_video(src, screener, progress=False)
    assert plain.frames is None
    html = plain.save(tmp_path / "plain") / "report.html"
    assert "image/jpeg" not in html.read_text()
    shown = screen_video(src, screener, progress=False, include_frames=True)
    assert shown.frames and all(f.shape[1] == 320 and f.shape[2] == 3 for f in shown.frames.values())
    html = shown.save(tmp_path / "shown", include_frames=True) / "report.html"
    assert "image/jpeg" in html.read_text()


@pytest.mark.slow
@pytest.mark.video
def test_live_stream_url_prints_windows(bundle: Path, tmp_path: Path) -> None:
    """LIVE_STREAM through a stream URL (file:// here; rtsp/http the same way): per-window lines."""
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} is absent (Debian package opencv-doc)")
    exe = Path(sys.executable).with_name("scoligait-edge")
    url = f"file://{VTEST}"
    res = subprocess.run(
        [
            str(exe),
            "screen",
            url,
            "--bundle",
            str(bundle),
            "--out",
            str(tmp_path / "o"),
            "--max-frames",
            "60",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},  # no line wrapping by rich
    )
    assert res.returncode == 0, res.stderr[-500:]
    assert "window 0-96: p(refer)" in res.stderr and "ms per 30 Hz frame" in res.stderr
    data = json.loads(next((tmp_path / "o").glob("*/result.json")).read_text())
    assert data["source"]["kind"] == "camera" and data["source"]["fps"] == pytest.approx(10.0)
    assert data["verdict"] == "retake" and "frame_rate" in {r["check"] for r in data["reasons"]}
