"""Streaming knowledge map: every emitted window equals the offline map's slice (≤ 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoligait_edge.errors import PoseError, ShapeError
from scoligait_edge.kmap import StreamingKnowledgeMap, knowledge_map
from scoligait_edge.kmap.testing import toy_walk

TOL = 1e-5


def stream_all(pose: np.ndarray, window: int = 96, hop: int = 16, fps: float = 30.0):
    """Push every frame; return [(t, window, mask)] for each emission (t = index of the last frame)."""
    s = StreamingKnowledgeMap(window=window, hop=hop, fps=fps)
    out = []
    for t, frame in enumerate(pose):
        w = s.push(frame)
        if w is not None:
            out.append((t, w, s.last_mask))
    return out


def assert_parity(pose: np.ndarray, window: int = 96, hop: int = 16, fps: float = 30.0) -> int:
    ref, ref_mask = knowledge_map(pose, fps=fps, return_mask=True)
    emitted = stream_all(pose, window, hop, fps)
    expected_ends = list(range(window - 1, len(pose), hop))
    assert [t for t, _, _ in emitted] == expected_ends
    for t, w, m in emitted:
        assert w.shape == (window, 238) and w.dtype == np.float32
        np.testing.assert_allclose(w, ref[t - window + 1 : t + 1], rtol=0, atol=TOL)
        np.testing.assert_array_equal(m, ref_mask[t - window + 1 : t + 1])
    return len(emitted)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("missing", [0.0, 0.15])
def test_parity_on_walks(seed, missing):
    assert assert_parity(toy_walk(300, seed=seed, missing=missing)) == 13


@pytest.mark.parametrize(("window", "hop"), [(96, 16), (32, 8), (20, 50), (1, 1), (96, 96), (50, 7)])
def test_parity_for_window_and_hop_sizes(window, hop):
    assert_parity(toy_walk(260, seed=21, missing=0.05), window, hop)


def test_parity_at_other_frame_rates():
    assert_parity(toy_walk(200, seed=22), fps=25.0)
    assert_parity(toy_walk(200, seed=22), fps=60.0)


def hostile_clip(seed: int, frames: int) -> np.ndarray:
    """A walk with NaN joints, long dropouts, a frozen (constant) stretch and an outlier frame."""
    rng = np.random.default_rng(seed)
    pose = toy_walk(frames, seed=seed, missing=float(rng.uniform(0, 0.3)))
    n_nan = int(rng.integers(0, frames * 3))
    pose[rng.integers(0, frames, n_nan), rng.integers(0, 17, n_nan), rng.integers(0, 3, n_nan)] = np.nan
    if frames > 40:
        a = int(rng.integers(0, frames - 30))
        pose[a : a + int(rng.integers(1, 30)), :, 2] = 0.0  # person lost
        b = int(rng.integers(0, frames - 30))
        pose[b : b + 30] = pose[b]  # frozen pose: zero-variance signals
        pose[int(rng.integers(0, frames)), 5:7, :2] *= 50.0  # outlier shoulders
    return pose


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**20),
    frames=st.integers(1, 260),
    window=st.sampled_from([8, 32, 96]),
    hop=st.sampled_from([1, 5, 16]),
)
def test_parity_on_hostile_clips(seed, frames, window, hop):
    assert_parity(hostile_clip(seed, frames), window, hop)


def test_parity_on_constant_and_all_missing_streams():
    const = np.repeat(toy_walk(1, seed=23), 150, axis=0)
    assert assert_parity(const) == 4
    missing = toy_walk(150, seed=23) * np.float32([1, 1, 0])
    assert assert_parity(missing) == 4
    mixed = toy_walk(300, seed=24)
    mixed[100:200] = np.nan  # long total dropout in the middle of a stream
    assert_parity(mixed)


def test_parity_on_a_long_stream():
    """Running sums over thousands of frames must not drift away from the offline map."""
    pose = np.concatenate([toy_walk(600, seed=s, missing=0.05) for s in range(5)])
    assert assert_parity(pose, hop=64) > 40


def test_shorter_than_window_emits_nothing():
    s = StreamingKnowledgeMap(window=96, hop=16)
    assert all(s.push(f) is None for f in toy_walk(95, seed=25))
    assert s.last_window is None and s.last_mask is None
    assert s.push(toy_walk(1, seed=25)[0]) is not None


def test_reset_starts_a_new_clip():
    a, b = toy_walk(150, seed=26), toy_walk(150, seed=27)
    s = StreamingKnowledgeMap(window=32, hop=8)
    for f in a:
        s.push(f)
    s.reset()
    windows = [w for f in b if (w := s.push(f)) is not None]
    ref = knowledge_map(b)
    assert len(windows) == (150 - 32) // 8 + 1  # last emission after frame 32 + 14 * 8 = 144
    np.testing.assert_allclose(windows[-1], ref[144 - 32 : 144], atol=TOL)


def test_emitted_window_is_a_copy():
    pose = toy_walk(128, seed=28)
    s = StreamingKnowledgeMap(window=96, hop=16)
    got = [w for f in pose if (w := s.push(f)) is not None]
    got[0][:] = 1e9  # the caller scribbles on a window it received
    ref = knowledge_map(pose)
    np.testing.assert_allclose(got[-1], ref[-96:], atol=TOL)


@pytest.mark.parametrize(
    "frame", [np.zeros((17, 2)), np.zeros((1, 17, 3)), np.zeros(51), np.full((17, 3), "x")]
)
def test_push_wrong_shape_raises(frame):
    with pytest.raises(ShapeError):
        StreamingKnowledgeMap().push(frame)


@pytest.mark.parametrize(("window", "hop"), [(0, 16), (96, 0), (96.5, 16), (-1, 1)])
def test_bad_window_or_hop_raises(window, hop):
    with pytest.raises(ShapeError):
        StreamingKnowledgeMap(window=window, hop=hop)


def test_bad_fps_raises():
    with pytest.raises(PoseError):
        StreamingKnowledgeMap(fps=0)
