"""Kinematic knowledge map: 238 causal clinical features per pose frame, offline and streaming.

Public API::

    CATALOG, DOMAINS, SIGNALS, Feature, catalog_hash, feature_index
    knowledge_map(pose[T, 17, 3], fps=30.0, *, return_mask=False) -> float32 [T, 238] (, bool mask)
    StreamingKnowledgeMap(window=96, hop=16, fps=30.0).push(frame[17, 3]) -> [96, 238] | None
    render.save_heatmap(kmap, path, *, title="", saliency=None, mask=None, fps=30.0, force=False)

Feature definitions, coordinates, masks and streaming are documented in docs/kmap_catalog.md
(``python -m scoligait_edge.kmap --markdown``).
"""

from __future__ import annotations

from scoligait_edge.kmap.catalog import (
    CATALOG,
    DOMAINS,
    N_FEATURES,
    NAMES,
    SIGNAL_LABELS,
    SIGNAL_PAIRS,
    SIGNALS,
    Feature,
    catalog_hash,
    feature_index,
)
from scoligait_edge.kmap.offline import knowledge_map
from scoligait_edge.kmap.streaming import StreamingKnowledgeMap

__all__ = [
    "CATALOG",
    "DOMAINS",
    "NAMES",
    "N_FEATURES",
    "SIGNALS",
    "SIGNAL_LABELS",
    "SIGNAL_PAIRS",
    "Feature",
    "StreamingKnowledgeMap",
    "catalog_hash",
    "feature_index",
    "knowledge_map",
]
