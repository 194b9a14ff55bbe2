"""CLI commands: kmap (registered on import)."""

from __future__ import annotations

from scoligait_edge.cli import app  # noqa: F401
