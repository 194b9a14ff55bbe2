"""Model building blocks, teacher/student contract outputs, RoPE alignment, checkpoints, budgets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from scoligait_edge.contract import INPUT_NAMES, N_FEATURES, OUTPUT_NAMES, WINDOW
from scoligait_edge.errors import ModelError
from scoligait_edge.models import (
    ExportView,
    ModelConfig,
    Student,
    Teacher,
    count_flops,
    example_inputs,
    load_model,
    save_model,
    student_config,
    teacher_config,
)
from scoligait_edge.models.embed import KMPatchEmbed, feature_groups
from scoligait_edge.models.layers import Attention, LatentAttentionPooling, masked_mean

SMALL_T = {"dim": 32, "depth": 1, "heads": 2, "latents": 8, "latent_heads": 2, "n_prompts": 4}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.mark.parametrize("cls", [Teacher, Student])
@pytest.mark.parametrize("batch", [1, 3])
def test_contract_outputs(cls, batch):
    model = cls().eval()
    out = model(*example_inputs(batch), extras=True)
    for name in OUTPUT_NAMES:
        assert out[name].dtype == torch.float32
    assert out["referral_logit"].shape == out["referral_prob"].shape == out["cobb_angle"].shape == (batch,)
    assert out["saliency"].shape == (batch, WINDOW, N_FEATURES)
    torch.testing.assert_close(out["referral_prob"], torch.sigmoid(out["referral_logit"]))
    sal = out["saliency"]
    assert (sal >= 0).all()
    torch.testing.assert_close(sal.sum(dim=(1, 2)), torch.ones(batch), atol=1e-5, rtol=0)
    assert out["embedding"].shape == (batch, model.cfg.dim)


@pytest.mark.parametrize("cls", [Teacher, Student])
def test_samples_do_not_interact_across_the_batch(cls):
    model = cls().eval()
    km, sil, pid = example_inputs(3)
    pid = torch.tensor([0, 0, 0])
    full = model(km, sil, pid)
    one = model(km[1:2], sil[1:2], pid[1:2])
    for k in OUTPUT_NAMES:
        torch.testing.assert_close(full[k][1:2], one[k], atol=1e-5, rtol=1e-4)


def test_feature_groups_partition_catalog_within_domains():
    from scoligait_edge.kmap.catalog import CATALOG

    groups = feature_groups((10, 4, 6))
    flat = np.concatenate(groups)
    assert sorted(flat.tolist()) == list(range(N_FEATURES))
    for g in groups:
        assert len({CATALOG[int(i)].domain for i in g}) == 1


def test_km_distribute_preserves_token_relevance():
    emb = KMPatchEmbed(16, WINDOW, N_FEATURES, 16, (5, 2, 3))
    x = torch.randn(2, WINDOW, N_FEATURES)
    rel = torch.rand(2, emb.n_tokens)
    sal = emb.distribute(rel, x)
    # summing the saliency back over each token's cells gives the token's relevance
    per_patch = sal.reshape(2, emb.n_time, emb.patch, N_FEATURES).sum(2)
    grid = per_patch @ torch.nn.functional.one_hot(emb.group_of, emb.n_groups).float()
    torch.testing.assert_close(grid.reshape(2, -1), rel, atol=1e-5, rtol=1e-5)


def test_latent_pooling_matches_reference_implementation():
    torch.manual_seed(3)
    d, heads, k = 24, 3, 7
    pool = LatentAttentionPooling(d, k, heads).eval()
    with torch.no_grad():
        for p in pool.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(2, 11, d)
    mask = torch.tensor([[1.0] * 11, [1.0] * 6 + [0.0] * 5])
    got = pool(x, mask)

    # plain reference: per head softmax(Q Kᵀ/√dh) V with K = V = projected latents
    def ln(t, m):
        return torch.nn.functional.layer_norm(t, (d,), m.weight, m.bias, m.eps)

    q = ln(x, pool.norm_q) @ pool.q.weight.T + pool.q.bias
    kk = pool.latents @ pool.k.weight.T + pool.k.bias
    vv = pool.latents @ pool.v.weight.T + pool.v.bias
    dh = d // heads
    outs = []
    for h in range(heads):
        s = slice(h * dh, (h + 1) * dh)
        a = torch.softmax(q[..., s] @ kk[:, s].T / math.sqrt(dh), dim=-1)
        outs.append(a @ vv[:, s])
    hid = x + torch.cat(outs, -1) @ pool.proj.weight.T + pool.proj.bias
    u = ln(hid, pool.norm_mlp) @ pool.mlp.fc1.weight.T + pool.mlp.fc1.bias
    a_, g_ = u[..., : u.shape[-1] // 2], u[..., u.shape[-1] // 2 :]
    hid = hid + (a_ * torch.nn.functional.gelu(g_)) @ pool.mlp.fc2.weight.T + pool.mlp.fc2.bias
    y = ln(hid, pool.norm_out)
    ref = torch.stack([y[0].mean(0), y[1, :6].mean(0)])
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_padding_tokens_do_not_change_pooled_output():
    pool = LatentAttentionPooling(16, 4, 2).eval()
    x = torch.randn(2, 5, 16)
    padded = torch.cat([x, 100 * torch.randn(2, 3, 16)], dim=1)
    mask = torch.cat([torch.ones(2, 5), torch.zeros(2, 3)], dim=1)
    torch.testing.assert_close(pool(padded, mask), pool(x), atol=1e-6, rtol=1e-5)
    assert not torch.allclose(pool(padded), pool(x))  # without the mask the padding would leak in
    torch.testing.assert_close(masked_mean(padded, mask), x.mean(1))


def test_attention_key_mask_hides_padding():
    att = Attention(16, 2).eval()
    x = torch.randn(1, 6, 16)
    padded = torch.cat([x, torch.randn(1, 2, 16)], dim=1)
    out, w = att(padded, key_mask=torch.tensor([[1.0] * 6 + [0.0] * 2]))
    ref, _ = att(x)
    torch.testing.assert_close(out[:, :6], ref, atol=1e-5, rtol=1e-5)
    assert float(w[..., 6:].max()) < 1e-4


def _km_and_video_angles(model: Teacher):
    rope = model.fusion_rope
    n_km = model.km_embed.n_tokens
    groups, per_t_video = model.km_embed.n_groups, model.video_embed.nh * model.video_embed.nw
    km = rope.angles[:n_km].reshape(-1, groups, rope.angles.shape[-1])
    vid = rope.angles[n_km : n_km + model.video_embed.n_tokens].reshape(
        -1, per_t_video, rope.angles.shape[-1]
    )
    return km, vid


def test_aligned_rope_gives_same_frames_same_rotation():
    model = Teacher(teacher_config(**SMALL_T, fusion="cat+attention", rope="aligned"))
    km, vid = _km_and_video_angles(model)
    assert km.shape[0] == vid.shape[0] == WINDOW // model.cfg.km_patch
    for t in range(km.shape[0]):  # every km token and every video token of time patch t: identical angles
        torch.testing.assert_close(km[t], km[t, :1].expand_as(km[t]), atol=0, rtol=0)
        torch.testing.assert_close(vid[t], km[t, :1].expand_as(vid[t]), atol=0, rtol=0)
    assert not torch.allclose(km[0, 0], km[1, 0])  # different frames rotate differently
    # the student shares positions between its knowledge-map and silhouette tokens in the same way
    st = Student(student_config(n_prompts=4))
    ang = st.encoder.rope.angles
    n_km, g = st.km_embed.n_tokens, st.km_embed.n_groups
    sil = ang[n_km : n_km + st.sil_embed.n_tokens]
    torch.testing.assert_close(ang[:n_km:g], sil, atol=0, rtol=0)


def test_unaligned_rope_differs_across_modalities():
    model = Teacher(teacher_config(**SMALL_T, fusion="cat+attention", rope="unaligned"))
    km, vid = _km_and_video_angles(model)
    assert not torch.allclose(km[1, 0], vid[1, 0])
    assert not torch.allclose(km[0, 0], km[0, 1])  # raster order: groups of one patch differ too
    outs = [
        Teacher(teacher_config(**SMALL_T, fusion="cat+attention", rope=r)).eval()
        for r in ("aligned", "unaligned")
    ]
    outs[1].load_state_dict(outs[0].state_dict())
    x = example_inputs(2)
    assert not torch.allclose(outs[0](*x)["referral_logit"], outs[1](*x)["referral_logit"])


def test_config_validation_is_typed():
    with pytest.raises(ModelError, match="fusion"):
        teacher_config(fusion="sum")
    with pytest.raises(ModelError, match="unknown model config keys"):
        ModelConfig.from_dict({"kind": "teacher", "widht": 3})
    with pytest.raises(ModelError, match="km_patch"):
        teacher_config(km_patch=10)


def test_checkpoint_round_trip(tmp_path):
    model = Student(student_config(n_prompts=5))
    with torch.no_grad():
        model.prompt_table.normal_()
        model.threshold.fill_(0.37)
    path = save_model(model, tmp_path / "s.pt", meta={"note": "x"})
    loaded = load_model(path)
    assert isinstance(loaded, Student) and not loaded.training
    assert float(loaded.threshold) == pytest.approx(0.37)
    x = (*example_inputs(2)[:2], torch.tensor([4, 1]))
    ref, got = model.eval()(*x), loaded(*x)
    for k in OUTPUT_NAMES:
        torch.testing.assert_close(got[k], ref[k], atol=0, rtol=0)
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["kind"] == "student" and doc["meta"] == {"note": "x"}
    with pytest.raises(Exception, match="exists"):
        save_model(model, tmp_path / "s.pt")


def test_checkpoint_refuses_mismatch_and_corruption(tmp_path):
    path = save_model(Teacher(teacher_config(**SMALL_T)), tmp_path / "t.pt")
    cfg_file = tmp_path / "t.json"
    doc = json.loads(cfg_file.read_text())
    # config that does not fit the weights
    bad = dict(doc, config=dict(doc["config"], dim=48, heads=2))
    cfg_file.write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="does not fit"):
        load_model(path)
    cfg_file.write_text(json.dumps(doc))
    # a tampered weights file
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="sha256"):
        load_model(path)
    # a truncated file whose hash was "fixed" still fails to load, with a typed error
    path.write_bytes(bytes(raw[:200]))
    cfg_file.write_text(json.dumps(dict(doc, weights_sha256=None)))
    with pytest.raises(ModelError, match="corrupt"):
        load_model(path)
    cfg_file.write_text("{not json")
    with pytest.raises(ModelError, match="JSON"):
        load_model(path)
    cfg_file.unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(path)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope.pt")


def test_student_budget_flops_and_size():
    teacher, student = Teacher(), Student()
    ratio = count_flops(teacher) / count_flops(student)
    assert ratio >= 10.0, ratio
    # INT8 weights take one byte per parameter, constant tables (prompts, norms, RoPE) stay fp32: under 1 MB
    n_bytes = student.n_params() + 4 * sum(b.numel() for b in student.buffers())
    assert n_bytes <= 1_000_000, n_bytes


def test_default_checkpoints_load():
    from scoligait_edge.models import load_default_student, load_default_teacher

    s, t = load_default_student(), load_default_teacher()
    assert isinstance(s, Student) and isinstance(t, Teacher)
    x = (*example_inputs(2)[:2], torch.zeros(2, dtype=torch.int64))
    assert s(*x)["saliency"].shape == (2, WINDOW, N_FEATURES)


@pytest.mark.slow
def test_student_onnx_export_dynamic_batch_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = Student(student_config(n_prompts=4)).eval()
    path = tmp_path / "student.onnx"
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.onnx.export(
        ExportView(model),
        example_inputs(2),
        str(path),
        dynamo=True,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
        opset_version=20,
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for b in (1, 5):
        km, sil, _ = example_inputs(b, seed=b)
        pid = torch.arange(b) % 4
        ref = ExportView(model)(km, sil, pid)
        got = sess.run(None, {"kmap": km.numpy(), "silhouette": sil.numpy(), "prompt_id": pid.numpy()})
        for r, g in zip(ref, got, strict=True):
            assert g.shape == tuple(r.shape)
            np.testing.assert_allclose(g, r.detach().numpy(), atol=1e-5, rtol=1e-4)


def test_explanation_constants_follow_the_weights():
    """Eval-mode saliency reads a cached copy of the embedding's column norms; it must track the weights."""
    model = Student(student_config(n_prompts=2))
    emb = model.km_embed
    with torch.no_grad():
        emb.proj.weight.mul_(torch.rand_like(emb.proj.weight))
    model.eval()
    torch.testing.assert_close(emb.col_norm, emb.column_norms())
    other = Student(student_config(n_prompts=2)).eval()
    other.load_state_dict(model.state_dict())
    torch.testing.assert_close(other.km_embed.col_norm, emb.column_norms())
    x = example_inputs(2)
    torch.testing.assert_close(other(*x)["saliency"], model(*x)["saliency"])


