"""ScoliGait-Synth generator: determinism, Cobb spread, asymmetry vs Cobb, silhouettes, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoligait_edge.cli import main
from scoligait_edge.data.render import render_silhouettes
from scoligait_edge.data.synth import (
    GENERATOR_VERSION,
    SynthConfig,
    make_dataset,
    sample_subject,
    simulate_clip,
)
from scoligait_edge.errors import DatasetError
from scoligait_edge.pose import load_clip


def _tilt_deg(pose: np.ndarray) -> np.ndarray:
    """Per-frame shoulder-line tilt in degrees (positive: subject's left shoulder higher in the image)."""
    left, right = pose[:, 5], pose[:, 6]
    ok = (left[:, 2] > 0.3) & (right[:, 2] > 0.3)
    # Image y grows downward; the left shoulder is higher when its y is smaller.
    t = np.degrees(np.arctan2(right[:, 1] - left[:, 1], np.abs(left[:, 0] - right[:, 0]) + 1e-9))
    return t[ok]


def test_same_seed_same_arrays_and_other_seed_differs() -> None:
    cfg = SynthConfig(frames=64)
    a = simulate_clip(sample_subject(7, 3, cfg), 7, 1, cfg)
    b = simulate_clip(sample_subject(7, 3, cfg), 7, 1, cfg)
    c = simulate_clip(sample_subject(8, 3, cfg), 8, 1, cfg)
    assert a.pose.tobytes() == b.pose.tobytes()
    assert a.silhouettes.tobytes() == b.silhouettes.tobytes()
    assert a.metadata == b.metadata
    assert not np.array_equal(a.pose, c.pose)


def test_dataset_is_reproducible_and_extends(tmp_path) -> None:
    d1 = make_dataset(tmp_path / "a", subjects=6, clips_per_subject=2, frames=48, seed=5)
    d2 = make_dataset(tmp_path / "b", subjects=6, clips_per_subject=2, frames=48, seed=5)
    assert (d1 / "index.csv").read_bytes() == (d2 / "index.csv").read_bytes()
    for f in sorted((d1 / "clips").glob("*.npz")):
        x, y = load_clip(f), load_clip(d2 / "clips" / f.name)
        np.testing.assert_array_equal(x.pose, y.pose)
        np.testing.assert_array_equal(x.silhouettes, y.silhouettes)
        assert x.metadata == y.metadata
    # Subject i does not depend on how many subjects are drawn.
    small = sample_subject(5, 2, SynthConfig(frames=48))
    clip_small = simulate_clip(small, 5, 1, SynthConfig(frames=48))
    np.testing.assert_array_equal(clip_small.pose, load_clip(d1 / "clips" / "s00002_c01.npz").pose)


def test_clip_format_shapes_and_metadata(tmp_path) -> None:
    d = make_dataset(tmp_path / "ds", subjects=4, clips_per_subject=1, frames=40, seed=1)
    clip = load_clip(next((d / "clips").glob("*.npz")))
    assert clip.pose.shape == (40, 17, 3) and clip.pose.dtype == np.float32
    assert clip.silhouettes.shape == (40, 64, 44) and clip.silhouettes.dtype == np.uint8
    assert clip.fps == 30.0
    assert np.isfinite(clip.pose).all()
    conf = clip.pose[..., 2]
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    md = clip.metadata
    assert md["generator"] == GENERATOR_VERSION and md["seed"] == 1
    assert md["view"] in ("000", "180")
    assert md["label"] == int(md["cobb_angle"] >= 10)
    # Silhouettes: a person-sized blob in every frame, centred horizontally.
    fill = (clip.silhouettes > 127).mean(axis=(1, 2))
    assert (fill > 0.15).all() and (fill < 0.7).all()
    cols = (clip.silhouettes > 127).sum(axis=1).mean(axis=0)
    centre = (cols * np.arange(44)).sum() / cols.sum()
    assert abs(centre - 21.5) < 3


def test_cobb_spread() -> None:
    cobb = np.array([sample_subject(0, i).cobb_angle for i in range(600)])
    below = (cobb < 10).mean()
    assert 0.42 <= below <= 0.58
    assert (cobb >= 40).sum() >= 5  # a tail past 40°
    assert cobb.min() >= 0 and cobb.max() <= 70
    assert (cobb < 5).mean() > 0.15  # many nearly straight spines


def test_shoulder_tilt_grows_with_cobb() -> None:
    cfg = SynthConfig(frames=48)
    bins: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for i in range(150):
        subj = sample_subject(11, i, cfg)
        tilt = _tilt_deg(simulate_clip(subj, 11, 0, cfg).pose)
        b = 0 if subj.cobb_angle < 10 else (1 if subj.cobb_angle < 25 else 2)
        bins[b].append(abs(float(np.median(tilt))))
    means = [np.mean(bins[b]) for b in range(3)]
    assert all(len(bins[b]) >= 10 for b in range(3))
    assert means[0] < means[1] < means[2], means
    assert means[2] > 1.5 * means[0], means


def test_noise_dropouts_and_views_present() -> None:
    cfg = SynthConfig(frames=192)
    clips = [simulate_clip(sample_subject(2, i, cfg), 2, 0, cfg) for i in range(12)]
    views = {c.metadata["view"] for c in clips}
    assert views == {"000", "180"}
    low = np.mean([(c.pose[..., 2] < 0.3).mean() for c in clips])
    assert 0.002 < low < 0.2  # some dropouts, not a broken estimator
    lost = sum(bool((c.pose[..., 2] == 0).all(axis=1).any()) for c in clips)
    assert lost >= 1  # short full-frame losses happen
    # The person grows when walking toward the camera and shrinks walking away.
    for c in clips:
        h = np.abs(c.pose[:, 15, 1] - c.pose[:, 5, 1])
        grow = np.median(h[-20:]) > np.median(h[:20])
        assert grow == (c.metadata["view"] == "000")


def test_render_blank_for_nonfinite_frame() -> None:
    xy = np.full((2, 17, 2), np.nan)
    sil = render_silhouettes(xy)
    assert sil.shape == (2, 64, 44) and sil.max() == 0


def test_bad_config_is_typed() -> None:
    with pytest.raises(DatasetError):
        SynthConfig(frames=0)


def _cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_synth_cli_writes_and_refuses_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "synth"
    assert (
        _cli(["synth", "--out", str(out), "--subjects", "5", "--clips-per-subject", "1", "--frames", "32"])
        == 0
    )
    df = pd.read_csv(out / "index.csv")
    assert len(df) == 5 and set(df["split"]) == {"train", "val", "test"}
    before = (out / "index.csv").read_bytes()
    assert (
        _cli(["synth", "--out", str(out), "--subjects", "3", "--clips-per-subject", "1", "--frames", "32"])
        == 1
    )
    assert "--force" in capsys.readouterr().err
    assert (out / "index.csv").read_bytes() == before
    assert _cli(["synth", "--out", str(out), "-n", "3", "-k", "1", "--frames", "32", "--force"]) == 0
    assert len(pd.read_csv(out / "index.csv")) == 3
    assert len(list((out / "clips").glob("*.npz"))) == 3


def test_rib_hump_shows_in_silhouettes_only_and_grows_with_cobb() -> None:
    import dataclasses

    cfg = SynthConfig(frames=24)
    subjects = [sample_subject(5, i, cfg) for i in range(200)]
    hump = np.array([abs(s.asym["rib_hump"]) for s in subjects])
    cobb = np.array([s.cobb_angle for s in subjects])
    assert np.median(hump[cobb >= 25]) > 2 * np.median(hump[cobb < 10])
    big = subjects[int(np.argmax(hump))]
    flat = dataclasses.replace(big, asym={**big.asym, "rib_hump": 0.0})
    a, b = simulate_clip(big, 5, 0, cfg), simulate_clip(flat, 5, 0, cfg)
    np.testing.assert_array_equal(a.pose, b.pose)  # no keypoint sees the hump
    extra = (a.silhouettes > 127) & ~(b.silhouettes > 127)
    assert extra.sum(axis=(1, 2)).min() >= 3  # … the silhouette does, in every frame
    assert (a.silhouettes > 127).sum() > (b.silhouettes > 127).sum()  # a bulge adds body
