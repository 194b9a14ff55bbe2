"""Pose from video: model bundle assembly, mapping, resampling, tracking, silhouettes, errors, CLI.

Videos are rendered here with OpenCV: a cartoon walker (head with eyes, torso, swinging
arms and legs) that MediaPipe's pose landmarker detects at its default thresholds, so
positions can be checked against what was drawn.
"""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.errors import InputFileError, ModelError, PoseError
from scoligait_edge.pose import load_clip
from scoligait_edge.pose.assets import MODEL_SOURCES, pose_bundle, pose_dir, setup_assets
from scoligait_edge.pose.coco import MEDIAPIPE_TO_COCO
from scoligait_edge.pose.video import (
    REACQUIRE_AFTER,
    PersonTracker,
    extract_pose,
    parse_roi,
    resample_nearest,
    resample_pose,
    resample_times,
    silhouette_64x44,
    to_coco,
)

SHOULDER_Y, HIP_Y, SHOULDER_DX, HIP_DX = 105, 185, 30, 14  # where the walker's joints are drawn


# ----------------------------------------------------------------------------- rendering


def draw_walker(img: np.ndarray, t: int, cx: float, top: float, scale: float = 1.0) -> None:
    """Draw a front-facing cartoon walker whose shoulders are at (cx ± 30s, top + 105s)."""
    import cv2

    ph = 2 * math.pi * t / 12

    def p(x: float, y: float) -> tuple[int, int]:
        return round(cx + x * scale), round(top + y * scale)

    def w(px: float) -> int:
        return max(1, int(px * scale))

    skin, shirt, pants = (150, 180, 225), (60, 60, 170), (90, 60, 40)
    for side, sgn in ((-1, 1), (1, -1)):
        a = 0.35 * math.sin(ph) * sgn
        hx, kx, ky = side * HIP_DX, side * HIP_DX + 45 * math.sin(a), HIP_Y + 45
        ax, ay = kx + 45 * math.sin(a * 0.6), ky + 45
        cv2.line(img, p(hx, HIP_Y), p(kx, ky), pants, w(16))
        cv2.line(img, p(kx, ky), p(ax, ay), pants, w(14))
        cv2.ellipse(img, p(ax + 6, ay + 4), (w(12), w(6)), 0, 0, 360, (30, 30, 30), -1)
    cv2.ellipse(img, p(0, (SHOULDER_Y + HIP_Y) / 2 - 2), (w(30), w(48)), 0, 0, 360, shirt, -1)
    for side, sgn in ((-1, -1), (1, 1)):
        a = 0.35 * math.sin(ph) * sgn
        sx, ex, ey = side * SHOULDER_DX, side * SHOULDER_DX + 40 * math.sin(a), SHOULDER_Y + 35
        wx, wy = ex + 35 * math.sin(a * 1.2), ey + 35
        cv2.line(img, p(sx, SHOULDER_Y), p(ex, ey), shirt, w(12))
        cv2.line(img, p(ex, ey), p(wx, wy), skin, w(10))
    cv2.line(img, p(0, 88), p(0, 104), skin, w(12))
    cv2.circle(img, p(0, 65), w(22), skin, -1)
    for dx in (-8, 8):
        cv2.circle(img, p(dx, 62), w(3), (40, 40, 40), -1)


def write_video(path: Path, frames: list[np.ndarray], fps: float, fourcc: str = "MJPG") -> Path:
    import cv2

    h, w = frames[0].shape[:2] if frames else (120, 160)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def blank(w: int = 320, h: int = 320) -> np.ndarray:
    return np.full((h, w, 3), (200, 190, 170), np.uint8)


def walker_video(path: Path, n: int = 24, fps: float = 10, fourcc: str = "MJPG", present=None) -> Path:
    frames = []
    for t in range(n):
        img = blank()
        if present is None or present(t):
            draw_walker(img, t, 160, 0)
        frames.append(img)
    return write_video(path, frames, fps, fourcc)


@pytest.fixture(scope="module")
def bundle() -> Path:
    try:
        return pose_bundle()
    except ModelError as e:
        pytest.skip(f"pose model bundle not set up ({e}); run `scoligait-edge setup-assets`")


@pytest.fixture(scope="module")
def walker_avi(tmp_path_factory, bundle) -> Path:
    return walker_video(tmp_path_factory.mktemp("vid") / "walker.avi")


