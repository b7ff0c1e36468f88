"""Where things live in the repository, so helpers never guess relative paths."""

from __future__ import annotations

from pathlib import Path

__all__ = ["JS_DIR", "REPO_ROOT", "SETUP_HINT"]

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout's top folder (holds pyproject.toml)."""

JS_DIR = REPO_ROOT / "tests" / "js"
"""The Node package with the client driver and its pinned socket.io-client."""

SETUP_HINT = "run scripts/install (or scripts/test, which runs it first)"
"""What to tell someone whose machine lacks a tool the tests need."""
