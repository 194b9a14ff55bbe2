"""`scoligait-edge kmap` and the heatmap renderer."""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.cli import main
from scoligait_edge.errors import OutputExistsError, ShapeError
from scoligait_edge.kmap import catalog_hash, knowledge_map
from scoligait_edge.kmap.render import save_heatmap, zscore_features
from scoligait_edge.kmap.testing import toy_walk
from scoligait_edge.pose import Clip, save_clip

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture
def clip_path(tmp_path):
    path = tmp_path / "walk.npz"
    save_clip(path, Clip(pose=toy_walk(120, seed=31, missing=0.05), fps=25.0))
    return path


def test_kmap_writes_map_mask_and_png(clip_path, tmp_path, capsys):
    out, png = tmp_path / "m.npy", tmp_path / "m.png"
    assert run_cli("kmap", str(clip_path), "--out", str(out), "--png", str(png)) == 0
    ref, ref_mask = knowledge_map(toy_walk(120, seed=31, missing=0.05), fps=25.0, return_mask=True)
    np.testing.assert_array_equal(np.load(out), ref)
    np.testing.assert_array_equal(np.load(tmp_path / "m.mask.npy"), ref_mask)
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    assert "120 frames at 25 fps" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mask.npy", "m.npy", "m.png", "walk.npz"]


def test_kmap_npz_output(clip_path, tmp_path):
    out = tmp_path / "m.npz"
    assert run_cli("kmap", str(clip_path), "--out", str(out)) == 0
    with np.load(out, allow_pickle=False) as z:
        assert z["kmap"].shape == (120, 238) and z["mask"].dtype == bool
        assert str(z["catalog_hash"]) == catalog_hash() and float(z["fps"]) == 25.0


def test_kmap_refuses_to_overwrite_without_force(clip_path, tmp_path, capsys):
    out = tmp_path / "m.npy"
    mask_file = tmp_path / "m.mask.npy"
    mask_file.write_bytes(b"user data")
    assert run_cli("kmap", str(clip_path), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert not out.exists() and mask_file.read_bytes() == b"user data"
    assert run_cli("kmap", str(clip_path), "--out", str(out), "--force") == 0
    assert np.load(mask_file).shape == (120, 238)


@pytest.mark.parametrize(
    ("clip_name", "out_name", "message"),
    [("walk.npz", "m.csv", "unsupported map file type"), ("nope.npz", "m.npy", "no such clip")],
)
def test_kmap_bad_arguments_are_one_line_errors(clip_path, tmp_path, capsys, clip_name, out_name, message):
    assert run_cli("kmap", str(tmp_path / clip_name), "--out", str(tmp_path / out_name)) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_heatmap_with_saliency_and_mask(tmp_path):
    kmap, mask = knowledge_map(toy_walk(96, seed=32, missing=0.1), return_mask=True)
    sal = np.zeros_like(kmap)
    sal[40:60, 172:190] = 1.0
    path = save_heatmap(kmap, tmp_path / "h.png", title="t", saliency=sal, mask=mask)
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(OutputExistsError):
        save_heatmap(kmap, path)
    with pytest.raises(ShapeError):
        save_heatmap(kmap, tmp_path / "x.png", saliency=sal[:, :10])
    with pytest.raises(ShapeError):
        save_heatmap(kmap[:, :237], tmp_path / "y.png")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_zscore_is_per_feature_and_ignores_invalid_cells():
    x = np.zeros((4, 238), np.float32)
    x[:, 0] = [1, 2, 3, 1000]
    x[:, 1] = 5.0
    mask = np.ones_like(x, bool)
    mask[3, 0] = False
    z = zscore_features(x, mask)
    np.testing.assert_allclose(z[:3, 0], [-1.2247449, 0, 1.2247449], atol=1e-6)
    assert np.all(z[:, 1] == 0)
