"""Which bundle ``screen`` runs: a given directory, or the shipped student's portable INT8 ONNX bundle.

The default bundle is exported once into the user cache (``$SCOLIGAIT_CACHE`` or
``~/.cache/scoligait-edge/bundles/``), keyed by the student checkpoint's sha256 and the toolkit
version, then loaded like any bundle — so screening always runs through ``load_bundle`` and the
bundle's golden vectors, never a separate PyTorch path. Exporting needs the full install (torch);
a device install passes ``--bundle``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scoligait_edge.errors import UnavailableError
from scoligait_edge.fileio import sha256_file

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "models"
DEFAULT_TARGET, DEFAULT_PRECISION = "onnx", "int8"


def cache_dir() -> Path:
    root = os.environ.get("SCOLIGAIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "scoligait-edge"
    )
    return Path(root) / "bundles"


def default_bundle_path() -> Path:
    from scoligait_edge import __version__

    sha = sha256_file(ASSETS / "student.pt")[:12]
    return cache_dir() / f"student-{sha}-v{__version__}_{DEFAULT_TARGET}_{DEFAULT_PRECISION}"


def default_bundle(step: Any = None) -> Path:
    """The shipped student's bundle in the user cache, exported on first use."""
    path = default_bundle_path()
    if (path / "manifest.json").is_file():
        return path
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UnavailableError(
            "no bundle given and the shipped student's bundle is not in the cache (exporting it needs torch)",
            "pass --bundle DIR (a bundle from `scoligait-edge export`) — a device install has no exporter",
        ) from None
    from scoligait_edge.export import export_model

    path.parent.mkdir(parents=True, exist_ok=True)
    return export_model(None, DEFAULT_TARGET, path, precision=DEFAULT_PRECISION, step=step)


def bundle_info(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """What a result records about the bundle (and the model's Cobb error where it is known)."""
    recipe = manifest.get("int8_recipe") or {}
    info: dict[str, Any] = {
        "path": str(path),
        "target": manifest.get("target"),
        "precision": manifest.get("precision"),
        "device_class": manifest.get("device_class"),
        "recipe": recipe.get("name"),
        "manifest_sha256": sha256_file(Path(path) / "manifest.json"),
        "cobb_mae_deg": None,
    }
    evals = ASSETS / "student_eval.json"
    if (
        path.name.startswith("student-") and evals.is_file()
    ):  # the default bundle: the shipped model's test MAE
        info["cobb_mae_deg"] = json.loads(evals.read_text()).get("cobb_mae")
    return info


def open_runner(bundle: str | Path | Any | None) -> tuple[Any, dict[str, Any]]:
    """(runner, info) for a bundle directory, ``None`` (the default bundle) or an already loaded Runner."""
    if bundle is not None and hasattr(bundle, "run") and hasattr(bundle, "manifest"):
        return bundle, {"path": None, "target": bundle.target, "precision": bundle.precision,
                        "device_class": bundle.manifest.get("device_class"), "recipe": None,
                        "manifest_sha256": None, "cobb_mae_deg": None}  # fmt: skip
    from scoligait_edge.export import load_bundle

    path = Path(bundle) if bundle is not None else default_bundle()
    runner = load_bundle(path, self_test=True)
    return runner, bundle_info(path, runner.manifest)
