"""Token reduction (pixel-shuffle merge, EViT fusion, ToMe): exact token algebra, saliency that still
sums to one over the original grid, config errors, and export of reduced students to every target."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scoligait_edge.calibration import CalibrationSet
from scoligait_edge.export import export_model, load_bundle
from scoligait_edge.export import targets as T
from scoligait_edge.export.sources import random_heldout

from scoligait_edge.errors import BundleError, ModelError
from scoligait_edge.models import Student, count_flops, student_config
from scoligait_edge.models.flops import example_inputs
from scoligait_edge.models.layers import RopeTable, rollout_relevance
from scoligait_edge.models.reduce import BipartiteMerge, InattentiveFusion, PixelShuffleMerge, Transfer
from scoligait_edge.runtime.base import TorchRunner, make_inputs

torch.set_num_threads(1)

REDUCED = {
    "merge": {"merge": (2, 2), "merge_at": 0},
    "merge@1": {"merge": (2, 2), "merge_at": 1},
    "evit": {"keep": 0.5, "keep_at": (1,)},
    "merge+evit": {"merge": (2, 2), "merge_at": 0, "keep": 0.7, "keep_at": (1,)},
    "tome": {"tome_r": 12},
    "merge+posture": {"merge": (2, 2), "merge_at": 0, "video_posture": True},  # + posture token
}


def _rows_sum_to_one(t: Transfer) -> None:
    np.testing.assert_allclose(t.matrix.sum(-1).detach().numpy(), 1.0, atol=1e-5)


def test_pixel_shuffle_merges_grid_neighbours_and_keeps_fixed_tokens() -> None:
    torch.manual_seed(0)
    m = PixelShuffleMerge(8, n_time=4, n_groups=6, factor=(2, 3), n_fixed=1)
    assert (m.n_in, m.n_out) == (24, 4)
    with pytest.raises(ValueError, match="built for 24 grid"):
        m(torch.randn(2, 24 + 2, 8))  # a token count it was not built for
    z = torch.randn(2, 24 + 1, 8)
    out, t = m(z)
    assert out.shape == (2, 4 + 1, 8) and torch.equal(out[:, -1], z[:, -1])
    # merged token 1 = time patches 0-1 × groups 3-5 of the time-major grid
    src = [tt * 6 + g for tt in (0, 1) for g in (3, 4, 5)]
    assert set(np.flatnonzero(t.matrix[0, 1].detach().numpy() > 0)) == set(src)
    cat = z[:, src].reshape(2, -1)
    np.testing.assert_allclose(out[:, 1].detach(), m.proj(m.norm(cat)).detach(), atol=1e-5)
    _rows_sum_to_one(t)
    pos = m.positions(
        torch.tensor([0.0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 9])
    )
    assert pos.tolist() == [0.5, 0.5, 2.5, 2.5, 9.0]


def test_evit_keeps_most_attended_and_fuses_the_rest_by_attention() -> None:
    z = torch.arange(6 * 3, dtype=torch.float32).reshape(1, 6, 3)
    attn = torch.zeros(1, 6, 6)
    attn[0, :, :5] = torch.tensor([0.1, 0.4, 0.05, 0.3, 0.15])  # token 5 (the prompt) is fixed
    f = InattentiveFusion(6, n_fixed=1, keep=0.4)
    assert f.k == 2 and f.n_out == 4
    out, t = f(z, attn)
    assert (
        torch.equal(out[0, 0], z[0, 1])
        and torch.equal(out[0, 1], z[0, 3])
        and torch.equal(out[0, 3], z[0, 5])
    )
    w = torch.tensor([0.1, 0.05, 0.15]) / 0.3
    np.testing.assert_allclose(out[0, 2], (w[:, None] * z[0, [0, 2, 4]]).sum(0), rtol=1e-6)
    _rows_sum_to_one(t)


def test_tome_merges_most_similar_pairs_and_preserves_mass() -> None:
    torch.manual_seed(1)
    z = torch.randn(2, 9, 4)
    z[:, 2] = z[:, 1] * 3.0  # A token 2 points the same way as B token 1: it must be merged
    tm = BipartiteMerge(9, n_fixed=1, r=2)
    out, t, size = tm(z, torch.ones(2, 9))
    assert out.shape == (2, 7, 4) and tm.n_out == 7
    np.testing.assert_allclose(size.sum(-1), 9.0)  # every input token is accounted for once
    # Σ size·token is preserved (merges are size-weighted means)
    np.testing.assert_allclose((size[..., None] * out).sum(1), z.sum(1), rtol=1e-5, atol=1e-5)
    # rows: the 2 unmerged A tokens, then B tokens 1, 3, 5, 7; B token 1 absorbed A token 2
    assert t.matrix[0, 2, 1] > 0 and t.matrix[0, 2, 2] > 0
    _rows_sum_to_one(t)


def test_mixed_rope_keeps_rotations_of_copied_tokens() -> None:
    cos, sin = torch.rand(5, 4), torch.rand(5, 4)
    r = torch.zeros(1, 3, 5)
    r[0, 0, 3] = 1.0
    r[0, 1, 0] = 1.0
    r[0, 2, [1, 2]] = 0.5
    mixed = RopeTable(cos, sin).mixed(r)
    assert torch.equal(mixed.cos[0, 0, 0], cos[3]) and torch.equal(mixed.sin[0, 0, 1], sin[0])


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_reduced_student_saliency_covers_the_original_grid(name: str) -> None:
    torch.manual_seed(0)
    base = Student(student_config()).eval()
    m = Student(student_config(**REDUCED[name])).eval()
    out = m(*example_inputs(2), extras=True)
    sal = out["saliency"].detach().numpy()
    assert sal.shape == (2, 96, 238) and (sal >= 0).all()
    np.testing.assert_allclose(sal.sum((1, 2)), 1.0, atol=1e-5)
    assert out["km_relevance"].shape == (2, 6, 10)
    assert m.tokens_per_block[-1] < base.tokens_per_block[-1]
    assert count_flops(m) < count_flops(base)


def test_rollout_applies_transfer_steps() -> None:
    r = Transfer(torch.tensor([[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]]))
    rel = rollout_relevance(torch.tensor([[1.0, 3.0]]), [torch.eye(3)[None], r, torch.eye(2)[None]])
    assert rel.tolist() == [[0.5, 0.5, 3.0]]


def test_tome_loads_the_weights_of_its_unreduced_student() -> None:
    base = Student(student_config()).eval()
    tome = Student(student_config(tome_r=16))
    tome.load_state_dict(base.state_dict())  # no new weights: inference-only
    x = example_inputs(2)
    assert not torch.allclose(base(*x)["referral_logit"], tome.eval()(*x)["referral_logit"])


@pytest.mark.parametrize(
    ("overrides", "cause"),
    [
        ({"merge": (4, 2)}, "must divide"),
        ({"merge": (2, 2), "merge_at": 2}, "merge_at"),
        ({"keep": 1.0, "keep_at": (1,)}, "keep"),
        ({"keep": 0.5, "keep_at": (0,)}, "keep_at"),
        ({"merge": (2, 2), "merge_at": 1, "keep": 0.5, "keep_at": (1,)}, "after the pixel-shuffle"),
        ({"tome_r": 4, "keep": 0.5, "keep_at": (1,)}, "tome_r"),
    ],
)
def test_bad_reduction_configs_are_model_errors(overrides: dict, cause: str) -> None:
    with pytest.raises(ModelError, match=cause):
        student_config(**overrides)


def test_teacher_refuses_token_reduction() -> None:
    from scoligait_edge.models import teacher_config

    with pytest.raises(ModelError, match="student option"):
        teacher_config(merge=(2, 2))


# ---------------------------------------------------------------------------------------- export ---


def _tiny(overrides: dict) -> Student:
    torch.manual_seed(0)
    m = Student(student_config(dim=32, depth=2, heads=2, latents=4, latent_heads=2, n_prompts=2, **overrides))
    m.set_normalization(torch.zeros(238), torch.ones(238), 15.0, 10.0)
    return m.eval()


def _held(model: Student) -> dict:
    h = random_heldout(16, seed=3)
    p = TorchRunner(model).run(h)["referral_prob"]
    # a threshold near the median, in the widest gap between the middle windows' scores: at the exact
    # median two windows sit ~1e-3 from it, and any INT8 rounding flips one (a fixture artefact)
    mid = np.sort(p)[len(p) // 4 : 3 * len(p) // 4]
    i = int(np.argmax(np.diff(mid)))
    t = float((mid[i] + mid[i + 1]) / 2)
    model.threshold.fill_(t)
    h["labels"] = (p >= t).astype(int)
    return h


#: Known gaps (issue 13, measured 2026-12-02 on a random tiny student, x86 AVX2): INT8 token
#: selection flips decisions beyond the 95 % agreement gate; LiteRT INT8 of a TopK graph contains
#: STABLEHLO_IOTA, and so does LiteRT FP32 of ToMe (torch.eye/arange built in its forward, which
#: ExecuTorch needs). Pixel-shuffle merging (no data-dependent
#: selection) has no gap. Not strict: the flips depend on the CPU's INT8 kernels.
_FLIPS = "INT8 flips EViT/ToMe token selection: agreement < 95 % on the tiny model"
KNOWN_GAPS = {
    ("litert", "fp32", "tome"): "LiteRT FP32 of ToMe lowers its selection constants to STABLEHLO_IOTA",
    **{
        ("litert", "int8", n): "LiteRT INT8 of a TopK graph uses STABLEHLO_IOTA, which TFLite lacks"
        for n in ("merge+evit", "tome")
    },
    **{
        (t, "int8", n): _FLIPS
        for t in ("onnx", "openvino", "ort-mobile", "executorch")
        for n in ("merge+evit", "tome")
    },
}


def _cases() -> list:
    out = []
    for target in ("onnx", "openvino", "litert", "executorch", "ort-mobile"):
        for precision in ("int8",) if target == "ort-mobile" else ("fp32", "int8"):
            for name in ("merge", "merge+posture", "merge+evit", "tome"):
                gap = KNOWN_GAPS.get((target, precision, name))
                marks = [pytest.mark.xfail(reason=gap, strict=False)] if gap else []
                out.append(
                    pytest.param(target, precision, name, marks=marks, id=f"{target}-{precision}-{name}")
                )
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("target", "precision", "name"), _cases())
def test_reduced_students_export_to_every_target(tmp_path, target: str, precision: str, name: str) -> None:
    ok = T.availability(target)
    if ok is not True:
        pytest.skip(str(ok))
    model = _tiny(REDUCED[name])
    held = _held(model)
    calib = CalibrationSet(**make_inputs(24, seed=11, n_prompts=2), source="random test windows")
    x = make_inputs(3, seed=21, n_prompts=2)
    ref = TorchRunner(model).run(x)
    kw = {"calib": calib} if precision == "int8" and target != "litert" else {}
    p = export_model(model, target, tmp_path / precision, precision=precision, parity_data=held, **kw)
    got = load_bundle(p).run(x)
    assert got["saliency"].shape == (3, 96, 238)
    np.testing.assert_allclose(got["saliency"].sum((1, 2)), 1.0, atol=1e-3)
    atol = 1e-4 if precision == "fp32" else 0.1
    assert np.abs(got["referral_prob"] - ref["referral_prob"]).max() <= atol


@pytest.mark.slow
def test_a_litert_graph_its_interpreter_cannot_load_is_a_typed_bundle_error(tmp_path) -> None:
    # the ToMe gap above, made visible: the export is refused with the op named, not a raw ValueError
    if T.availability("litert") is not True:
        pytest.skip(str(T.availability("litert")))
    model = _tiny(REDUCED["tome"])
    with pytest.raises(BundleError, match="STABLEHLO_IOTA") as ei:
        export_model(model, "litert", tmp_path / "b", precision="fp32", parity_data=_held(model))
    assert "export another target" in ei.value.remedy
    assert not (tmp_path / "b").exists()  # nothing half-written is left behind
