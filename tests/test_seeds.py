"""Seed study helpers: intervals, subject-level bootstrap, recipe overrides, the summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoligait_edge.train.reference import STUDENT, TEACHER, recipe
from scoligait_edge.train.seeds import METRICS, bootstrap_auc, interval, summarize


def test_interval_is_a_student_t_interval() -> None:
    iv = interval([0.80, 0.82, 0.84])
    assert iv["mean"] == pytest.approx(0.82) and iv["std"] == pytest.approx(0.02)
    assert iv["ci95"] == pytest.approx(4.303 * 0.02 / np.sqrt(3), rel=1e-4)
    assert np.isnan(interval([0.8])["ci95"])  # one seed: no interval, not a fake zero


def test_bootstrap_resamples_subjects_and_brackets_the_auc() -> None:
    rng = np.random.default_rng(0)
    label = np.repeat(rng.integers(0, 2, 100), 2)  # two clips per subject
    prob = np.clip(label * 0.3 + rng.random(200) * 0.7, 0, 1)
    subject = np.repeat(np.arange(100), 2).astype(str)
    b = bootstrap_auc(label, prob, subject, n_boot=200)
    assert b["lo"] < b["auc"] < b["hi"] and b["hi"] - b["lo"] < 0.2


def test_recipe_merges_overrides_one_level_deep_and_sets_seed_and_threads() -> None:
    got = recipe("teacher", 2, seed=5, overrides={"train": {"epochs": 6}, "model": {"dim": 32}})
    assert got["train"]["epochs"] == 6 and got["train"]["lr"] == TEACHER["train"]["lr"]
    assert (got["train"]["seed"], got["train"]["threads"]) == (5, 2)
    assert got["model"] == {**TEACHER["model"], "dim": 32}
    assert TEACHER["train"]["epochs"] == 4 and "threads" not in TEACHER["train"]  # recipe untouched
    s = recipe("student", 1)
    assert s["distill"] == STUDENT["distill"] and s["train"]["seed"] == STUDENT["train"]["seed"]


def test_summary_reads_every_seed(tmp_path) -> None:
    for s, (t, st) in enumerate(((0.90, 0.88), (0.91, 0.885), (0.89, 0.87))):
        d = tmp_path / f"seed{s}"
        d.mkdir()
        r = {"seed": s, "teacher_auc": t, "student_auc": st, "auc_drop": t - st}
        r.update({"decision_agreement": 0.95, "top10_feature_overlap": 0.6})
        r["bootstrap"] = {k: {"auc": 0.9, "lo": 0.85, "hi": 0.94} for k in ("teacher", "student")}
        (d / "result.json").write_text(json.dumps(r))
    s = summarize(tmp_path)
    assert set(METRICS) <= set(s) and s["seeds"] == [0, 1, 2]
    assert s["auc_drop"]["mean"] == pytest.approx(0.065 / 3)
    md = (tmp_path / "summary.md").read_text()
    assert "Teacher − student AUC | 0.022 ±" in md and "bootstrap" in md
