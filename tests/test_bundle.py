"""Bundles: atomic writes, manifest content, and refusal of tampered / mismatched bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scoligait_edge.export import bundle as B
from scoligait_edge.export import export_model, load_bundle
from scoligait_edge.export.sources import random_heldout

from scoligait_edge.errors import BundleError, ExportError, OutputExistsError, ParityError
from scoligait_edge.models import Student, student_config
from scoligait_edge.runtime.base import TorchRunner, make_inputs

torch.set_num_threads(1)


def tiny_student(seed: int = 0) -> Student:
    """A small untrained student with non-trivial normalisation and threshold buffers."""
    torch.manual_seed(seed)
    m = Student(student_config(dim=32, depth=1, heads=2, latents=4, latent_heads=2, n_prompts=2))
    m.set_normalization(torch.linspace(-1, 1, 238), torch.linspace(0.5, 2, 238), 18.0, 9.0)
    m.threshold.fill_(0.42)
    return m.eval()


@pytest.fixture(scope="module")
def model() -> Student:
    return tiny_student()


@pytest.fixture(scope="module")
def onnx_bundle(tmp_path_factory: pytest.TempPathFactory, model: Student) -> Path:
    out = tmp_path_factory.mktemp("b") / "tiny_onnx_fp32"
    return export_model(model, "onnx", out, parity_data=random_heldout(8, seed=2))


@pytest.fixture
def copy(onnx_bundle: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(onnx_bundle, dst)
    return dst


def _edit_manifest(d: Path, **fields: object) -> None:
    man = json.loads((d / B.MANIFEST).read_text())
    man.update(fields)
    (d / B.MANIFEST).write_text(json.dumps(man))


def test_manifest_records_contract_model_stats_and_hashes(onnx_bundle: Path, model: Student) -> None:
    man = B.verify_bundle(onnx_bundle)
    assert (
        man["schema_version"] == B.SCHEMA_VERSION and man["target"] == "onnx" and man["precision"] == "fp32"
    )
    assert [i["name"] for i in man["inputs"]] == ["kmap", "silhouette", "prompt_id"]
    assert man["inputs"][1]["shape"] == ["batch", 96, 64, 44] and man["inputs"][2]["dtype"] == "int64"
    assert [o["name"] for o in man["outputs"]] == [
        "referral_logit",
        "referral_prob",
        "cobb_angle",
        "saliency",
    ]
    assert man["decision_threshold"] == pytest.approx(0.42)
    np.testing.assert_allclose(man["normalization"]["km_mean"], model.km_mean.numpy(), atol=1e-7)
    assert man["normalization"]["cobb_std"] == pytest.approx(9.0)
    from scoligait_edge.kmap.catalog import catalog_hash

    assert man["kmap_catalog_hash"] == catalog_hash()
    assert (
        set(man["files"]) == {"model.onnx", "golden.npz"} and len(man["files"]["model.onnx"]["sha256"]) == 64
    )
    assert man["device_class"] == "any" and man["int8_recipe"] is None  # fp32: no recipe
    assert man["export_machine"]["device_class"] in ("x86-avx2", "x86-vnni", "arm64", "other")
    assert man["golden"]["file"] == "golden.npz" and man["golden"]["tolerance_expected"] is None
    assert man["versions"]["onnxruntime"] and man["toolkit_version"]
    assert man["parity"]["passed"] and man["parity"]["windows"] == 8
    assert man["parity"]["kernels"]["passed"] and man["parity"]["golden"]["passed"]
    assert man["calibration"] is None


def test_onnx_metadata_props_carry_key_fields(onnx_bundle: Path) -> None:
    from scoligait_edge.export.onnx_backend import read_metadata

    meta = read_metadata(onnx_bundle / "model.onnx")
    man = json.loads((onnx_bundle / B.MANIFEST).read_text())
    assert meta["scoligait.target"] == "onnx" and meta["scoligait.precision"] == "fp32"
    assert meta["scoligait.kmap_catalog_hash"] == man["kmap_catalog_hash"]
    assert float(meta["scoligait.decision_threshold"]) == pytest.approx(0.42)
    assert json.loads(meta["scoligait.normalization"])["cobb_mean"] == pytest.approx(18.0)


def test_refuses_to_overwrite_without_force(onnx_bundle: Path, model: Student) -> None:
    before = (onnx_bundle / B.MANIFEST).read_bytes()
    with pytest.raises(OutputExistsError):
        export_model(model, "onnx", onnx_bundle, validate=False)
    assert (onnx_bundle / B.MANIFEST).read_bytes() == before


def test_force_replaces_bundle(copy: Path, model: Student) -> None:
    export_model(model, "onnx", copy, force=True, precision="fp16", validate=False)
    man = B.verify_bundle(copy)
    assert man["precision"] == "fp16" and man["parity"] == {"skipped": "--no-validate"}
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".copy")]  # no temp leftovers


def test_failure_mid_export_leaves_nothing(
    tmp_path: Path, model: Student, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoligait_edge.export import onnx_backend

    def boom(*a: object, **k: object) -> None:
        (a[2] / "model.onnx").write_bytes(b"half")  # type: ignore[index, operator]
        raise ExportError("simulated crash", "none")

    monkeypatch.setattr(onnx_backend, "export", boom)
    with pytest.raises(ExportError, match="simulated crash"):
        export_model(model, "onnx", tmp_path / "out", validate=False)
    assert list(tmp_path.iterdir()) == []


def test_failed_parity_leaves_no_bundle(
    tmp_path: Path, model: Student, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold fp16 to fp32's tolerance: the real fp16 error must then fail parity, naming the output.
    from scoligait_edge.export import targets as T

    t = T.TARGETS["onnx"]
    monkeypatch.setitem(t.tolerances, "fp16", T.tolerance(1e-9, 1e-9, 1e-9, 1e-9, 1.0, None))
    with pytest.raises(ParityError, match=r"referral_logit max \|Δ\| [0-9.e-]+ > 1e-09") as e:
        export_model(model, "onnx", tmp_path / "out", precision="fp16", parity_data=random_heldout(4))
    assert e.value.report["failures"]  # type: ignore[attr-defined]
    assert list(tmp_path.iterdir()) == []


def test_load_roundtrip_matches_torch(onnx_bundle: Path, model: Student) -> None:
    r = load_bundle(onnx_bundle)
    x = make_inputs(3, seed=7, n_prompts=2)
    got, ref = r.run(x), TorchRunner(model).run(x)
    assert r.target == "onnx" and r.precision == "fp32" and r.manifest["files"]
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], atol=1e-4, rtol=1e-4)


def test_tampered_artifact_is_refused(copy: Path) -> None:
    p = copy / "model.onnx"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    p.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.onnx does not match its sha256"):
        load_bundle(copy)


def test_truncated_artifact_is_refused(copy: Path) -> None:
    p = copy / "model.onnx"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(BundleError, match=r"model\.onnx is 1000 bytes, manifest says"):
        load_bundle(copy)


def test_wrong_catalog_hash_is_refused(copy: Path) -> None:
    _edit_manifest(copy, kmap_catalog_hash="0" * 64)
    with pytest.raises(BundleError, match="knowledge-map catalog 000000000000"):
        load_bundle(copy)


def test_wrong_schema_version_is_refused(copy: Path) -> None:
    _edit_manifest(copy, schema_version=B.SCHEMA_VERSION + 1)
    with pytest.raises(BundleError, match=f"schema version {B.SCHEMA_VERSION + 1}, this toolkit reads"):
        load_bundle(copy)


def test_missing_manifest_missing_file_and_escape_are_refused(copy: Path, tmp_path: Path) -> None:
    _edit_manifest(copy, files={"../outside.onnx": {"sha256": "x", "bytes": 1}}, artifact="../outside.onnx")
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(copy)
    _edit_manifest(copy, files={"gone.onnx": {"sha256": "x", "bytes": 1}})
    with pytest.raises(BundleError, match=r"missing file gone\.onnx"):
        load_bundle(copy)
    (copy / B.MANIFEST).unlink()
    with pytest.raises(BundleError, match=r"has no manifest\.json"):
        load_bundle(copy)
    (copy / B.MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(copy)
    with pytest.raises(BundleError, match="not a directory"):
        load_bundle(tmp_path / "nope")
