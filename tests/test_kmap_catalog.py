"""The knowledge-map catalog: fixed counts, unique names, domains, stable hash, docs in sync."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

from scoligait_edge import contract
from scoligait_edge.kmap import CATALOG, DOMAINS, SIGNAL_PAIRS, SIGNALS, catalog_hash, feature_index
from scoligait_edge.kmap import catalog as cat

DOC = Path(__file__).resolve().parents[1] / "docs" / "kmap_catalog.md"


def test_counts_match_paper_and_model_contract():
    counts = Counter(f.domain for f in CATALOG)
    assert counts == {"motion": 140, "skeleton": 32, "crosscorr": 66}
    assert len(CATALOG) == contract.N_FEATURES == 238
    assert [f.index for f in CATALOG] == list(range(238))


def test_domains_are_contiguous_slices():
    assert {"motion": slice(0, 140), "skeleton": slice(140, 172), "crosscorr": slice(172, 238)} == DOMAINS
    for dom, sl in DOMAINS.items():
        assert {f.domain for f in CATALOG[sl]} == {dom}


def test_names_and_labels_unique_and_readable():
    names = [f.name for f in CATALOG]
    labels = [f.label for f in CATALOG]
    assert len(set(names)) == 238 and len(set(labels)) == 238
    assert all(n.isidentifier() and n == n.lower() for n in names)
    assert all(lab[0].isupper() and "_" not in lab for lab in labels)
    assert feature_index("pelvic_tilt") == names.index("pelvic_tilt")


def test_crosscorr_is_every_pair_of_twelve_signals():
    assert len(SIGNALS) == 12 and len(set(SIGNALS)) == 12
    assert sorted(SIGNAL_PAIRS) == [(i, j) for i in range(12) for j in range(i + 1, 12)]
    idx = feature_index("xcorr_shoulder_tilt__pelvic_tilt")
    assert CATALOG[idx].label == "Shoulder-line tilt vs pelvic tilt correlation"
    assert CATALOG[idx].domain == "crosscorr"


def test_hash_is_sha256_of_canonical_json_and_content_sensitive(monkeypatch):
    h = catalog_hash()
    assert h == hashlib.sha256(cat.catalog_json().encode()).hexdigest()
    assert len(h) == 64
    changed = list(CATALOG)
    changed[5] = cat.Feature(5, changed[5].name, changed[5].label + " (changed)", changed[5].domain)
    monkeypatch.setattr(cat, "CATALOG", tuple(changed))
    assert cat.catalog_hash() != h
    monkeypatch.setattr(cat, "CATALOG", CATALOG)
    monkeypatch.setattr(cat, "KMAP_VERSION", cat.KMAP_VERSION + 1)
    assert cat.catalog_hash() != h


def test_hash_is_stable_across_processes():
    code = "from scoligait_edge.kmap import catalog_hash; print(catalog_hash())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == catalog_hash()


def test_generated_doc_is_in_sync():
    assert DOC.read_text(encoding="utf-8") == cat.catalog_markdown(), (
        "docs/kmap_catalog.md is stale: run python -m scoligait_edge.kmap --markdown > docs/kmap_catalog.md"
    )
