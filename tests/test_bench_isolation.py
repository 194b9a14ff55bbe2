"""Crash isolation: a bundle whose runtime segfaults becomes one ❌ row; the others still run."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from scoligait_edge.bench import export_worker


def _fake_python(tmp_path: Path, crash_on: str) -> Path:
    """A stand-in interpreter for the probe child: it SIGSEGVs on ``crash_on``, passes others."""
    script = tmp_path / "fake-python"
    script.write_text(
        "#!/bin/sh\n"
        "shift 3  # -m scoligait_edge.bench.export_worker --probe\n"
        'for p in "$@"; do\n'
        '  echo "start $p"\n'
        f'  case "$p" in *{crash_on}*) kill -SEGV $$ ;; esac\n'
        '  echo "ok $p"\n'
        "done\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_probe_survives_a_segfaulting_runtime_and_checks_the_rest(tmp_path, monkeypatch):
    bundles = [tmp_path / "a_onnx_int8", tmp_path / "b_openvino_int8", tmp_path / "c_litert_int8"]
    monkeypatch.setattr(sys, "executable", str(_fake_python(tmp_path, "openvino")))
    res = export_worker.probe_in_child(bundles)
    assert res[bundles[0]] is None and res[bundles[2]] is None
    assert res[bundles[1]] == "runtime crashed (SIGSEGV) loading or running the bundle"


def test_probe_reports_a_typed_failure_without_crashing(tmp_path):
    res = export_worker.probe_in_child([tmp_path / "not-a-bundle"])
    assert "is not a directory" in res[tmp_path / "not-a-bundle"]  # the typed error's line


def test_reused_bundles_are_keyed_by_weights_and_exporter_code():
    import torch

    from scoligait_edge.bench.sources import bundle_key, exporter_fingerprint, model_fingerprint

    m = torch.nn.Linear(4, 2)
    before = model_fingerprint(m)
    assert model_fingerprint(m) == before  # deterministic
    with torch.no_grad():
        m.weight[0, 0] += 1e-3
    assert model_fingerprint(m) != before  # any weight change → a fresh export, never a stale bundle
    assert bundle_key(m).endswith("-" + exporter_fingerprint()[:8])
