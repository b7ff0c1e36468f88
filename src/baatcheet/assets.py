"""Where the built front-end files are: inside the installed package, or in a checkout.

A wheel carries them under ``baatcheet/_assets/`` (``hatch_build.py`` builds and copies
them there; nothing built is committed). A checkout has none of that folder, so each
asset falls back to where ``scripts/install`` puts it, and development works without
building a wheel.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ADMIN_UI_ASSET",
    "ASSETS_DIR",
    "CHECKOUT_ROOT",
    "CLIENT_ASSET",
    "WEB_ASSET",
    "find_folder",
]

_PACKAGE_DIR = Path(__file__).resolve().parent

ASSETS_DIR = _PACKAGE_DIR / "_assets"
"""The packaged front-end files; present only in an installed wheel."""

CHECKOUT_ROOT = _PACKAGE_DIR.parents[1]
"""The top of the checkout when running from ``src/`` (meaningless in a wheel)."""

CLIENT_ASSET = "socket.io-client"
"""Subfolder of :data:`ASSETS_DIR` holding socket.io-client's ``dist/`` files."""
WEB_ASSET = "web"
"""Subfolder of :data:`ASSETS_DIR` holding the built React chat client."""
ADMIN_UI_ASSET = "admin-ui"
"""Subfolder of :data:`ASSETS_DIR` holding the admin UI's built files."""


def find_folder(candidates: Iterable[Path], marker: str) -> Path | None:
    """The first of ``candidates`` that holds a file named ``marker``, else None.

    Looked up on every call, not cached: a folder that appears later (``scripts/install``
    run while the server is up) is found without a restart.
    """
    for folder in candidates:
        if (folder / marker).is_file():
            return folder
    return None
