"""Ablations: the paper's Table 2 (modalities) and Table 3 (fusion × RoPE alignment), rerun cheaply.

Every variant is a reduced teacher (``ABLATION_MODEL``: width 48, 2 layers per encoder) trained
for a few epochs with the same seed, data and schedule; only the switch under study changes.
Numbers are clip-level test metrics with the threshold chosen on val; with several seeds each
cell is the mean over seeds (± the 95 % t-interval half-width for Acc, F1 and AUC). Table 4 adds
the decoupled contrastive alignment term (`scoligait_edge.train.contrastive`) to the full model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scoligait_edge.fileio import atomic_dir, check_can_write
from scoligait_edge.train.batches import DataSource, get_windows
from scoligait_edge.train.evaluate import evaluate, markdown_table, table2_rows
from scoligait_edge.train.teacher import prompt_setup, train_teacher

ABLATION_MODEL: dict[str, Any] = {"dim": 48, "depth": 2, "heads": 4, "latents": 16, "latent_heads": 4}
TABLE2 = {
    "KM": ("km",),
    "Video": ("video",),
    "KM+Video": ("km", "video"),
    "KM+Video+Text": ("km", "video", "text"),
}
TABLE3 = {"Cat": "cat", "Cat+Att": "cat+attention", "Cat+Latent": "cat+latent"}


def run_ablation(
    data: DataSource,
    out: str | os.PathLike | None,
    epochs: int = 3,
    seed: int | Sequence[int] = 0,
    threads: int = 1,
    force: bool = False,
    model_overrides: dict[str, Any] | None = None,
    text_table: Any = None,
    quiet: bool = False,
    train_overrides: dict[str, Any] | None = None,
    contrastive: float = 0.1,
) -> str:
    """Train every variant for every seed, write ``ablation.md`` and ``ablation.json`` into ``out``.

    Tables give the mean over seeds and, with several seeds, ``± `` the 95 % t-interval
    half-width for Acc, F1 and AUC. Table 4 adds the decoupled contrastive alignment term
    (weight ``contrastive``) to the full model. Returns the markdown.
    """
    from scoligait_edge.train.seeds import interval

    if out is not None:
        check_can_write(out, force)
    seeds = [seed] if isinstance(seed, int) else list(seed)
    base = {**ABLATION_MODEL, **(model_overrides or {})}
    train = {
        "epochs": epochs,
        "threads": threads,
        "patience": max(2, epochs // 2),
        "lr": 3e-4,
        "km_noise": 0.1,
        **(train_overrides or {}),
    }
    _, table = prompt_setup(get_windows(data, "train"), None, text_table)
    runs: dict[tuple[tuple[str, ...], str, str, float], list[dict[str, Any]]] = {}

    def run(mods: tuple[str, ...], fusion: str, rope: str, nce: float = 0.0) -> list[dict[str, Any]]:
        key = (mods, fusion, rope, nce)
        if key not in runs:
            runs[key] = []
            for s in seeds:
                model = {**base, "modalities": mods, "fusion": fusion, "rope": rope}
                cfg = {"model": model, "train": {**train, "seed": s, "contrastive": nce}}
                m, _ = train_teacher(data, cfg, None, text_table=table, quiet=quiet)
                runs[key].append(evaluate(m, data, "test"))
        return runs[key]

    def row(name: str, ms: list[dict[str, Any]]) -> dict[str, str]:
        r = table2_rows(name, _mean_metrics(ms))
        if len(ms) > 1:
            for col, key, scale in (("Acc", "accuracy", 100), ("F1", "macro_f1", 100), ("AUC", "auc", 1)):
                iv = interval([m[key] * scale for m in ms])
                r[col] = (
                    f"{iv['mean']:.{1 if scale == 100 else 3}f} ± {iv['ci95']:.{1 if scale == 100 else 3}f}"
                )
        return r

    full = ("km", "video", "text")
    t2 = [row(name, run(mods, "cat+latent", "aligned")) for name, mods in TABLE2.items()]
    t3 = []
    for rope in ("aligned", "unaligned"):
        for name, fusion in TABLE3.items():
            r = row(name, run(full, fusion, rope))
            t3.append({"Fusion": name, "RoPE": rope, **{k: v for k, v in r.items() if k != "Model"}})
    t4 = [
        row("task loss only", run(full, "cat+latent", "aligned")),
        row(f"+ decoupled contrastive ({contrastive:g})", run(full, "cat+latent", "aligned", contrastive)),
    ]
    seed_txt = (
        f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))} (mean ± 95 % CI)"
    )
    extra = "" if not train_overrides else f", train overrides {json.dumps(train_overrides, sort_keys=True)}"
    note = (
        f"Reduced teachers (width {base['dim']}, {base['depth']} layers per encoder), {epochs} epochs, "
        f"{seed_txt}{extra}; clip-level test metrics, threshold from val."
    )
    md = (
        f"## Table 2 — modalities (fusion cat+latent, aligned RoPE)\n\n{markdown_table(t2)}\n\n"
        f"## Table 3 — fusion × RoPE (KM+Video+Text)\n\n{markdown_table(t3)}\n\n"
        f"## Table 4 — alignment (KM+Video+Text, cat+latent, aligned)\n\n{markdown_table(t4)}\n\n{note}\n"
    )
    if out is not None:
        doc = {
            "note": note,
            "model": base,
            "train": train,
            "seeds": seeds,
            "runs": [
                {"modalities": list(k[0]), "fusion": k[1], "rope": k[2], "contrastive": k[3], "metrics": v}
                for k, v in runs.items()
            ],
        }
        with atomic_dir(out, force=force) as tmp:
            Path(tmp, "ablation.md").write_text(md, encoding="utf-8")
            Path(tmp, "ablation.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return md


def _mean_metrics(ms: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics averaged over seeds (per-class numbers too), in the shape `table2_rows` reads."""
    if len(ms) == 1:
        return ms[0]
    mean = lambda key: float(sum(m[key] for m in ms) / len(ms))  # noqa: E731
    keys = ("accuracy", "macro_f1", "auc", "sensitivity", "specificity", "cobb_mae")
    out: dict[str, Any] = {k: mean(k) for k in keys}
    out["per_class"] = {
        c: {q: float(sum(m["per_class"][c][q] for m in ms) / len(ms)) for q in ("precision", "recall", "f1")}
        for c in ("positive", "negative")
    }
    return out
