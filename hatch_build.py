"""Build the front-end files into the wheel, so an installed baatcheet serves them.

A wheel is installed away from the checkout, where ``clientjs/node_modules`` and the web
client's build do not exist. This hook (hatchling's ``custom`` build hook) therefore
installs the pinned npm packages, builds the React client, and puts under
``baatcheet/_assets/`` in the wheel:

* ``socket.io-client/`` — socket.io-client's ``dist/`` (served at ``/socket.io/``);
* ``web/`` — the built chat client (served at ``/``);
* ``admin-ui/`` — the admin UI's built files (served at ``admin_path``).

Nothing it builds is committed: the web build goes to a temporary folder, not to
``src/``. ``npm ci`` runs only where a package's ``node_modules`` does not match its lock
file (the same stamp ``scripts/install`` writes), so a checkout that ran
``scripts/install`` builds a wheel in seconds. Editable installs (``uv sync``) skip all of
this: a checkout serves the files from where ``scripts/install`` put them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_ASSETS = "baatcheet/_assets"
_STAMP = ".baatcheet-lock.sha256"


class AssetsBuildError(RuntimeError):
    """A front-end step failed; the message names the step and how to run it by hand."""


class FrontEndAssetsHook(BuildHookInterface):
    """Adds ``baatcheet/_assets/`` to a (non-editable) wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the assets and map them into the wheel with ``force_include``."""
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        self._staging = Path(tempfile.mkdtemp(prefix="baatcheet-wheel-assets-"))
        include: dict[str, str] = build_data["force_include"]

        _npm_ci(root / "clientjs")
        client_dist = root / "clientjs" / "node_modules" / "socket.io-client" / "dist"
        include[str(_require(client_dist, "socket.io.js"))] = f"{_ASSETS}/socket.io-client"

        _npm_ci(root / "web")
        web_out = self._staging / "web"
        # The config's outDir is the checkout's src/baatcheet/static/web; a wheel build
        # must not write into the source tree, hence the override.
        _run(
            ["npx", "--no-install", "vite", "build", "--outDir", str(web_out), "--emptyOutDir"],
            root / "web",
        )
        include[str(_require(web_out, "index.html"))] = f"{_ASSETS}/web"

        _npm_ci(root / "adminui")
        admin_dist = root / "adminui" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
        include[str(_require(admin_dist, "index.html"))] = f"{_ASSETS}/admin-ui"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary web build once the wheel is written."""
        del version, build_data, artifact_path
        staging: Path | None = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _npm_ci(package: Path) -> None:
    """``npm ci`` in ``package`` unless its ``node_modules`` already matches the lock file."""
    lock = package / "package-lock.json"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = package / "node_modules" / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == want:
        return
    _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], package)
    stamp.write_text(want + "\n")


def _run(command: list[str], cwd: Path) -> None:
    try:
        subprocess.run(command, cwd=cwd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AssetsBuildError(
            f"building the wheel's front-end files failed at `{' '.join(command)}` in {cwd}"
            f" ({exc}). The wheel build needs Node.js and npm on PATH."
        ) from exc


def _require(folder: Path, marker: str) -> Path:
    if not (folder / marker).is_file():
        raise AssetsBuildError(f"{folder / marker} is missing after the front-end build")
    return folder