@pytest.fixture(scope="module")
def walker_clips(walker_avi):
    return extract_pose(walker_avi, progress=False)


# ----------------------------------------------------------------------------- bundle assembly


def _fake_wheel(path: Path, tamper: bool = False) -> Path:
    src = pose_dir() / "src"
    with zipfile.ZipFile(path, "w") as zf:
        for s in MODEL_SOURCES:
            data = (src / Path(s.wheel_path).name).read_bytes()
            if tamper:
                data = data[:-1] + bytes([data[-1] ^ 1])
            zf.writestr(s.wheel_path, data)
    return path


def test_bundle_assembles_offline_reproducibly_and_is_idempotent(tmp_path, bundle):
    from scoligait_edge.fileio import sha256_file
    from scoligait_edge.pose.tflite_metadata import read_normalization

    wheel = _fake_wheel(tmp_path / "mediapipe-0.10.21-fake.whl")
    messages: list[str] = []
    built = setup_assets(tmp_path / "cache", wheel=wheel, status=messages.append)
    assert sha256_file(built) == sha256_file(bundle)  # same bytes as the project's own set-up
    with zipfile.ZipFile(built) as zf:
        norms = {n: read_normalization(zf.read(n)) for n in zf.namelist()}
        offsets = [zf.getinfo(n).header_offset for n in zf.namelist()]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    assert norms == {"pose_detector.tflite": (127.5, 127.5), "pose_landmarks_detector.tflite": (0.0, 255.0)}
    assert len(offsets) == 2
    mtime = built.stat().st_mtime_ns
    again = setup_assets(tmp_path / "cache", status=messages.append)  # no wheel needed any more
    assert again == built and built.stat().st_mtime_ns == mtime
    assert "ready" in messages[-1]
    built.unlink()  # sources are cached: re-assembly is offline and gives the same bytes
    assert sha256_file(setup_assets(tmp_path / "cache")) == sha256_file(bundle)


def test_tampered_model_or_bundle_is_refused(tmp_path, bundle):
    with pytest.raises(ModelError, match="sha256"):
        setup_assets(tmp_path / "c1", wheel=_fake_wheel(tmp_path / "bad.whl", tamper=True))
    with pytest.raises(ModelError, match="setup-assets"):
        pose_bundle(tmp_path / "c1")
    built = setup_assets(tmp_path / "c2", wheel=_fake_wheel(tmp_path / "good.whl"))
    data = bytearray(built.read_bytes())
    data[len(data) // 2] ^= 0xFF
    built.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        pose_bundle(tmp_path / "c2")


def test_missing_bundle_names_the_set_up_command(tmp_path, monkeypatch, walker_avi):
    monkeypatch.setenv("SCOLIGAIT_CACHE", str(tmp_path / "empty"))
    with pytest.raises(ModelError, match=r"scoligait-edge setup-assets.*make setup"):
        extract_pose(walker_avi, progress=False)


def test_metadata_writer_replaces_existing_metadata(bundle):
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    from scoligait_edge.pose.tflite_metadata import read_normalization, with_image_metadata

    detector = (pose_dir() / "src" / "pose_detection.tflite").read_bytes()  # ships a metadata entry
    out = with_image_metadata(detector, name="d", mean=1.0, std=2.0)
    assert read_normalization(out) == (1.0, 2.0)
    model = tfl.Model.GetRootAs(out, 0)
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert names.count(b"TFLITE_METADATA") == 1 and b"min_runtime_version" in names


# ----------------------------------------------------------------------------- pure functions


def test_mediapipe_to_coco_mapping_keeps_sides():
    mp33 = np.stack([np.arange(33), np.arange(33) + 100, np.full(33, 0.5)], axis=1).astype(np.float32)
    coco, extra = to_coco(mp33)
    assert coco[:, 0].tolist() == list(MEDIAPIPE_TO_COCO)
    assert coco[5, 0] == 11 and coco[6, 0] == 12  # left/right shoulder = MediaPipe 11/12
    assert coco[15, 0] == 27 and coco[16, 0] == 28  # left/right ankle = MediaPipe 27/28
    assert extra[:, 0].tolist() == [29, 30, 31, 32]


def test_resampling_10fps_to_30hz_is_linear_and_respects_gaps():
    times = np.arange(5) / 10.0
    values = np.zeros((5, 2, 3), np.float32)
    values[:, :, 0] = np.arange(5)[:, None] * 3.0
    values[:, :, 2] = 0.9
    values[2, 1] = (np.nan, np.nan, 0.0)
    target = resample_times(5, 10.0)
    assert len(target) == 13  # (5 - 1) * 3 + 1
    out = resample_pose(times, values, target)
    np.testing.assert_allclose(out[:, 0, 0], np.arange(13), atol=1e-5)
    assert np.isnan(out[4:9, 1, 0]).all() and (out[4:9, 1, 2] == 0).all()  # around the missing sample
    assert np.isfinite(out[[0, 3, 9, 12], 1, 0]).all()
    assert len(resample_times(31, 15.0)) == 61 and len(resample_times(60, 60.0)) == 30
    masks = np.arange(5)[:, None, None] * np.ones((1, 2, 2))
    assert resample_nearest(times, masks, target)[:, 0, 0].tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4]


