"""CLI command: ``scoligait-edge kmap CLIP --out MAP.npy [--png MAP.png] [--force]``."""

from __future__ import annotations

from pathlib import Path

import typer

from scoligait_edge.cli import app
from scoligait_edge.errors import InputFileError


def mask_path_for(out: Path) -> Path:
    """Sibling file holding the validity mask of a ``.npy`` map: ``MAP.npy`` → ``MAP.mask.npy``."""
    return out.with_name(out.name[: -len(".npy")] + ".mask.npy")


@app.command("kmap")
def kmap_command(
    clip: Path = typer.Argument(..., help="Pose file (.npz clip or Scoliosis1K .pkl)."),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Map file: .npy (mask goes to MAP.mask.npy) or .npz (kmap, mask, catalog_hash).",
    ),
    png: Path | None = typer.Option(None, "--png", help="Also write a heatmap PNG (features × time)."),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
) -> None:
    """Compute a clip's 238-feature kinematic knowledge map (and optionally its heatmap)."""
    import numpy as np
    from rich.console import Console

    from scoligait_edge.fileio import atomic_path, check_can_write
    from scoligait_edge.kmap import DOMAINS, catalog_hash, knowledge_map
    from scoligait_edge.pose import read_clip

    suffix = out.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise InputFileError(
            f"--out {out}: unsupported map file type '{out.suffix}'", "use a .npy or .npz path"
        )
    targets = [out] + ([mask_path_for(out)] if suffix == ".npy" else []) + ([png] if png else [])
    for target in targets:  # refuse before computing or writing anything
        check_can_write(target, force)

    c = read_clip(clip)
    kmap, mask = knowledge_map(c.pose, fps=c.fps, return_mask=True)
    if suffix == ".npz":
        with atomic_path(out, force=force) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f, kmap=kmap, mask=mask, fps=np.asarray(float(c.fps)), catalog_hash=np.asarray(catalog_hash())
            )
    else:
        for target, arr in ((out, kmap), (mask_path_for(out), mask)):
            with atomic_path(target, force=force) as tmp, open(tmp, "wb") as f:
                np.save(f, arr)
    if png:
        from scoligait_edge.kmap.render import save_heatmap

        save_heatmap(kmap, png, title=f"Knowledge map: {clip.name}", mask=mask, fps=c.fps, force=force)

    console = Console(highlight=False)
    valid = ", ".join(f"{dom} {mask[:, sl].mean():.0%}" for dom, sl in DOMAINS.items())
    console.print(
        f"{clip.name}: {kmap.shape[0]} frames at {c.fps:g} fps → [{kmap.shape[0]}, {kmap.shape[1]}] map"
    )
    console.print(f"valid cells: {valid}")
    console.print("wrote " + ", ".join(str(p) for p in targets))