def test_posture_tokens_see_the_window_mean_silhouette_not_its_frame_order():
    """``video_posture`` adds one token per spatial patch of the window-mean silhouette: shuffling
    the frames changes every tubelet token but no posture token; a static bulge on one flank
    (a rib hump) changes the posture tokens of that flank's patch and, through the mean's
    antisymmetric part, of its mirror patch — and nothing else."""
    from scoligait_edge.models.embed import TubeletEmbed

    torch.manual_seed(0)
    emb = TubeletEmbed(16, WINDOW, (64, 44), (16, 16, 11), posture=True)
    n_tube = emb.nt * emb.nh * emb.nw
    assert emb.n_tokens == n_tube + emb.nh * emb.nw
    v = torch.rand(2, WINDOW, 64, 44)
    shuffled = v[:, torch.randperm(WINDOW)]
    a, b = emb(v), emb(shuffled)
    torch.testing.assert_close(a[:, n_tube:], b[:, n_tube:], atol=1e-5, rtol=1e-5)
    assert (a[:, :n_tube] - b[:, :n_tube]).abs().amax() > 1e-2
    bulge = v.clone()
    bulge[:, :, 20:30, 40:44] += 0.5  # right flank, rows 20–29: spatial patch row 1, column 3
    d = (emb(bulge)[:, n_tube:] - a[:, n_tube:]).abs().amax(dim=(0, 2)).reshape(emb.nh, emb.nw)
    assert d[1, 3] > 1e-2 and d[1, 0] > 1e-2 and int((d > 1e-6).sum()) == 2
    # aligned rotary positions put the posture tokens at the window's centre frame
    pos = emb.positions(aligned=True)
    assert len(pos) == emb.n_tokens and torch.all(pos[n_tube:] == (WINDOW - 1) / 2)
    un = emb.positions(aligned=False)
    assert torch.equal(un, torch.arange(emb.n_tokens, dtype=torch.float32))