def test_silhouette_is_cropped_centred_64x44():
    import cv2

    mask = np.zeros((300, 400), np.float32)
    cv2.ellipse(mask, (300, 150), (20, 100), 0, 0, 360, 1.0, -1)  # tall thin person, off-centre
    sil = silhouette_64x44(mask)
    assert sil.shape == (64, 44) and sil.dtype == np.uint8
    rows = np.flatnonzero(sil.any(axis=1))
    cols = np.flatnonzero(sil.any(axis=0))
    assert rows[0] <= 1 and rows[-1] >= 62  # full height
    assert abs((cols[0] + cols[-1]) / 2 - 21.5) <= 1.5  # centred
    assert silhouette_64x44(None).sum() == 0 and silhouette_64x44(np.zeros((10, 10))).sum() == 0


def test_tracker_ignores_a_bigger_bystander_and_reports_jumps():
    tr = PersonTracker()
    walker = [(100 + 3 * t, 100, 140 + 3 * t, 220) for t in range(30)]
    bystander = (400, 50, 500, 300)  # larger, far away
    for t in range(10):
        assert tr.choose([walker[t]], t, t / 10) == 0
    for t in range(10, 20):
        assert tr.choose([bystander, walker[t]], t, t / 10) == 1
    assert tr.jumps == []
    picks = [tr.choose([bystander], t, t / 10) for t in range(20, 20 + REACQUIRE_AFTER + 1)]
    assert picks[:-1] == [None] * REACQUIRE_AFTER and picks[-1] == 0
    assert len(tr.jumps) == 1 and tr.jumps[0].source_frame == 20 + REACQUIRE_AFTER


@pytest.mark.parametrize(
    ("text", "match"), [("1,2,3", "not x,y,w,h"), ("a,b,c,d", "not x,y,w,h"), ("0,0,0,10", "empty size")]
)
def test_bad_roi_is_a_typed_error(text, match):
    with pytest.raises(InputFileError, match=match):
        parse_roi(text)
    assert parse_roi("10, 20, 30, 40") == (10, 20, 30, 40)


# ----------------------------------------------------------------------------- rendered videos


def test_rendered_walker_round_trip(walker_clips, walker_avi, tmp_path):
    from scoligait_edge.pose import save_clip

    assert len(walker_clips) == 1
    clip = walker_clips[0]
    m = clip.metadata
    assert len(clip) == (24 - 1) * 3 + 1 and clip.fps == 30.0  # 10 fps → 30 Hz
    assert m["source_fps"] == 10 and m["source_frames"] == 24 and m["detection_rate"] >= 0.9
    assert m["model"]["variant"] == "full" and len(m["model"]["bundle_sha256"]) == 64
    assert m["thresholds"]["min_detection_confidence"] == 0.5 and m["track_jumps"] == []
    # Joints land where they were drawn (front-facing: the person's left is on the image right).
    sh, hips = np.nanmedian(clip.pose[:, 5:7, :2], axis=0), np.nanmedian(clip.pose[:, 11:13, :2], axis=0)
    np.testing.assert_allclose(sh[:, 0], [160 + SHOULDER_DX, 160 - SHOULDER_DX], atol=12)
    np.testing.assert_allclose(sh[:, 1], [SHOULDER_Y, SHOULDER_Y], atol=12)
    assert (hips[:, 1] > sh[:, 1] + 40).all() and hips[0, 0] > hips[1, 0]
    assert ((clip.pose[..., 2] >= 0) & (clip.pose[..., 2] <= 1)).all()
    assert clip.extra.shape == (len(clip), 4, 3)
    assert (
        clip.silhouettes.shape == (len(clip), 64, 44)
        and (clip.silhouettes.reshape(len(clip), -1).max(1) == 255).all()
    )
    back = load_clip(save_clip(tmp_path / "w.npz", clip))
    np.testing.assert_array_equal(back.pose, clip.pose)
    assert back.metadata["source"] == str(walker_avi.resolve())


