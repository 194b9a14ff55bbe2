"""Datasets: ScoliGait-Synth generator, subject-disjoint index, model-input windows.

Submodules (imported lazily; ``synth``/``dataset`` need no knowledge map):

- :mod:`scoligait_edge.data.synth` — ``write_dataset``, ``make_dataset``, ``simulate_clip``
- :mod:`scoligait_edge.data.dataset` — ``load_index``, ``make_splits``, ``write_index``
- :mod:`scoligait_edge.data.windows` — ``clip_windows``, ``load_windows``, ``WindowSet``
- :mod:`scoligait_edge.data.difficulty` — ``baseline_auc``

The clinical prompt catalogue is :mod:`scoligait_edge.prompts` and the I/O contract
:mod:`scoligait_edge.contract` (both below ``data`` and ``models``); ``data`` never imports
``models``.
"""

from __future__ import annotations
