"""End-to-end CLI: train → evaluate → distill → explain on a small ScoliGait-Synth set."""

from __future__ import annotations

import json

import pytest

from scoligait_edge.cli import main

TINY = {
    "model": {"dim": 32, "depth": 1, "heads": 2, "latents": 8, "latent_heads": 2},
    "train": {"epochs": 1, "batch_size": 16},
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from scoligait_edge.data.synth import make_dataset

    return make_dataset(
        tmp_path_factory.mktemp("synth") / "ds", subjects=9, clips_per_subject=1, frames=128, seed=3
    )


def run(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr()


@pytest.mark.slow
def test_train_evaluate_distill_explain(synth, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(TINY))
    teacher = tmp_path / "t.pt"
    code, _ = run(
        ["train", "--data", str(synth), "--out", str(teacher), "--config", str(cfg), "--seed", "1"], capsys
    )
    assert code == 0 and teacher.is_file() and teacher.with_suffix(".json").is_file()
    # refusing to overwrite without --force: one line, exit 1, no traceback
    code, cap = run(["train", "--data", str(synth), "--out", str(teacher)], capsys)
    assert code == 1 and "already exists" in cap.err and "Traceback" not in cap.err

    ev = tmp_path / "ev.json"
    code, cap = run(["evaluate", "--data", str(synth), "--model", str(teacher), "--json", str(ev)], capsys)
    assert code == 0 and "Acc" in cap.out
    res = json.loads(ev.read_text())
    assert res["threshold_source"] == "val" and 0.0 <= res["accuracy"] <= 1.0

    student = tmp_path / "s.pt"
    code, _ = run(
        ["distill", "--teacher", str(teacher), "--data", str(synth), "--out", str(student), "--epochs", "1"],
        capsys,
    )
    assert code == 0 and student.is_file()

    clip = next((synth / "clips").glob("*.npz"))
    out_json, out_png = tmp_path / "ex.json", tmp_path / "ex.png"
    code, _ = run(
        ["explain", str(clip), "--model", str(student), "--json", str(out_json), "--png", str(out_png)],
        capsys,
    )
    assert code == 0 and out_png.stat().st_size > 1000
    doc = json.loads(out_json.read_text())
    assert set(doc["top_features"]) == {"motion", "skeleton", "crosscorr"}
    assert all(0 <= r["frames"][0] < r["frames"][1] <= 128 for v in doc["top_features"].values() for r in v)


def test_bad_model_path_is_one_line_error(synth, tmp_path, capsys):
    code, cap = run(["evaluate", "--data", str(synth), "--model", str(tmp_path / "none.pt")], capsys)
    assert code == 1 and "neither" in cap.err and "Traceback" not in cap.err