def test_other_fps_and_codec_resample_to_30hz(tmp_path, bundle):
    clips = extract_pose(walker_video(tmp_path / "w15.mp4", n=16, fps=15, fourcc="mp4v"), progress=False)
    assert len(clips) == 1 and len(clips[0]) == (16 - 1) * 2 + 1  # 15 fps → 30 Hz
    assert clips[0].metadata["source_fps"] == 15 and clips[0].metadata["detection_rate"] >= 0.9


def test_every_skips_frames(walker_avi, walker_clips):
    clips = extract_pose(walker_avi, every=3, progress=False)
    m = clips[0].metadata
    assert m["processed_frames"] == 8 and m["every"] == 3  # frames 0, 3, …, 21
    assert len(clips[0]) == 21 * 3 + 1
    full = walker_clips[0].pose[: len(clips[0])]
    assert (
        np.nanmedian(np.abs(clips[0].pose[::9, 5:7, :2] - full[::9, 5:7, :2])) < 3.0
    )  # sampled frames agree


def test_roi_restricts_the_search_and_keeps_frame_coordinates(tmp_path, bundle):
    frames = []
    for t in range(12):
        img = blank(560, 320)
        draw_walker(img, t, 400, 0)
        frames.append(img)
    video = write_video(tmp_path / "wide.avi", frames, 10)
    clip = extract_pose(video, roi=(240, 0, 320, 320), progress=False)[0]
    assert clip.metadata["roi"] == [240, 0, 320, 320]
    np.testing.assert_allclose(np.nanmedian(clip.pose[:, 5:7, 0], axis=0), [430, 370], atol=12)
    with pytest.raises(PoseError, match="no person detected"):
        extract_pose(video, roi=(0, 0, 240, 320), progress=False)


def test_bystander_does_not_steal_the_track_and_long_loss_splits(tmp_path, bundle):
    frames = []
    for t in range(24):
        img = blank(480, 320)
        if t < 14:
            draw_walker(img, t, 120 + 2 * t, 0)
        if t >= 6:
            draw_walker(img, t, 370, 40, scale=0.85)
        frames.append(img)
    clips = extract_pose(write_video(tmp_path / "two.avi", frames, 10), progress=False)
    first = clips[0]
    assert first.metadata["track_jumps"] == []
    assert np.nanmax(first.pose[:, 5:7, 0]) < 260  # stayed on the walker while the bystander was there
    assert len(clips) == 2 and "person lost" in clips[1].metadata["split_reason"]
    jumps = clips[1].metadata["track_jumps"]
    assert len(jumps) == 1 and "switched" in jumps[0]["reason"]
    assert np.nanmin(clips[1].pose[:, 5:7, 0]) > 300


def test_pose_stream_yields_30hz_frames_matching_the_offline_clip(walker_avi, walker_clips):
    from scoligait_edge.pose.stream import PoseStream

    ps = PoseStream(walker_avi)
    frames = list(ps)
    assert (
        len(frames) == len(walker_clips[0]) and frames[0].shape == (17, 3) and frames[0].dtype == np.float32
    )
    stacked = np.stack(frames)
    ok = np.isfinite(stacked[..., 0])
    np.testing.assert_allclose(stacked[ok], walker_clips[0].pose[ok], atol=1e-4)
    assert ps.detection_rate == walker_clips[0].metadata["detection_rate"]


# ----------------------------------------------------------------------------- bad input