def test_posture_models_run_and_the_student_posture_token_ignores_frame_order():
    t = Teacher(teacher_config(**SMALL_T, video_posture=True)).eval()
    out = t(torch.randn(2, WINDOW, N_FEATURES), torch.rand(2, WINDOW, 64, 44), torch.tensor([0, 3]))
    assert out["referral_logit"].shape == (2,) and torch.isfinite(out["saliency"]).all()
    st = Student(student_config(n_prompts=4, video_posture=True, merge=(2, 2), depth=1)).eval()
    emb = st.sil_embed
    assert emb.n_tokens == WINDOW // 16 + 1
    v = torch.rand(2, WINDOW, 64, 44)
    sampled = torch.arange(0, WINDOW, emb.stride)
    shuffled = v.clone()
    shuffled[:, sampled] = v[:, sampled[torch.randperm(len(sampled))]]  # reorder the frames it reads
    a, b = emb(v), emb(shuffled)
    torch.testing.assert_close(a[:, -1], b[:, -1], atol=1e-5, rtol=1e-5)  # the posture token
    assert (a[:, :-1] - b[:, :-1]).abs().amax() > 1e-2
    skipped = v.clone()
    skipped[:, 1::4] = 0.0  # frames between the sampled ones are never read
    torch.testing.assert_close(emb(skipped), a, atol=0, rtol=0)
    out = st(torch.randn(2, WINDOW, N_FEATURES), v, torch.tensor([0, 3]))
    torch.testing.assert_close(out["saliency"].sum((1, 2)), torch.ones(2), atol=1e-5, rtol=0)
