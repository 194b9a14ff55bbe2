"""Explanations: top features per domain with catalog names and time spans; whole-clip explain."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scoligait_edge.contract import N_FEATURES, WINDOW
from scoligait_edge.errors import ShapeError
from scoligait_edge.kmap.catalog import CATALOG, DOMAINS
from scoligait_edge.kmap.saliency import time_span, top_features, window_starts
from scoligait_edge.models import Student, student_config
from scoligait_edge.screen.explain import explain_clip


def test_time_span_is_the_run_around_the_peak():
    prof = np.array([0, 1, 3, 6, 10, 7, 2, 8, 0], float)
    assert time_span(prof) == (3, 6)  # ≥ 5 around the peak at 4; the later 8 is not contiguous
    assert time_span(np.ones(5)) == (0, 5)


def test_top_features_structure_and_ranking():
    rng = np.random.default_rng(0)
    sal = rng.random((WINDOW, N_FEATURES)) * 1e-3
    sal[40:50, 17] = 1.0  # a motion feature, frames 40..49
    sal[10:12, 150] = 0.5  # a skeleton feature
    sal /= sal.sum()
    top = top_features(sal, top_k=3)
    assert set(top) == set(DOMAINS)
    for domain, rows in top.items():
        assert len(rows) == 3
        scores = [r["score"] for r in rows]
        assert scores == sorted(scores, reverse=True)
        for r in rows:
            f = CATALOG[r["index"]]
            assert (r["name"], r["label"], r["domain"]) == (f.name, f.label, domain)
            s, e = r["frames"]
            assert 0 <= s < e <= WINDOW
            assert r["seconds"] == [round(s / 30, 3), round(e / 30, 3)]
    assert top["motion"][0]["index"] == 17 and top["motion"][0]["frames"] == [40, 50]
    assert top["skeleton"][0]["index"] == 150 and top["skeleton"][0]["frames"] == [10, 12]
    with pytest.raises(ShapeError):
        top_features(sal[:, :100])


def test_explain_clip_covers_the_whole_clip():
    torch.manual_seed(0)
    model = Student(student_config(n_prompts=3)).eval()
    n = 150
    kmap = np.random.default_rng(1).normal(size=(n, N_FEATURES)).astype(np.float32)
    starts = window_starts(n, 48)
    assert starts == [0, 48, 54]
    res = explain_clip(model, kmap, None, np.array([0, 1, 2]), hop=48, top_k=4)
    assert res["saliency"].shape == (n, N_FEATURES)
    assert res["saliency"].sum() == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= res["referral_prob"] <= 1.0
    assert res["refer"] == (res["referral_prob"] >= res["threshold"])
    assert [w["start"] for w in res["windows"]] == starts
    assert all(len(v) == 4 for v in res["top_features"].values())
    assert all(0 <= r["frames"][0] < r["frames"][1] <= n for v in res["top_features"].values() for r in v)
    with pytest.raises(ShapeError, match="prompt ids"):
        explain_clip(model, kmap, None, np.array([0]), hop=48)
    with pytest.raises(ShapeError, match="frames"):
        explain_clip(model, kmap[:50], None, np.array([0]))


@pytest.mark.parametrize("frames", [64, 160])
def test_explain_clip_file_uses_dataset_windows(frames):
    """Short clips are start-padded like the dataset windows; saliency covers only real frames."""
    from scoligait_edge.data.synth import SynthConfig, sample_subject, simulate_clip
    from scoligait_edge.data.windows import clip_windows
    from scoligait_edge.screen.explain import explain_clip_file

    cfg = SynthConfig(frames=frames)
    clip = simulate_clip(sample_subject(0, 1, cfg), 0, 0, cfg)
    model = Student(student_config(n_prompts=154)).eval()
    res, kmap = explain_clip_file(model, clip, top_k=2)
    w = clip_windows(clip)
    assert [x["start"] for x in res["windows"]] == w["start"].tolist()
    assert kmap.shape == res["saliency"].shape == (frames, N_FEATURES)
    assert res["saliency"].sum() == pytest.approx(1.0, abs=1e-5)
    direct = model(
        torch.from_numpy(w["kmap"]), torch.from_numpy(w["silhouette"]), torch.from_numpy(w["prompt_id"])
    )
    assert res["referral_prob"] == pytest.approx(float(direct["referral_prob"].mean()), abs=1e-6)
    assert all(
        0 <= r["frames"][0] < r["frames"][1] <= frames for v in res["top_features"].values() for r in v
    )


def test_clip_inputs_feed_explain_clip():
    from scoligait_edge.data.synth import SynthConfig, sample_subject, simulate_clip
    from scoligait_edge.prompts import describe
    from scoligait_edge.screen.explain import clip_inputs

    cfg = SynthConfig(frames=150)
    clip = simulate_clip(sample_subject(0, 2, cfg), 0, 0, cfg)
    kmap, sil, ids = clip_inputs(clip)
    assert kmap.shape == (150, N_FEATURES) and sil.shape == (150, 64, 44) and 0 <= sil.min() <= sil.max() <= 1
    assert ids.tolist() == [describe(kmap[s : s + WINDOW])[0] for s in (0, 48, 54)]
    res = explain_clip(Student(student_config(n_prompts=154)), kmap, sil, ids)
    assert res["saliency"].shape == (150, N_FEATURES)