def _corrupt_variants(tmp_path: Path, good_avi: Path) -> dict[str, tuple[Path, str]]:
    data = good_avi.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    codec = bytearray(data)
    for tag in (b"MJPG", b"mjpg"):
        codec = bytearray(bytes(codec).replace(tag, b"ZQZQ"))
    bad_codec = tmp_path / "codec.avi"
    bad_codec.write_bytes(bytes(codec))
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    cut_mp4 = tmp_path / "cut.mp4"
    cut_mp4.write_bytes(walker_video(tmp_path / "ok.mp4", n=6, fourcc="mp4v").read_bytes()[:3000])
    return {
        "missing": (tmp_path / "nope.avi", "no such video file"),
        "truncated avi": (cut, "truncated"),
        "truncated mp4": (cut_mp4, "could not be opened"),
        "unsupported codec": (bad_codec, "unsupported codec 'ZQZQ'"),
        "not a video": (garbage, "not a video"),
        "empty": (empty, "empty file"),
        "zero frames": (write_video(tmp_path / "zero.avi", [], 10), "zero frames"),
        "directory": (tmp_path, "not a file"),
    }


def test_bad_videos_raise_one_line_errors_naming_the_file(tmp_path, walker_avi, bundle):
    for label, (path, match) in _corrupt_variants(tmp_path, walker_avi).items():
        with pytest.raises(InputFileError, match=match) as e:
            extract_pose(path, progress=False)
        assert str(path) in str(e.value) and "\n" not in str(e.value), label


def test_blank_video_has_no_person(tmp_path, bundle):
    video = write_video(tmp_path / "blank.avi", [blank() for _ in range(10)], 10)
    with pytest.raises(PoseError, match=r"blank\.avi: no person detected in 10 processed frames"):
        extract_pose(video, progress=False)


