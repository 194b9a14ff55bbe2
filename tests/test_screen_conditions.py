"""The screen quality gate on synthetic clips filmed in each failing condition (``data.conditions``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoligait_edge.data.conditions import (
    CONDITIONS,
    render_condition,
    synth_camera,
    view_camera,
)
from scoligait_edge.data.synth import (
    SynthConfig,
    project,
    sample_clip_params,
    sample_subject,
    simulate_clip,
    simulate_world_pose,
)
from scoligait_edge.errors import DatasetError

Q = pytest.importorskip("scoligait_edge.screen.quality")

SEEDS = (0, 1, 2)
REQUIRED = {
    "ok",
    "side_view",
    "oblique_45",
    "small_person",
    "short_clip",
    "low_fps",
    "two_people",
    "standing_still",
    "lost_tracking",
}
#: The check each condition is about (the measured value the closing note reports).
RELEVANT = {
    "ok": "camera_view",
    "side_view": "camera_view",
    "oblique_45": "camera_view",
    "small_person": "person_size",
    "short_clip": "duration",
    "low_fps": "frame_rate",
    "two_people": "several_people",
    "standing_still": "gait_cycles",
    "lost_tracking": "tracking",
}
#: Conditions the gate does not catch today: (condition, check) -> why. The test xfails (with the
#: measured value) where the check passes although it must fail, and passes once the gate is fixed.
#: (condition, check) pairs the gate is known to miss; empty since the walking (progression) check
#: catches standing still, which pose jitter made look like gait cycles.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _gate(clip):
    q = Q.quality(clip.pose, clip.source_fps, clip.people)
    return q, {c.name for c in q.checks if not c.passed}, {c.name: c.value for c in q.checks}


def test_conditions_cover_the_issue_and_name_real_checks() -> None:
    from scoligait_edge.data import conditions

    assert set(CONDITIONS) >= REQUIRED
    assert set(conditions._MAKERS) == set(CONDITIONS) == set(conditions._EXPECTED)
    for name, text in CONDITIONS.items():
        assert text and "\n" not in text, name
        clip = render_condition(name, 0, silhouettes=False)
        assert clip.expected_failures <= set(Q.CHECKS) and clip.may_fail <= set(Q.CHECKS)
        assert not clip.expected_failures & clip.may_fail
    assert render_condition("ok", 0, silhouettes=False).expected_failures == set()


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_clip_format(name: str) -> None:
    c = render_condition(name, 0)
    t = len(c.pose)
    assert c.pose.dtype == np.float32 and c.pose.shape == (t, 17, 3)
    assert c.silhouette is not None and c.silhouette.dtype == np.float32
    assert c.silhouette.shape == (t, 64, 44)
    assert c.silhouette.min() >= 0.0 and c.silhouette.max() <= 1.0
    assert c.people.shape == (t,) and np.issubdtype(c.people.dtype, np.integer)
    assert isinstance(c.source_fps, float) and c.source_fps > 0
    # Undetected frames are NaN with confidence 0 (pose.video's convention); detected ones are finite.
    xy_missing = ~np.isfinite(c.pose[..., :2]).all(-1)
    assert (c.pose[..., 2][xy_missing] == 0).all()
    detected = ~xy_missing.all(-1)
    assert np.isfinite(c.pose[detected]).all()
    assert (c.people[detected] >= 1).all()
    # A person-shaped mask wherever the child is seen.
    fill = (c.silhouette[detected] > 0.5).mean(axis=(1, 2))
    assert (fill > 0.1).all() and (fill < 0.7).all()
    if name != "short_clip":
        assert t == 192


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_deterministic_per_seed(name: str) -> None:
    a = render_condition(name, 3)
    b = render_condition(name, 3)
    c = render_condition(name, 4, silhouettes=False)
    assert a.pose.tobytes() == b.pose.tobytes()
    assert a.silhouette.tobytes() == b.silhouette.tobytes()
    assert np.array_equal(a.people, b.people) and a.info == b.info
    assert a.pose.shape != c.pose.shape or not np.array_equal(a.pose, c.pose, equal_nan=True)


def test_ok_is_the_synth_clip() -> None:
    for seed in SEEDS:
        clip = simulate_clip(sample_subject(seed, 0), seed, 0)
        c = render_condition("ok", seed)
        seen = (clip.pose[..., 2] > 0).any(-1)
        np.testing.assert_array_equal(c.pose[seen], clip.pose[seen])
        assert np.isnan(c.pose[~seen, :, :2]).all()
        np.testing.assert_allclose(c.silhouette[seen], clip.silhouettes[seen] / 255.0, atol=1e-6)


def test_general_camera_reproduces_synth_projection() -> None:
    cfg = SynthConfig(frames=64)
    for seed in range(6):
        subj = sample_subject(seed, 0, cfg)
        cp = sample_clip_params(subj, seed, 0, cfg)
        world = simulate_world_pose(subj, cp, 64, 30.0, np.random.default_rng(seed))
        np.testing.assert_allclose(
            synth_camera(world, cp).project(world), project(world, subj, cp), atol=1e-6
        )
        # 0° / 180° from the general camera are the same geometry as views 000 / 180.
        angle = 0.0 if cp.view == "000" else 180.0
        front = view_camera(world, cp, angle, 5.0)
        assert np.allclose(front.forward, synth_camera(world, cp).forward)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_gate_answers_each_condition(name: str, seed: int) -> None:
    clip = render_condition(name, seed, silhouettes=False)
    _, failed, values = _gate(clip)
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in values.items()}
    unexpected = failed - clip.expected_failures - clip.may_fail
    assert not unexpected, f"{name} seed {seed}: {sorted(unexpected)} failed too; measured {shown}"
    missed = clip.expected_failures - failed
    gaps = {check for check in missed if (name, check) in KNOWN_GAPS}
    assert missed == gaps, f"{name} seed {seed}: the gate passed {sorted(missed)}; measured {shown}"
    if gaps:
        check = sorted(gaps)[0]
        pytest.xfail(f"known gate gap ({check} = {shown[check]}): {KNOWN_GAPS[(name, check)]}")


def test_outcomes_hold_over_30_seeds() -> None:
    """Not luck: every condition gives its answer on 30 seeds (known gaps counted, not asserted)."""
    wrong: dict[str, list[int]] = {}
    gap_hits: dict[str, int] = {}
    for name in CONDITIONS:
        for seed in range(30):
            clip = render_condition(name, seed, silhouettes=False)
            _, failed, _ = _gate(clip)
            missed = clip.expected_failures - failed
            if missed and all((name, m) in KNOWN_GAPS for m in missed):
                gap_hits[name] = gap_hits.get(name, 0) + 1
            elif missed or failed - clip.expected_failures - clip.may_fail:
                wrong.setdefault(name, []).append(seed)
    assert not wrong, f"conditions answered wrongly for seeds {wrong}"
    assert set(gap_hits) <= {name for name, _ in KNOWN_GAPS}, gap_hits


@pytest.mark.parametrize("seed", SEEDS)
def test_measured_values_follow_the_physics(seed: int) -> None:
    v = {name: _gate(render_condition(name, seed, silhouettes=False))[2] for name in CONDITIONS}
    front = v["ok"]["camera_view"]
    assert front > 0.55  # shoulder + hip width ≈ 0.68 torso seen from the front / back
    # Side-on, only trunk counter-rotation and jitter separate left from right (≈ 0.2).
    assert v["side_view"]["camera_view"] < 0.3
    # 45° off the walking line the widths shrink by ≈ cos 45° (the line of sight sweeps ~30-75°).
    assert 0.6 < v["oblique_45"]["camera_view"] / front < 0.85
    assert v["side_view"]["camera_view"] < v["oblique_45"]["camera_view"] < front
    assert 30.0 < v["small_person"]["person_size"] < 50.0
    assert v["ok"]["person_size"] > 120.0
    assert v["short_clip"]["duration"] < 96 <= v["ok"]["duration"]
    assert v["low_fps"]["frame_rate"] == 10.0
    assert v["two_people"]["several_people"] > 0.5 and v["ok"]["several_people"] == 0.0
    assert v["lost_tracking"]["tracking"] < 0.62 < 0.9 < v["ok"]["tracking"]
    assert v["ok"]["gait_cycles"] >= 4.0  # 6.4 s at ~1.85 steps/s ≈ 6 cycles


@pytest.mark.parametrize("seed", SEEDS)
def test_two_people_tracker_stays_on_the_child(seed: int) -> None:
    c = render_condition("two_people", seed, silhouettes=False)
    ok = render_condition("ok", seed, silhouettes=False)
    assert c.info["tracker_jumps"] == 0 and c.info["frames_on_other_person"] == 0
    assert c.info["frames_with_two"] > 0.5 * len(c.pose)
    np.testing.assert_array_equal(c.pose, ok.pose)  # the same child's walk, only someone else in view


def test_condition_clips_of_the_same_seed_film_the_same_child() -> None:
    # Side view: the walk is the protocol clip's walk, seen from elsewhere (same frames, same steps).
    _, _, side = _gate(render_condition("side_view", 1, silhouettes=False))
    _, _, ok = _gate(render_condition("ok", 1, silhouettes=False))
    assert side["duration"] == ok["duration"]
    assert math.isclose(side["gait_cycles"], ok["gait_cycles"], abs_tol=1.5)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(DatasetError, match="unknown condition"):
        render_condition("upside_down")
    with pytest.raises(DatasetError, match="shorter than one"):
        render_condition("ok", 0, frames=60)
