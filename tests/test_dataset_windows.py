"""Model-input windows: shapes/dtypes, equality with the full-clip map, padding, cache, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.data.synth import make_dataset
from scoligait_edge.data.windows import WindowSet, clip_windows, load_windows
from scoligait_edge.errors import DatasetError, InputFileError
from scoligait_edge.kmap import StreamingKnowledgeMap, knowledge_map
from scoligait_edge.pose import Clip, load_clip
from scoligait_edge.prompts import PROMPTS, describe_batch


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(
        tmp_path_factory.mktemp("win") / "ds", subjects=9, clips_per_subject=2, frames=150, seed=2
    )


@pytest.fixture(scope="module")
def clip(data_dir) -> Clip:
    return load_clip(sorted((data_dir / "clips").glob("*.npz"))[0])


def test_clip_windows_shapes_and_values(clip) -> None:
    w = clip_windows(clip, window=96, hop=48)
    assert w["start"].tolist() == [0, 48]  # 150 frames: windows at 0 and 48 (the next would end at 192)
    assert w["kmap"].shape == (2, 96, 238) and w["kmap"].dtype == np.float32
    assert w["mask"].shape == (2, 96, 238) and w["mask"].dtype == np.bool_
    assert w["silhouette"].shape == (2, 96, 64, 44) and w["silhouette"].dtype == np.float32
    assert w["silhouette"].min() >= 0.0 and w["silhouette"].max() <= 1.0 and w["silhouette"].max() > 0.9
    assert (
        w["prompt_id"].dtype == np.int64 and ((w["prompt_id"] >= 0) & (w["prompt_id"] < len(PROMPTS))).all()
    )
    full, mask = knowledge_map(clip.pose, 30.0, return_mask=True)
    np.testing.assert_array_equal(w["kmap"][1], full[48:144])
    np.testing.assert_array_equal(w["mask"][0], mask[:96])
    np.testing.assert_array_equal(w["silhouette"][1], clip.silhouettes[48:144] / np.float32(255))
    np.testing.assert_array_equal(w["prompt_id"], describe_batch(w["kmap"])[0])


def test_windows_match_streaming(clip) -> None:
    w = clip_windows(clip, window=96, hop=48)
    stream = StreamingKnowledgeMap(window=96, hop=48)
    emitted = [out for f in clip.pose if (out := stream.push(f)) is not None]
    assert len(emitted) == len(w["kmap"])
    np.testing.assert_allclose(np.stack(emitted), w["kmap"], atol=1e-5)


def test_short_clip_padded_at_start(clip) -> None:
    short = Clip(pose=clip.pose[:40], silhouettes=clip.silhouettes[:40])
    w = clip_windows(short, window=96, hop=48)
    assert w["kmap"].shape == (1, 96, 238) and w["start"].tolist() == [-56]
    np.testing.assert_array_equal(w["silhouette"][0, :57], np.repeat(w["silhouette"][0, :1], 57, axis=0))
    np.testing.assert_array_equal(w["silhouette"][0, 56:], short.silhouettes / np.float32(255))
    padded = np.concatenate([np.repeat(short.pose[:1], 56, axis=0), short.pose])
    np.testing.assert_array_equal(w["kmap"][0], knowledge_map(padded, 30.0))


def test_clip_without_silhouettes_gives_zeros(clip) -> None:
    w = clip_windows(Clip(pose=clip.pose), window=96, hop=96)
    assert w["silhouette"].shape == (1, 96, 64, 44) and not w["silhouette"].any()


def test_wrong_fps_and_bad_args_are_typed(clip) -> None:
    with pytest.raises(InputFileError, match="fps"):
        clip_windows(Clip(pose=clip.pose, fps=25.0))
    with pytest.raises(DatasetError):
        clip_windows(clip, window=96, hop=0)


def test_load_windows_split_labels_and_cache(data_dir) -> None:
    ws = load_windows(data_dir, "train", cache=True)
    assert isinstance(ws, WindowSet) and not ws.info["cache_hit"]
    n = len(ws)
    assert n > 0 and ws.kmap.shape == (n, 96, 238) and ws.silhouette.shape == (n, 96, 64, 44)
    assert ws.label.dtype == np.float32 and ws.cobb.dtype == np.float32
    np.testing.assert_array_equal(ws.label, (ws.cobb >= 10).astype(np.float32))
    assert len(set(ws.subject_id)) >= 3
    again = load_windows(data_dir, "train", cache=True)
    assert again.info["cache_hit"]
    for name in ("kmap", "mask", "prompt_id", "start", "silhouette", "label", "clip_id"):
        np.testing.assert_array_equal(getattr(again, name), getattr(ws, name))
    b = ws.batch([0, 1])
    assert (
        b["silhouette"].dtype == np.float32
        and b["silhouette"].max() <= 1.0
        and b["kmap"].shape == (2, 96, 238)
    )
    # Splits share no subject.
    test = load_windows(data_dir, "test", cache=False, silhouettes=False)
    assert not set(test.subject_id) & set(ws.subject_id) and not test.silhouette.any()


def test_cache_invalidated_when_a_clip_changes(data_dir, tmp_path) -> None:
    import shutil

    d = shutil.copytree(data_dir, tmp_path / "copy")
    first = load_windows(d, "val", silhouettes=False)
    victim = d / "clips" / f"{first.clip_id[0]}.npz"
    c = load_clip(victim)
    c.pose[:, 5, 1] -= 30.0  # raise the left shoulder
    from scoligait_edge.pose import save_clip

    save_clip(victim, c, force=True)
    second = load_windows(d, "val", silhouettes=False)
    assert not second.info["cache_hit"] and second.info["key"] != first.info["key"]
    assert not np.array_equal(first.kmap[0], second.kmap[0])


def test_mirror_clip_swaps_sides_and_keeps_the_prompt(clip) -> None:
    from scoligait_edge.data.windows import mirror_clip
    from scoligait_edge.kmap import NAMES

    m = mirror_clip(clip)
    lw, rw = 9, 10  # COCO left / right wrist
    c = m.pose[0, rw, 0] + clip.pose[0, lw, 0]  # x of the mirrored right wrist = 2c − x of the left one
    np.testing.assert_allclose(m.pose[:, rw, 0] + clip.pose[:, lw, 0], c, rtol=1e-5)
    np.testing.assert_array_equal(m.pose[:, rw, 1], clip.pose[:, lw, 1])
    np.testing.assert_array_equal(m.silhouettes, clip.silhouettes[:, :, ::-1])
    np.testing.assert_allclose(mirror_clip(m).pose, clip.pose, rtol=1e-5, atol=1e-3)
    a, b = clip_windows(clip), clip_windows(m)
    ix = NAMES.index("shoulder_pair_height_diff")
    np.testing.assert_allclose(b["kmap"][..., ix], -a["kmap"][..., ix], atol=1e-4)  # tilt changes side
    assert not np.allclose(a["kmap"], b["kmap"], equal_nan=True)
    assert b["prompt_id"].tolist() == a["prompt_id"].tolist()  # cues are magnitudes: same description


def test_load_windows_mirror_doubles_training_windows(data_dir) -> None:
    plain = load_windows(data_dir, "train")
    ws = load_windows(data_dir, "train", mirror=True)
    flags = ws.info["mirrored"]
    assert len(ws) == 2 * len(plain) and flags.sum() == len(plain)
    np.testing.assert_array_equal(ws.kmap[~flags], plain.kmap)
    np.testing.assert_array_equal(ws.silhouette[flags], plain.silhouette[..., ::-1])
    np.testing.assert_array_equal(ws.label[flags], plain.label)
    assert ws.info["key"] != plain.info["key"]
    again = load_windows(data_dir, "train", mirror=True)
    assert again.info["cache_hit"] and np.array_equal(again.kmap, ws.kmap, equal_nan=True)
    dense = load_windows(data_dir, "train", hop=16)
    assert len(dense) > len(plain)  # time-shift augmentation: more, overlapping windows


def test_augmentation_needs_a_dataset_directory(data_dir) -> None:
    from scoligait_edge.train.batches import get_windows

    mem = {"train": load_windows(data_dir, "train")}
    with pytest.raises(DatasetError, match="needs the dataset directory"):
        get_windows(mem, "train", mirror=True)
    assert len(get_windows(data_dir, "train", hop=24, mirror=True).info["mirrored"]) > 0
