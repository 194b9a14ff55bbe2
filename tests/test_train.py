"""Training, distillation and evaluation on the toy window set (small, seeded)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scoligait_edge.errors import DatasetError, ModelError
from scoligait_edge.models import Student, Teacher, load_model
from scoligait_edge.train.distill import distill, distillation_gaps
from scoligait_edge.train.evaluate import choose_threshold, clip_level, evaluate, metrics, predict_windows
from scoligait_edge.train.loop import TrainConfig
from scoligait_edge.train.teacher import train_teacher
from scoligait_edge.train.toy import SIGNAL_FEATURES, toy_splits

SMALL = {"dim": 32, "depth": 1, "heads": 2, "latents": 8, "latent_heads": 2}
TEXT = np.random.default_rng(0).normal(size=(4, 384)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return toy_splits(seed=0, subjects=8)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    cfg = {"model": SMALL, "train": {"epochs": 4, "batch_size": 8, "lr": 2e-3, "seed": 1}}
    model, info = train_teacher(data, cfg, out, text_table=TEXT, quiet=True)
    return model, info, out


def test_training_reduces_loss_and_saves_a_loadable_checkpoint(trained, data):
    model, info, out = trained
    hist = info["history"]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert min(h["val_loss"] for h in hist) < hist[0]["val_loss"]
    loaded = load_model(out)
    assert isinstance(loaded, Teacher)
    assert float(loaded.threshold) == pytest.approx(float(model.threshold))
    # normalisation stats were taken from the training split and live inside the model
    np.testing.assert_allclose(loaded.km_mean.numpy(), data["train"].kmap.mean((0, 1)), atol=1e-4)


def test_training_is_seeded(data):
    cfg = {"model": SMALL, "train": {"epochs": 1, "batch_size": 8, "seed": 5}}
    a, _ = train_teacher(data, cfg, text_table=TEXT, quiet=True)
    b, _ = train_teacher(data, cfg, text_table=TEXT, quiet=True)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(va, vb, atol=0, rtol=0, msg=k)


def test_trained_teacher_learns_toy_signal(trained, data):
    model, _, _ = trained
    res = evaluate(model, data, "test")
    assert res["auc"] > 0.9
    # its saliency puts more than a uniform share on the features that carry the toy label
    with torch.no_grad():
        ws = data["test"]
        pos = np.flatnonzero(ws.label == 1)[:8]
        sal = model(
            torch.from_numpy(ws.kmap[pos]),
            torch.from_numpy(ws.silhouette[pos]).float() / 255,
            torch.from_numpy(ws.prompt_id[pos]),
        )["saliency"].numpy()
    cols = np.concatenate([np.arange(238)[s] for s in SIGNAL_FEATURES])
    assert sal[:, :, cols].sum((1, 2)).mean() > len(cols) / 238


def test_evaluate_takes_threshold_from_val_never_test(trained, data):
    model, _, _ = trained
    vc = clip_level(data["val"], predict_windows(model, data["val"]))
    expected = choose_threshold(vc["label"], vc["prob"])
    res = evaluate(model, data, "test")
    assert res["threshold_source"] == "val"
    assert res["threshold"] == pytest.approx(expected)
    # swapping in a different test split leaves the threshold unchanged
    other = dict(data, test=toy_splits(seed=9, subjects=6)["test"])
    assert evaluate(model, other, "test")["threshold"] == pytest.approx(expected)
    assert res["n_clips"] == 16 and res["n_subjects"] == 8
    for key in ("accuracy", "macro_f1", "auc", "sensitivity", "specificity", "cobb_mae", "per_class"):
        assert key in res


def test_threshold_and_metrics_on_hand_example():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.7, 0.6, 0.8, 0.9])
    t = choose_threshold(labels, probs)
    assert t == pytest.approx(0.5)  # J = 1 + 2/3 − 1 on (0.2, 0.6]; ties go to the value closest to 0.5
    # separable scores: the midpoint of the gap, not a data point
    assert choose_threshold(labels, np.array([0.1, 0.55, 0.6, 0.7, 0.8, 0.9])) == pytest.approx(0.65)
    m = metrics(labels, probs, t)
    assert m["sensitivity"] == 1.0 and m["specificity"] == pytest.approx(2 / 3)
    assert m["per_class"]["positive"]["precision"] == pytest.approx(0.75)
    assert m["per_class"]["negative"]["recall"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["auc"] == pytest.approx(8 / 9)
    assert choose_threshold(np.ones(3), np.array([0.2, 0.4, 0.9])) == 0.5


def test_bad_inputs_are_typed(data, tmp_path):
    with pytest.raises(DatasetError, match="split"):
        evaluate(Student(), data, "holdout")
    with pytest.raises(DatasetError, match="prompt"):
        evaluate(Student(), data, "test")  # a 1-prompt model cannot read 4-prompt data
    with pytest.raises(ModelError, match="unknown train config"):
        train_teacher(data, {"train": {"epoch": 3}}, text_table=TEXT, quiet=True)
    with pytest.raises(ModelError, match="unknown distill config keys"):
        distill(Student(), data, config={"distill": {"temprature": 2.0}}, quiet=True)
    with pytest.raises(DatasetError, match="prompt_id"):
        train_teacher(data, {"model": SMALL}, text_table=TEXT[:2], quiet=True)


def test_distillation_student_follows_teacher(trained, data, tmp_path):
    teacher, _, _ = trained
    cfg = {
        "train": {"epochs": 4, "batch_size": 8, "seed": 2},
        "model": {"dim": 32, "heads": 2, "latent_heads": 2},
    }
    student, info = distill(teacher, data, tmp_path / "student.pt", cfg, quiet=True)
    hist = info["history"]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert isinstance(load_model(tmp_path / "student.pt"), Student)
    # the prompt table is a constant projection of the teacher's MiniLM table, not MiniLM itself
    assert student.prompt_table.shape == (4, 32) and not student.prompt_table.requires_grad
    gaps = distillation_gaps(teacher, student, data, "test")
    assert gaps["decision_agreement"] >= 0.75
    assert gaps["student_auc"] > 0.8
    assert 0.0 <= gaps["top10_feature_overlap"] <= 1.0
    evals = (evaluate(teacher, data, "test"), evaluate(student, data, "test"))
    assert distillation_gaps(teacher, student, data, "test", evals=evals) == gaps  # given, not recomputed
    with pytest.raises(ValueError, match="not 'val'"):
        distillation_gaps(teacher, student, data, "val", evals=evals)


def test_ablation_writes_both_tables(data, tmp_path):
    from scoligait_edge.train.ablate import run_ablation

    md = run_ablation(
        data,
        tmp_path / "abl",
        epochs=1,
        seed=(0, 1),
        model_overrides={"dim": 16, "depth": 1, "heads": 2, "latents": 4, "latent_heads": 2},
        text_table=TEXT,
        quiet=True,
    )
    assert "Table 2" in md and "Table 3" in md and "Table 4" in md
    for name in ("KM+Video+Text", "Cat+Att", "unaligned", "decoupled contrastive"):
        assert name in md
    assert " ± " in md and "seeds 0, 1" in md  # two seeds: means with intervals
    doc = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert doc["seeds"] == [0, 1] and all(len(r["metrics"]) == 2 for r in doc["runs"])
    assert {r["contrastive"] for r in doc["runs"]} == {0.0, 0.1}


def test_reference_recipe_is_valid_and_matches_the_shipped_student():
    from scoligait_edge.models import (
        load_default_student,
        load_default_teacher,
        student_config,
        teacher_config,
    )
    from scoligait_edge.train.distill import DistillWeights
    from scoligait_edge.train.loop import TrainConfig
    from scoligait_edge.train.reference import STUDENT, TEACHER

    for recipe in (TEACHER, STUDENT):
        assert TrainConfig.from_dict(recipe["train"]).mirror  # both train on mirrored clips
    DistillWeights(**STUDENT.get("distill", {}))
    student = load_default_student()
    n_prompts = student.cfg.n_prompts
    want = student_config(**STUDENT["model"], n_prompts=n_prompts)
    assert student.cfg.to_dict() == want.to_dict()  # the shipped student is the recipe's
    want = teacher_config(**TEACHER["model"], n_prompts=n_prompts)
    assert load_default_teacher().cfg.to_dict() == want.to_dict()  # … and so is the shipped teacher


def test_screening_operating_point_holds_the_val_sensitivity():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(40, int), np.zeros(60, int)]
    probs = np.r_[rng.uniform(0.3, 1.0, 40), rng.uniform(0.0, 0.7, 60)]
    for sens in (0.5, 0.85, 0.9, 1.0):
        t = choose_threshold(labels, probs, sensitivity=sens)
        got = (probs[labels == 1] >= t).mean()
        assert got >= sens  # refers at least that share of the positives …
        assert (probs[labels == 1] >= t).sum() == int(np.ceil(sens * 40 - 1e-9))  # … and not one more
        assert not np.any(probs == t)  # midway between scores, not on a sample
    assert choose_threshold(labels, probs, 0.0) == choose_threshold(labels, probs)  # 0: Youden's J
    with pytest.raises(ValueError, match="sensitivity"):
        choose_threshold(labels, probs, sensitivity=1.5)
    with pytest.raises(ModelError, match="operating_sensitivity"):
        TrainConfig.from_dict({"operating_sensitivity": -0.1})
