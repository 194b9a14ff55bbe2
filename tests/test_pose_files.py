"""Pose file readers: clip .npz round trip, Scoliosis1K .pkl, unsafe pickles, truncation, gaps."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from scoligait_edge.errors import InputFileError, OutputExistsError, ShapeError, UnsafeFileError
from scoligait_edge.pose import (
    Clip,
    interpolate_gaps,
    load_clip,
    read_clip,
    read_pose,
    save_clip,
    split_on_gaps,
)


def _walk(t: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pose = np.zeros((t, 17, 3), np.float32)
    pose[..., :2] = rng.uniform(100, 400, size=(1, 17, 2)) + np.arange(t)[:, None, None] * 2.0
    pose[..., 2] = rng.uniform(0.6, 1.0, size=(t, 17))
    return pose


def test_npz_round_trip_keeps_everything(tmp_path):
    pose = _walk()
    sil = (np.random.default_rng(1).random((40, 64, 44)) > 0.5).astype(np.uint8) * 255
    extra = _walk()[:, :4]
    meta = {"source": "x.mp4", "detection_rate": 0.9, "track_jumps": [{"frame": 3, "reason": "r"}]}
    p = save_clip(tmp_path / "c.npz", Clip(pose, 30.0, sil, extra, meta))
    back = load_clip(p)
    np.testing.assert_array_equal(back.pose, pose)
    np.testing.assert_array_equal(back.silhouettes, sil)
    np.testing.assert_array_equal(back.extra, extra)
    assert back.fps == 30.0 and back.metadata == meta
    with pytest.raises(OutputExistsError):
        save_clip(p, back)
    np.testing.assert_array_equal(read_pose(p), pose)


def test_scoliosis1k_pkl_is_read(tmp_path):
    pose = _walk(25)
    bare = tmp_path / "bare.pkl"
    bare.write_bytes(pickle.dumps(pose))
    np.testing.assert_array_equal(read_pose(bare), pose)
    wrapped = tmp_path / "wrapped.pkl"
    wrapped.write_bytes(pickle.dumps({"keypoints": pose.reshape(25, 51), "label": "x"}))
    np.testing.assert_array_equal(read_pose(wrapped), pose)
    clip = read_clip(bare)
    assert clip.fps == 30.0 and clip.metadata["source_format"] == "scoliosis1k-pkl"


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"pose": _Evil(str(marker))}))
    with pytest.raises(UnsafeFileError, match=r"evil\.pkl"):
        read_pose(evil)
    assert not marker.exists()


def test_truncated_and_wrong_files(tmp_path):
    good = save_clip(tmp_path / "c.npz", Clip(_walk(), 30.0))
    data = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"cut\.npz"):
        load_clip(cut)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(InputFileError, match=r"junk\.pkl"):
        read_pose(junk)
    bad_shape = tmp_path / "shape.npz"
    np.savez(bad_shape, pose=np.zeros((5, 18, 3), np.float32))
    with pytest.raises(ShapeError, match=r"shape\.npz"):
        load_clip(bad_shape)
    with pytest.raises(InputFileError, match="unsupported pose file type"):
        read_clip(tmp_path / "walk.mp4")


def test_short_gaps_are_interpolated_linearly():
    pose = _walk(30)
    truth = pose.copy()
    pose[10:14, 9] = (np.nan, np.nan, 0.0)  # 4-frame gap in the left wrist
    filled = interpolate_gaps(pose, max_gap=5)
    np.testing.assert_allclose(filled[10:14, 9, :2], truth[10:14, 9, :2], atol=1e-4)  # truth is linear
    assert np.all(filled[10:14, 9, 2] == pytest.approx(0.3))
    long_gap = interpolate_gaps(pose, max_gap=3)
    assert np.isnan(long_gap[10:14, 9, :2]).all()


def test_long_person_loss_splits_with_reason():
    pose = _walk(60)
    pose[20:40, [5, 6, 11, 12]] = (np.nan, np.nan, 0.0)  # shoulders and hips lost for 20 frames
    segs = split_on_gaps(pose, max_gap=15)
    assert [(s.start, s.stop) for s in segs] == [(0, 20), (40, 60)]
    assert segs[0].reason_before == ""
    assert "20 frames" in segs[1].reason_before and "max_gap=15" in segs[1].reason_before
    assert len(split_on_gaps(pose, max_gap=25)) == 1
