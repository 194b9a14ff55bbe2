"""Checkpoints: ``torch.save(state_dict)`` + a sibling JSON config; loading is ``weights_only``."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from scoligait_edge.errors import ModelError
from scoligait_edge.fileio import atomic_write_bytes, atomic_write_text, check_can_write, sha256_file
from scoligait_edge.models.base import ScoliGaitModel
from scoligait_edge.models.config import ModelConfig

FORMAT = "scoligait-edge-model"
FORMAT_VERSION = 1
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"


def config_path(path: str | os.PathLike) -> Path:
    """The JSON config that accompanies a ``.pt`` checkpoint."""
    return Path(path).with_suffix(".json")


def build_model(cfg: ModelConfig) -> ScoliGaitModel:
    """Instantiate a `Teacher` or `Student` from its config."""
    from scoligait_edge.models.student import Student
    from scoligait_edge.models.teacher import Teacher

    return Teacher(cfg) if cfg.kind == "teacher" else Student(cfg)


def save_model(
    model: ScoliGaitModel,
    path: str | os.PathLike,
    force: bool = False,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``path`` (state dict) and ``path.json`` (config, sha256 of the weights, ``meta``) atomically."""
    path = Path(path)
    cfg_file = config_path(path)
    check_can_write(path, force)
    check_can_write(cfg_file, force)
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(path, buf.getvalue(), force=force)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.cfg.kind,
        "config": model.cfg.to_dict(),
        "threshold": float(model.threshold),
        "n_params": model.n_params(),
        "weights": path.name,
        "weights_sha256": sha256_file(path),
        "meta": meta or {},
    }
    atomic_write_text(cfg_file, json.dumps(doc, indent=2, sort_keys=True) + "\n", force=force)
    return path


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's JSON document (validated header)."""
    cfg_file = config_path(path)
    if not cfg_file.is_file():
        raise ModelError(f"model config {cfg_file} is missing", "keep the .json next to the .pt checkpoint")
    try:
        doc = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"model config {cfg_file} is not valid JSON ({e})", "restore the file") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("config"), dict):
        raise ModelError(f"{cfg_file} is not a scoligait-edge model config", "pass a checkpoint's .pt path")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{cfg_file} has format version {doc.get('format_version')}, this toolkit reads {FORMAT_VERSION}",
            "re-save the checkpoint with this toolkit version",
        )
    return doc


def load_model(path: str | os.PathLike) -> ScoliGaitModel:
    """Load a checkpoint written by `save_model`, in eval mode; raises `ModelError` on any mismatch."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"checkpoint {path} not found", "check the path or train one with `scoligait-edge train`"
        )
    doc = read_config(path)
    cfg = ModelConfig.from_dict(doc["config"])
    expected = doc.get("weights_sha256")
    if expected and sha256_file(path) != expected:
        raise ModelError(
            f"checkpoint {path} does not match its config (sha256 differs)",
            "the .pt file was changed or is corrupt; restore it or retrain",
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged zip/pickle
        raise ModelError(
            f"checkpoint {path} is corrupt or unreadable ({type(e).__name__})", "restore it"
        ) from e
    if not isinstance(state, dict):
        raise ModelError(
            f"checkpoint {path} holds no state dict", "save it with scoligait_edge.models.save_model"
        )
    model = build_model(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0][:200]
        raise ModelError(
            f"checkpoint {path} does not fit its config: {first}", "use the .json saved with these weights"
        ) from e
    return model.eval()


def default_teacher_path() -> Path:
    return ASSET_DIR / "teacher.pt"


def default_student_path() -> Path:
    return ASSET_DIR / "student.pt"


def load_default_teacher() -> ScoliGaitModel:
    """The shipped reference teacher."""
    return load_model(default_teacher_path())


def load_default_student() -> ScoliGaitModel:
    """The shipped reference student (the embedded default for export and explain)."""
    return load_model(default_student_path())
