"""Offline knowledge map: values, causality, invariances, degenerate input, typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scoligait_edge.errors import PoseError, ShapeError
from scoligait_edge.kmap import DOMAINS, feature_index, knowledge_map
from scoligait_edge.kmap.signals import CORR_WINDOW
from scoligait_edge.kmap.testing import toy_walk

F = feature_index


def test_shape_dtype_and_mostly_valid_on_clean_walk():
    kmap, mask = knowledge_map(toy_walk(150, seed=1), return_mask=True)
    assert kmap.shape == (150, 238) and kmap.dtype == np.float32
    assert mask.shape == (150, 238) and mask.dtype == bool
    assert np.isfinite(kmap).all()
    assert mask[CORR_WINDOW:].all(), "a clean walk should make every feature valid once the window is full"


def test_body_centred_unit_torso():
    kmap = knowledge_map(toy_walk(200, seed=2, noise=0.0))
    mid_hip_x = (kmap[:, F("pos_left_hip_x")] + kmap[:, F("pos_right_hip_x")]) / 2
    mid_hip_y = (kmap[:, F("pos_left_hip_y")] + kmap[:, F("pos_right_hip_y")]) / 2
    np.testing.assert_allclose(mid_hip_x, 0, atol=1e-5)
    np.testing.assert_allclose(mid_hip_y, 0, atol=1e-5)
    # the toy figure grows 15 % while walking towards the camera; the running scale follows it
    ratio = kmap[:, F("torso_length_ratio")]
    assert np.all(np.abs(ratio - 1) < 0.05)
    sh_y = (kmap[:, F("pos_left_shoulder_y")] + kmap[:, F("pos_right_shoulder_y")]) / 2
    assert np.all(np.abs(sh_y - 1) < 0.05), "y is up and the torso is one unit long"


def test_velocity_and_acceleration_are_per_second_differences():
    pose = toy_walk(80, seed=3)
    for fps in (30.0, 60.0):
        kmap = knowledge_map(pose, fps=fps).astype(np.float64)
        x = kmap[:, F("pos_left_wrist_x")]
        vx = kmap[:, F("vel_left_wrist_x")]
        ax = kmap[:, F("acc_left_wrist_x")]
        np.testing.assert_allclose(vx[1:], np.diff(x) * fps, atol=2e-5 * fps)
        np.testing.assert_allclose(ax[2:], np.diff(vx[1:]) * fps, atol=1e-3 * fps)
        assert vx[0] == 0 and ax[0] == 0 and ax[1] == 0
    a30, a60 = knowledge_map(pose, fps=30.0), knowledge_map(pose, fps=60.0)
    np.testing.assert_array_equal(a30[:, DOMAINS["skeleton"]], a60[:, DOMAINS["skeleton"]])
    np.testing.assert_allclose(a60[:, F("vel_nose_y")], 2 * a30[:, F("vel_nose_y")], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("a", "b"), [("shoulder_tilt", "pelvic_tilt"), ("left_elbow_angle", "right_elbow_angle")]
)
@pytest.mark.parametrize("missing", [0.0, 0.08])
def test_crosscorr_equals_windowed_pearson_over_paired_frames(a, b, missing):
    kmap, mask = knowledge_map(toy_walk(160, seed=4, missing=missing), return_mask=True)
    kmap = kmap.astype(np.float64)
    col = F(f"xcorr_{a}__{b}")
    checked = 0
    for t in range(CORR_WINDOW - 1, 160):
        win = slice(t - CORR_WINDOW + 1, t + 1)
        paired = mask[win, F(a)] & mask[win, F(b)]
        if paired.sum() < 8:
            assert not mask[t, col] and kmap[t, col] == 0
            continue
        expected = np.corrcoef(kmap[win, F(a)][paired], kmap[win, F(b)][paired])[0, 1]
        assert mask[t, col] and kmap[t, col] == pytest.approx(expected, abs=1e-5)
        checked += 1
    assert checked > 60


def test_shoulder_tilt_sign_and_magnitude():
    level = knowledge_map(toy_walk(90, seed=5, noise=0.0))[:, F("shoulder_tilt")]
    tilted = knowledge_map(toy_walk(90, seed=5, noise=0.0, tilt=0.1))[:, F("shoulder_tilt")]
    # right shoulder 0.1 torso lower over a 0.84 torso span: atan(0.1 / 0.84) ≈ 6.8°, left higher → positive
    assert abs(level.mean()) < 0.5
    assert tilted.mean() == pytest.approx(np.degrees(np.arctan2(0.1, 0.84)), abs=0.5)


@pytest.mark.parametrize("k", [0.05, 1.0, 3.7, 250.0])
def test_scale_and_translation_invariance(k):
    pose = toy_walk(100, seed=6, missing=0.05)
    moved = pose.copy()
    moved[..., :2] = pose[..., :2] * k + np.array([-513.0, 97.0], np.float32)
    a, ma = knowledge_map(pose, return_mask=True)
    b, mb = knowledge_map(moved, return_mask=True)
    np.testing.assert_array_equal(ma, mb)
    static = np.r_[DOMAINS["skeleton"], 0:34, 119:135]
    np.testing.assert_allclose(b[:, static], a[:, static], rtol=1e-3, atol=2e-3)
    np.testing.assert_allclose(b[:, 34:68], a[:, 34:68], rtol=1e-3, atol=0.05)  # velocities (per s)
    np.testing.assert_allclose(b[:, DOMAINS["crosscorr"]], a[:, DOMAINS["crosscorr"]], atol=5e-3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(1, 79), seed=st.integers(0, 2**16))
def test_causal_future_frames_never_change_the_past(cut, seed):
    pose = toy_walk(80, seed=7, missing=0.1)
    other = pose.copy()
    rng = np.random.default_rng(seed)
    other[cut:] = rng.normal(300, 200, other[cut:].shape).astype(np.float32)
    other[cut:, :, 2] = rng.uniform(0, 1, other[cut:, :, 2].shape)
    a, ma = knowledge_map(pose, return_mask=True)
    b, mb = knowledge_map(other, return_mask=True)
    np.testing.assert_array_equal(a[:cut], b[:cut])
    np.testing.assert_array_equal(ma[:cut], mb[:cut])
    assert not np.array_equal(a[cut:], b[cut:])


def test_robust_scale_one_bad_frame_barely_moves_later_frames():
    pose = toy_walk(80, seed=8, noise=0.0)
    bad = pose.copy()
    bad[40, 5:7, 1] -= 2000.0  # shoulders far above: torso ~15x too long in one frame
    a, b = knowledge_map(pose), knowledge_map(bad)
    later = slice(41, 80)
    cols = np.r_[0:34]
    assert np.max(np.abs(b[later, cols] - a[later, cols])) < 0.05 * np.max(np.abs(a[later, cols]))


def test_missing_joint_holds_position_and_zeroes_velocity():
    pose = toy_walk(40, seed=9)
    pose[20:25, 9, 2] = 0.0  # left wrist low confidence
    pose[30, 9, 0] = np.nan  # and a NaN coordinate
    kmap, mask = knowledge_map(pose, return_mask=True)
    x, vx = F("pos_left_wrist_x"), F("vel_left_wrist_x")
    assert not mask[20:25, x].any() and not mask[30, x]
    assert mask[19, x] and mask[25, x]
    np.testing.assert_array_equal(kmap[20:25, x], kmap[19, x])
    assert kmap[30, x] == kmap[29, x]
    assert np.all(kmap[20:26, vx] == 0) and not mask[20:26, vx].any()
    assert mask[19, F("left_elbow_angle")] and not mask[20:25, F("left_elbow_angle")].any()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p * np.array([1, 1, 0], np.float32), id="all-low-confidence"),
        pytest.param(lambda p: np.full_like(p, np.nan), id="all-nan"),
        pytest.param(
            lambda p: np.broadcast_to(np.float32([7, 7, 1]), p.shape).copy(), id="all-joints-one-point"
        ),
    ],
)
def test_fully_degenerate_input_gives_zeros_and_no_valid_cell(make):
    kmap, mask = knowledge_map(make(toy_walk(50, seed=10)), return_mask=True)
    assert np.all(kmap == 0) and not mask.any()


def test_constant_pose_has_zero_motion_and_invalid_correlations():
    pose = np.repeat(toy_walk(1, seed=11), 60, axis=0)
    kmap, mask = knowledge_map(pose, return_mask=True)
    assert np.isfinite(kmap).all()
    assert np.all(kmap[:, 34:119] == 0) and mask[2:, 34:102].all()
    assert np.all(kmap[:, DOMAINS["crosscorr"]] == 0) and not mask[:, DOMAINS["crosscorr"]].any()
    assert mask[:, DOMAINS["skeleton"]].all()


def test_single_frame_and_zero_length_limbs():
    pose = toy_walk(1, seed=12)
    kmap, mask = knowledge_map(pose, return_mask=True)
    assert kmap.shape == (1, 238) and mask[0, :34].all() and not mask[0, 34:119].any()
    pose = toy_walk(30, seed=12)
    pose[:, 7, :2] = pose[:, 5, :2]  # left elbow on the left shoulder: zero-length upper arm
    kmap, mask = knowledge_map(pose, return_mask=True)
    assert np.all(kmap[:, F("left_upper_arm_length")] == 0) and mask[:, F("left_upper_arm_length")].all()
    assert not mask[:, F("left_elbow_angle")].any() and not mask[:, F("left_shoulder_angle")].any()
    assert np.isfinite(kmap).all()


def test_missing_hips_make_the_frame_unobserved_until_they_return():
    pose = toy_walk(30, seed=13)
    pose[10:15, 11, 2] = 0.0
    _kmap, mask = knowledge_map(pose, return_mask=True)
    assert not mask[10:15, :172].any()
    assert mask[16, :34].all()


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pose=hnp.arrays(
        np.float32, st.tuples(st.integers(1, 40), st.just(17), st.just(3)), elements=finite_or_not
    )
)
def test_fuzz_never_nan_or_inf(pose):
    kmap, _mask = knowledge_map(pose, return_mask=True)
    assert kmap.shape == (pose.shape[0], 238) and np.isfinite(kmap).all()
    assert np.all(kmap[:, DOMAINS["crosscorr"]] <= 1) and np.all(kmap[:, DOMAINS["crosscorr"]] >= -1)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), missing=st.floats(0, 0.9), huge=st.booleans())
def test_fuzz_hostile_walks_stay_finite(seed, missing, huge):
    pose = toy_walk(70, seed=seed, missing=missing, scale=3e30 if huge else 1e-30)
    rng = np.random.default_rng(seed)
    pose[rng.random(pose.shape[:2]) < 0.05, 0] = np.inf
    kmap = knowledge_map(pose)
    assert np.isfinite(kmap).all()


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 17, 2)),
        np.zeros((17, 3)),
        np.zeros((10, 18, 3)),
        np.zeros((0, 17, 3)),
        np.full((3, 17, 3), "a"),
    ],
    ids=["2-channels", "no-time-axis", "18-joints", "empty", "strings"],
)
def test_wrong_shapes_raise_shape_error(bad):
    with pytest.raises(ShapeError):
        knowledge_map(bad)


@pytest.mark.parametrize("fps", [0, -30, float("nan"), float("inf"), "fast"])
def test_bad_fps_raises_pose_error(fps):
    with pytest.raises(PoseError, match="fps"):
        knowledge_map(toy_walk(5), fps=fps)
