"""The wheel, installed in a fresh virtualenv away from the checkout, serves the whole product.

``pip install baatcheet-<version>.whl && baatcheet serve`` must serve the chat page at
``/``, the official client at ``/socket.io/socket.io.js`` and the chat itself, with no
``clientjs/`` or ``web/`` build beside it: the wheel carries those files.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import httpx
import pytest

from baatcheet.listener.client_bundle import CHECKOUT_DIST_DIR
from support.jsclient import JsDriver
from support.paths import REPO_ROOT, SETUP_HINT
from support.ports import free_port

pytestmark = pytest.mark.timeout(300)

_STARTUP_S = 60.0


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that points Python at the checkout."""
    hidden = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
    return {name: value for name, value in os.environ.items() if name not in hidden}


def _run(command: list[str | Path], cwd: Path) -> None:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv outside the checkout with the freshly built wheel installed; its folder."""
    uv = shutil.which("uv")
    assert uv is not None, f"uv is not on PATH: {SETUP_HINT}"
    place = tmp_path_factory.mktemp("wheel")
    assert not place.is_relative_to(REPO_ROOT)
    _run([uv, "build", "--wheel", "--out-dir", place / "dist", REPO_ROOT], REPO_ROOT)
    [wheel] = (place / "dist").glob("baatcheet-*.whl")
    # The locked versions, which uv's cache already holds: a quick and repeatable install.
    pins = place / "pins.txt"
    _run(
        [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-o", pins],
        REPO_ROOT,
    )
    venv = place / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, venv], place)
    _run(
        [uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "-c", pins, wheel],
        place,
    )
    return venv


@pytest.fixture
async def served(installed: Path, tmp_path: Path) -> AsyncIterator[str]:
    """``baatcheet serve`` from the virtualenv, run in an empty folder; its URL."""
    port = free_port()
    env = _clean_env() | {
        "BAATCHEET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "BAATCHEET_HOST": "127.0.0.1",
        "BAATCHEET_PORT": str(port),
        "BAATCHEET_ADMIN_UI": "true",
        "BAATCHEET_ADMIN_PASSWORD_HASH": bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode(),
    }
    process = await asyncio.create_subprocess_exec(
        installed / "bin" / "baatcheet",
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_ready(url, process)
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_until_ready(url: str, process: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STARTUP_S
    async with httpx.AsyncClient(base_url=url) as http:
        while loop.time() < deadline:
            if process.returncode is not None:
                assert process.stderr is not None
                errors = (await process.stderr.read()).decode(errors="replace")
                pytest.fail(f"baatcheet serve exited with {process.returncode}:\n{errors}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"baatcheet serve was not ready within {_STARTUP_S:g} s")


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path) -> None:
    done = subprocess.run(
        [installed / "bin" / "python", "-c", "import baatcheet; print(baatcheet.__file__)"],
        cwd=installed,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()).is_relative_to(installed)


async def test_the_installed_server_serves_the_pages_the_client_and_the_chat(
    served: str, js: JsDriver
) -> None:
    async with httpx.AsyncClient(base_url=served) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text

        script = await http.get("/socket.io/socket.io.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("application/javascript")
        assert script.content == (CHECKOUT_DIST_DIR / "socket.io.js").read_bytes()

        admin = await http.get("/admin-ui/")
        assert admin.status_code == 200
        assert admin.headers["content-type"].startswith("text/html")

        registered = await http.post(
            "/api/auth/register", json={"username": "asha", "password": "correct horse 42"}
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["accessToken"]
        made = await http.post(
            "/api/rooms",
            json={"name": "lobby", "kind": "public"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
        room_id = made.json()["room"]["id"]

    client = await js.connect(f"{served}/chat", auth={"token": token}, reconnection=False)
    await client.wait("connect")
    [ack] = await client.emit_with_ack(
        "message:send", {"roomId": room_id, "body": "namaste", "clientId": "c1"}
    )
    assert ack["ok"] is True
    [message] = await client.next_event("message:new")
    assert (message["body"], message["id"]) == ("namaste", ack["id"])