def cli(*args: str) -> int:
    from scoligait_edge.cli import main

    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_cli_writes_atomically_and_refuses_to_overwrite(tmp_path, walker_avi, capsys):
    out = tmp_path / "clip.npz"
    assert cli("pose", str(walker_avi), "--out", str(out), "--every", "2") == 0
    assert load_clip(out).metadata["every"] == 2
    assert "wrote" in capsys.readouterr().out
    before = out.read_bytes()
    assert cli("pose", str(walker_avi), "--out", str(out)) == 1
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert cli("pose", str(walker_avi), "--out", str(out), "--force") == 0
    assert load_clip(out).metadata["every"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.npz"]  # no temporary left behind


def test_cli_failure_is_one_line_without_traceback_and_writes_nothing(tmp_path, bundle):
    blank_avi = write_video(tmp_path / "blank.avi", [blank() for _ in range(5)], 10)
    for video in (tmp_path / "missing.avi", blank_avi):
        out = tmp_path / "out.npz"
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from scoligait_edge.cli import main; main()",
                "pose",
                str(video),
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert len(lines) == 1 and video.name in lines[0]
        assert not out.exists()


def test_setup_assets_cli_is_idempotent_and_offline_once_cached(tmp_path, monkeypatch, bundle, capsys):
    import shutil

    from scoligait_edge.pose import assets

    cache = tmp_path / "cache"
    shutil.copytree(pose_dir() / "src", cache / "pose" / "src")
    monkeypatch.setenv("SCOLIGAIT_CACHE", str(cache))

    def no_network(*_a, **_k):
        raise AssertionError("setup-assets must not download when the official files are cached")

    monkeypatch.setattr(assets, "_download_wheel", no_network)
    assert cli("setup-assets") == 0
    built = cache / "pose" / "pose_landmarker_full.task"
    mtime = built.stat().st_mtime_ns
    assert cli("setup-assets") == 0 and built.stat().st_mtime_ns == mtime
    assert "pose model bundle ready" in capsys.readouterr().err
    assert cli("setup-assets", "--wheel", str(tmp_path / "missing.whl"), "--force") == 0  # cached files win
    shutil.rmtree(cache / "pose" / "src")
    assert cli("setup-assets", "--wheel", str(tmp_path / "missing.whl"), "--force") == 1
    assert "missing.whl: no such wheel file" in capsys.readouterr().err


def test_cli_stream_prints_a_summary(walker_avi, capsys):
    assert cli("pose", str(walker_avi), "--stream") == 0
    out = capsys.readouterr().out
    assert f"streamed {(24 - 1) * 3 + 1} frames at 30 Hz" in out and "detection rate 100.0%" in out


def test_cli_stream_feeds_the_streaming_knowledge_map(tmp_path, bundle, capsys):
    pytest.importorskip("scoligait_edge.kmap", reason="streaming knowledge map not available")
    video = walker_video(tmp_path / "long.avi", n=40)  # 117 frames at 30 Hz: windows at 96 and 112
    assert cli("pose", str(video), "--stream") == 0
    out = capsys.readouterr().out
    assert (
        "window 1: ends at 3.20 s, shape (96, 238)" in out
        and "window 2:" in out
        and "2 knowledge-map windows" in out
    )


def test_missing_camera_is_a_typed_error(bundle):
    from scoligait_edge.pose.stream import PoseStream

    with pytest.raises(InputFileError, match="camera 57: could not be opened"):
        next(iter(PoseStream(57)))


# ----------------------------------------------------------------------------- automatic crop


def test_crop_window_maps_back_to_frame_pixels_exactly():
    """A landmark found in a crop lands on the same frame pixel; the crop's mask gives the same silhouette."""
    from types import SimpleNamespace

    import cv2

    from scoligait_edge.pose.autocrop import window_around
    from scoligait_edge.pose.video import landmarks_to_array

    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[300:400, 1200:1230] = 255  # a "person" near the right edge
    win = window_around((1215.0, 350.0), 240.0, frame.shape)
    assert (win.w, win.h) == (240, 240) and win.x == 1280 - 240 and win.y == 230  # shifted, not cut
    crop = win.crop(frame)
    ys, xs = np.nonzero(crop[..., 0])
    assert (xs.min() + win.x, ys.min() + win.y) == (1200, 300)  # the crop is a plain slice
    # Normalised crop coordinates of a few pixels → the frame pixels they came from, exactly.
    px = np.array([[1200.0, 300.0], [1229.0, 399.0], [1040.0, 230.0], [1279.0, 469.0]])
    norm = (px - [win.x, win.y]) / [win.w, win.h]
    np.testing.assert_array_equal(win.to_frame(norm), px)
    lms = [SimpleNamespace(x=u, y=v, visibility=0.9, presence=0.9) for u, v in norm]
    mp = landmarks_to_array(lms, win.w, win.h, win.offset)  # the path FramePoser takes
    np.testing.assert_allclose(mp[:, :2], px, atol=1e-3)  # float32 pixels
    # The crop's mask pasted back equals the same mask drawn in the frame; silhouettes agree.
    mask = np.zeros((win.h, win.w), np.float32)
    cv2.ellipse(mask, (175, 120), (15, 50), 0, 0, 360, 1.0, -1)
    drawn = np.zeros((720, 1280), np.float32)
    cv2.ellipse(drawn, (win.x + 175, win.y + 120), (15, 50), 0, 0, 360, 1.0, -1)
    np.testing.assert_array_equal(win.paste(mask, frame.shape), drawn)
    a, b = silhouette_64x44(mask) > 0, silhouette_64x44(drawn) > 0
    assert (a & b).sum() / (a | b).sum() > 0.95  # the OpenGait crop is nearly translation-invariant
    big = window_around((10.0, 10.0), 5000.0, frame.shape)  # never larger than the frame
    assert (big.x, big.y, big.w, big.h) == (0, 0, 720, 720)


def test_crop_follower_hands_the_full_frame_back_for_large_people():
    from scoligait_edge.pose.autocrop import CropFollower

    f = CropFollower()
    shape = (720, 1280)
    f.follow((600, 300, 630, 400), shape)  # 100 px tall in 720: small → crop ≈ 200 px
    win = f.window(shape)
    assert f.active and win.w == 200 and abs(win.x + 100 - 615) <= 1 and abs(win.y + 100 - 350) <= 1
    f.follow((610, 300, 640, 400), shape)  # moved 10 px: smoothed, not jumped
    moved = f.window(shape)
    assert win.x < moved.x < win.x + 10
    f.follow((100, 100, 130, 200), shape)  # far away: a new target, no smoothing across the jump
    assert abs(f.window(shape).x + 100 - 115) <= 1
    f.follow((100, 100, 300, 420), shape)  # 320 px tall: window 640 < 0.9 × 720, still a crop
    assert f.active
    f.follow((100, 10, 300, 400), shape)  # 390 px tall: window 780 → full frame
    assert not f.active and f.window(shape) is None


def small_walker_frames(n: int = 30, bystander: bool = False) -> list[np.ndarray]:
    """An ≈ 80 px tall walker crossing a 1280×720 frame (a bystander later, far away, larger)."""
    frames = []
    for t in range(n):
        img = blank(1280, 720)
        draw_walker(img, t, 300 + 8 * t, 400, scale=0.33)
        if bystander and t >= 12:
            draw_walker(img, t, 1000 - 4 * (t - 12), 150, scale=0.45)
        frames.append(img)
    return frames


def test_small_walker_in_a_wide_frame_needs_the_automatic_crop(tmp_path, bundle):
    video = write_video(tmp_path / "small.avi", small_walker_frames(bystander=True), 10)
    with pytest.raises(PoseError, match="no person detected"):  # full frame: too small for the detector
        extract_pose(video, crop="off", progress=False)
    clips = extract_pose(video, progress=False)  # crop="auto" is the default
    m = clips[0].metadata
    assert m["crop"] == "auto" and m["detection_rate"] >= 0.8 and m["crop_frames"] >= 0.8 * 30
    assert m["track_jumps_total"] == 0
    pose = np.concatenate([c.pose for c in clips])
    t = np.concatenate([c.metadata["start_frame"] + np.arange(len(c)) for c in clips]) / 3  # source frame
    drawn_x = 300 + 8 * t[:, None] + np.array([30, -30]) * 0.33
    ok = np.isfinite(pose[:, 5, 0])
    assert ok.mean() > 0.8
    # Frame pixels, on the walker (not the larger bystander that enters at frame 12).
    assert np.nanmedian(np.abs(pose[ok, 5:7, 0] - drawn_x[ok])) < 4
    assert np.nanmedian(np.abs(pose[ok, 5:7, 1] - (400 + 105 * 0.33))) < 4


def test_auto_crop_leaves_large_people_on_the_full_frame(walker_avi, walker_clips):
    off = extract_pose(walker_avi, crop="off", progress=False)[0]
    auto = walker_clips[0]
    assert auto.metadata["crop"] == "auto" and auto.metadata["crop_frames"] == 0
    np.testing.assert_array_equal(auto.pose, off.pose)
    np.testing.assert_array_equal(auto.silhouettes, off.silhouettes)
    with pytest.raises(InputFileError, match="--crop 'maybe'"):
        extract_pose(walker_avi, crop="maybe", progress=False)


def test_person_locator_proposes_the_moving_person_near_the_track():
    from scoligait_edge.pose.autocrop import PersonLocator, proposal_window

    loc = PersonLocator(hog_every=10**6)  # motion only (HOG runs on the first search alone)
    loc._searches = 1  # skip that first HOG search: the blocks below are not people for HOG

    def frame(t: int) -> np.ndarray:
        # Uniform blocks moving by more than their width (MOG2 soon absorbs a uniform overlap).
        img = blank(1280, 720)
        if t:
            img[300:400, 200 + 40 * t : 230 + 40 * t] = (40, 40, 40)  # small "walker", 100 px tall
            img[100:400, 1100 - 100 * t : 1180 - 100 * t] = (90, 60, 40)  # larger mover far away
        return img

    for t in range(6):
        loc.observe(frame(t))
    img = frame(5)
    largest = loc.propose(img, 5)
    assert largest.source == "motion" and largest.box[3] - largest.box[1] > 250  # no track: the largest
    near = loc.propose(img, 5, near=(360.0, 300.0, 390.0, 400.0))  # the walker's last tracked box
    x0, y0, x1, y1 = near.box
    assert abs(y0 - 300) < 12 and abs(y1 - 400) < 12 and abs(x0 - 400) < 12 and abs(x1 - 430) < 12
    win = proposal_window(near, img.shape)
    assert win.w == win.h and win.x <= x0 and win.x + win.w >= x1 and win.y <= y0 and win.y + win.h >= y1
    loc.reject(near.box, 5)  # the landmarker found nobody there: skipped for a few searches
    assert loc.propose(img, 6, near=(360.0, 300.0, 390.0, 400.0)).box == largest.box
    assert proposal_window(largest, img.shape) is None  # 300 px of 720: large, the full frame's job
    still = PersonLocator()
    for _ in range(4):
        still.observe(blank(1280, 720))
    assert still._motion == []
