"""Datasets: ScoliGait-Synth generator, subject-disjoint index, model-input windows, clinical text.

Submodules (imported lazily; ``synth``/``dataset`` need no knowledge map):

- :mod:`scoligait_edge.data.synth` — ``write_dataset``, ``make_dataset``, ``simulate_clip``
- :mod:`scoligait_edge.data.dataset` — ``load_index``, ``make_splits``, ``write_index``
- :mod:`scoligait_edge.data.windows` — ``clip_windows``, ``load_windows``, ``WindowSet``
- :mod:`scoligait_edge.data.text` — ``PROMPTS``, ``describe``, ``describe_batch``
- :mod:`scoligait_edge.data.difficulty` — ``baseline_auc``
"""

from __future__ import annotations
