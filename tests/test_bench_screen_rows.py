"""``screen`` speed rows and the automatic crop's levers: fast, no timing asserts.

- the ``pipeline/screen-*`` / ``pipeline/device-*`` rows are never gate rows, are built only in the
  full run (or when asked for by id), and are ⏭ with a stated reason when vtest.avi, the pose
  model or the INT8 bundle is absent;
- the profiler's wrappers are removed afterwards;
- ``FramePoser`` (``crop="auto"``) follows the window with a one-pose landmarker, counts the
  people in it with a ``num_poses`` landmarker every ``CENSUS_PERIOD_S``, updates the motion
  model every ``MOTION_EVERY_WHILE_FOLLOWING``-th frame — and with the constants set back
  (``CROP_TRACK_POSES = num_poses``, ``MOTION_EVERY_WHILE_FOLLOWING = 1``) behaves as before.
  Landmarkers are scripted stand-ins here, so no MediaPipe model is needed.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from scoligait_edge.bench import screen_rows as S
from scoligait_edge.bench import sources
from scoligait_edge.bench.cases import Case
from scoligait_edge.bench.gate import GATE_ROWS
from scoligait_edge.bench.report import UNAVAILABLE

VIDEO_ROWS = [
    c for c in S.SCREEN_ROW_IDS if c.startswith("pipeline/screen-") and c != "pipeline/screen-kmap+model"
]


def test_screen_rows_are_not_gate_rows():
    assert not set(GATE_ROWS) & set(S.SCREEN_ROW_IDS)
    assert len(set(S.SCREEN_ROW_IDS)) == len(S.SCREEN_ROW_IDS)
    assert all(c.startswith("pipeline/") for c in S.SCREEN_ROW_IDS)


def test_gate_and_quick_runs_never_build_screen_rows(monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("screen rows built")

    monkeypatch.setattr(S, "screen_cases", boom)
    monkeypatch.setattr(
        sources, "pose_case", lambda: Case(id="pipeline/pose-mediapipe", kind="pipeline", label="p")
    )
    gate = sources.pipeline_cases([], quick=True, only=set(GATE_ROWS))
    assert {c.id for c in gate} == {"pipeline/kmap-stream", "pipeline/e2e-kmap+model"}
    assert all(not c.id.startswith("pipeline/screen-") for c in sources.pipeline_cases([], quick=True))


def test_full_run_and_named_rows_build_screen_rows(monkeypatch):
    seen = []

    def fake(bundle_case, only=None):
        seen.append((bundle_case, only))
        return [Case(id="pipeline/screen-decode-vtest", kind="pipeline", label="x")]

    monkeypatch.setattr(S, "screen_cases", fake)
    monkeypatch.setattr(
        sources, "pose_case", lambda: Case(id="pipeline/pose-mediapipe", kind="pipeline", label="p")
    )
    onnx = Case(id="student/onnx/int8", kind="model", label="student", artifact=Path("/nonexistent"))
    full = sources.pipeline_cases([onnx], quick=False)
    assert "pipeline/screen-decode-vtest" in {c.id for c in full} and seen[-1][0] is onnx
    named = sources.pipeline_cases([onnx], quick=True, only={"pipeline/screen-decode-vtest"})
    assert [c.id for c in named] == ["pipeline/screen-decode-vtest"]
    assert seen[-1][1] == {"pipeline/screen-decode-vtest"}


def test_only_builds_nothing_it_was_not_asked_for():
    assert S.screen_cases(None, only=set()) == []
    assert S.screen_cases(None, only={"pipeline/kmap-stream"}) == []


def test_rows_without_vtest_skip_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(S, "VTEST", tmp_path / "vtest.avi")
    cases = {c.id: c for c in S.screen_cases(None, only=set(VIDEO_ROWS))}
    assert set(cases) == set(VIDEO_ROWS)
    for c in cases.values():
        assert c.status == UNAVAILABLE and "no video at" in c.reason and "opencv-doc" in c.reason, c.id


def test_rows_without_the_pose_model_skip_with_the_reason(monkeypatch, tmp_path):
    from scoligait_edge.errors import ModelError
    from scoligait_edge.pose import assets

    video = tmp_path / "vtest.avi"
    video.write_bytes(b"RIFF")
    monkeypatch.setattr(S, "VTEST", video)

    def missing(*_a, **_k):
        raise ModelError("no pose model bundle", "run setup")

    monkeypatch.setattr(assets, "pose_bundle", missing)
    for c in S.screen_cases(None, only=set(VIDEO_ROWS)):
        assert c.status == UNAVAILABLE and "pose model bundle not set up" in c.reason, c.id


def test_model_and_device_rows_need_the_int8_bundle(monkeypatch, tmp_path):
    monkeypatch.setattr(S, "VTEST", tmp_path / "vtest.avi")
    want = {"pipeline/screen-kmap+model", "pipeline/device-startup", "pipeline/device-rss"}
    for c in S.screen_cases(None, only=want):
        assert c.status == UNAVAILABLE and "student/onnx/int8" in c.reason, c.id
    broken = Case(id="student/onnx/int8", kind="model", label="s", status="failed", reason="export failed: x")
    for c in S.screen_cases(broken, only=want):
        assert c.status == UNAVAILABLE and "export failed: x" in c.reason, c.id


def test_crop_1080p_lies_inside_the_1080p_frame():
    x, y, w, h = S.crop_1080p()
    assert w == h and x >= 0 and y >= 0 and x + w <= S.SIZE_1080P[0] and y + h <= S.SIZE_1080P[1]


def test_instrument_restores_what_it_wraps():
    import scoligait_edge.pose.video as V
    from scoligait_edge.pose import autocrop as A

    before = (
        V.iter_frames,
        V.create_landmarker,
        V.silhouette_64x44,
        V.FramePoser.process,
        V.FramePoser._landmark,
        V.FramePoser._track,
        A.PersonLocator.observe,
        A.PersonLocator.propose,
    )
    with S.instrument(S.StageTimes()):
        assert V.iter_frames is not before[0] and A.PersonLocator.observe is not before[6]
    after = (
        V.iter_frames,
        V.create_landmarker,
        V.silhouette_64x44,
        V.FramePoser.process,
        V.FramePoser._landmark,
        V.FramePoser._track,
        A.PersonLocator.observe,
        A.PersonLocator.propose,
    )
    assert after == before


# ----------------------------------------------------------------------------- FramePoser's levers


class FakeLandmarker:
    """Scripted PoseLandmarker: ``people`` small upright people side by side in whatever image it gets."""

    people = 2

    def __init__(self, num_poses: int) -> None:
        self.num_poses, self.calls = num_poses, []

    def detect_for_video(self, image, ts):
        self.calls.append(ts)
        poses = []
        for k in range(min(self.num_poses, self.people)):
            cx = 0.4 + 0.2 * k
            ys = np.linspace(0.42, 0.58, 33)  # ≈ 16 % of the image tall: small, so the window follows
            xs = cx + 0.01 * np.sin(np.arange(33))
            poses.append(
                [
                    SimpleNamespace(x=float(x), y=float(y), visibility=0.9, presence=0.9)
                    for x, y in zip(xs, ys, strict=True)
                ]
            )
        return SimpleNamespace(pose_landmarks=poses, segmentation_masks=None)

    def close(self) -> None:
        pass


@pytest.fixture
def fake_poser(monkeypatch):
    pytest.importorskip("mediapipe")
    import scoligait_edge.pose.video as V
    from scoligait_edge.pose import autocrop as A

    made: list[FakeLandmarker] = []

    def create(_thresholds, num_poses=V.DEFAULT_NUM_POSES, _bundle=None):
        made.append(FakeLandmarker(num_poses))
        return made[-1]

    observed = []
    orig = A.PersonLocator.observe
    monkeypatch.setattr(V, "create_landmarker", create)
    monkeypatch.setattr(A.PersonLocator, "observe", lambda self, f: (observed.append(1), orig(self, f))[1])

    def run(n: int = 30, fps: float = 10.0):
        frames = [np.zeros((576, 768, 3), np.uint8) for _ in range(n)]
        with V.FramePoser() as p:
            out = [p.process(f, i, i / fps) for i, f in enumerate(frames)]
            lms = dict(p._window_lms)
        return out, lms, len(observed)

    return run


def test_following_tracks_one_pose_and_counts_people_every_census_period(fake_poser):
    import scoligait_edge.pose.video as V

    fps = 10.0
    out, lms, observed = fake_poser(30, fps)
    assert all(f.detected for f in out)
    following = [f for f in out if f.window is not None]
    assert len(following) == len(out) - 1  # frame 0 on the full frame, then the window follows
    assert set(lms) == {1, V.DEFAULT_NUM_POSES}  # a one-pose follower and a num_poses census
    track, census = lms[1], lms[V.DEFAULT_NUM_POSES]
    assert len(track.calls) == len(following)  # the follower sees every following frame
    gaps = np.diff(census.calls)  # census timestamps (ms)
    assert len(census.calls) >= 2 and (gaps >= V.CENSUS_PERIOD_S * 1e3 - 1).all()
    assert (gaps <= V.CENSUS_PERIOD_S * 1e3 + 1e3 / fps + 1).all()
    assert all(f.n_people == FakeLandmarker.people for f in following)  # the census count is held
    every = V.MOTION_EVERY_WHILE_FOLLOWING
    assert observed == 1 + len(following) // every  # the full-frame frame, then every N-th following frame


def test_constants_set_back_give_the_old_behaviour(fake_poser, monkeypatch):
    import scoligait_edge.pose.video as V

    monkeypatch.setattr(V, "CROP_TRACK_POSES", V.DEFAULT_NUM_POSES)
    monkeypatch.setattr(V, "MOTION_EVERY_WHILE_FOLLOWING", 1)
    out, lms, observed = fake_poser(20)
    assert list(lms) == [V.DEFAULT_NUM_POSES] and len(lms[V.DEFAULT_NUM_POSES].calls) == 19
    assert observed == 20 and all(f.n_people == FakeLandmarker.people for f in out)
