"""The package layout shows the data flow: no sub-package imports one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "scoligait_edge"

# sub-package -> packages it must never import (directly or via `from`).
FORBIDDEN = {
    "data": ("models", "runtime", "screen", "train", "bench", "cli"),
    "models": ("data", "runtime", "screen", "train", "bench", "cli"),
    "kmap": ("data", "models", "runtime", "screen", "train", "bench", "cli"),
    "pose": ("data", "models", "runtime", "screen", "train", "bench", "cli"),
    "runtime": ("data", "train", "screen", "bench", "cli"),
}
SHARED = ("contract.py", "prompts.py", "errors.py", "fileio.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("scoligait_edge.")}


def _subpackage(module: str) -> str:
    return module.split(".")[1]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_never_import_upper_ones(layer: str) -> None:
    bad = []
    for path in sorted((PKG / layer).rglob("*.py")):
        for mod in _imports(path):
            if _subpackage(mod) in FORBIDDEN[layer]:
                bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", SHARED)
def test_shared_modules_depend_only_on_leaves(name: str) -> None:
    """contract / prompts / errors / fileio sit below every sub-package but kmap."""
    mods = _imports(PKG / name)
    assert {_subpackage(m) for m in mods} <= {"contract", "errors", "kmap", "fileio"}, mods


def test_clip_explanations_live_above_models() -> None:
    assert not (PKG / "models" / "explain.py").exists()
    assert (PKG / "screen" / "explain.py").exists()
    assert not (PKG / "data" / "text.py").exists()
