"""Every server hands out the official socket.io-client files at /socket.io/, as Node's does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from baatcheet.listener.client_bundle import CHECKOUT_DIST_DIR, CLIENT_FILES
from baatcheet.sio import Server
from support.factories import ServerFactory
from support.paths import JS_DIR

pytestmark = pytest.mark.timeout(30)

Http = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def served(running_server: ServerFactory) -> AsyncIterator[Http]:
    """``await served(**settings)``: an HTTP client for a started bare ``Server``."""
    clients: list[httpx.AsyncClient] = []

    async def start(**settings: Any) -> httpx.AsyncClient:
        server: Server = await running_server(**settings)
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}")
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()


@pytest.fixture
async def http(served: Http) -> httpx.AsyncClient:
    assert CHECKOUT_DIST_DIR.is_dir(), f"{CHECKOUT_DIST_DIR} is missing: run scripts/install"
    return await served()


@pytest.mark.parametrize("name", sorted(CLIENT_FILES))
async def test_each_client_file_is_served_byte_for_byte_by_a_bare_server(
    http: httpx.AsyncClient, name: str
) -> None:
    response = await http.get(f"/socket.io/{name}")
    assert response.status_code == 200
    assert response.content == (CHECKOUT_DIST_DIR / name).read_bytes()


async def test_scripts_are_served_as_javascript_and_source_maps_as_json(
    http: httpx.AsyncClient,
) -> None:
    script = await http.get("/socket.io/socket.io.min.js")
    source_map = await http.get("/socket.io/socket.io.min.js.map")
    assert script.headers["content-type"] == "application/javascript; charset=utf-8"
    assert source_map.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(source_map.content)["version"] == 3


async def test_a_browser_revalidating_with_the_etag_gets_304_without_a_body(
    http: httpx.AsyncClient,
) -> None:
    first = await http.get("/socket.io/socket.io.js")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=0"
    again = await http.get("/socket.io/socket.io.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


async def test_weak_and_listed_etags_also_count_as_a_match(http: httpx.AsyncClient) -> None:
    etag = (await http.get("/socket.io/socket.io.js")).headers["etag"]
    listed = await http.get(
        "/socket.io/socket.io.js", headers={"If-None-Match": f'"stale", W/{etag}'}
    )
    assert listed.status_code == 304


async def test_a_stale_etag_gets_the_full_file(http: httpx.AsyncClient) -> None:
    response = await http.get("/socket.io/socket.io.js", headers={"If-None-Match": '"old"'})
    assert response.status_code == 200
    assert response.content == (CHECKOUT_DIST_DIR / "socket.io.js").read_bytes()


async def test_different_files_have_different_etags(http: httpx.AsyncClient) -> None:
    full = await http.get("/socket.io/socket.io.js")
    minified = await http.get("/socket.io/socket.io.min.js")
    assert full.headers["etag"] != minified.headers["etag"]


async def test_head_reports_the_length_without_sending_the_body(
    running_server: ServerFactory,
) -> None:
    """A HEAD answer carries no body: the next pipelined answer starts right after it."""
    server: Server = await running_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"HEAD /socket.io/socket.io.js HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    after = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    size = (CHECKOUT_DIST_DIR / "socket.io.js").stat().st_size
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"content-length: {size}\r\n".encode() in head
    assert b"etag: " in head
    assert after.startswith(b"HTTP/1.1 200 ")


async def test_other_methods_are_refused_with_405(http: httpx.AsyncClient) -> None:
    response = await http.post("/socket.io/socket.io.js", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_files_outside_the_list_are_not_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/socket.io/package.json")
    assert response.status_code != 200


async def test_missing_package_gives_a_404_that_says_how_to_get_it(
    served: Http, tmp_path: Path
) -> None:
    http = await served(client_dist_dir=tmp_path / "absent")
    response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 404
    assert "scripts/install" in response.text
    assert "BAATCHEET_CLIENT_DIST_DIR" in response.text
    assert str(tmp_path / "absent") in response.text


async def test_files_appear_once_installed_without_restarting(served: Http, tmp_path: Path) -> None:
    http = await served(client_dist_dir=tmp_path)
    assert (await http.get("/socket.io/socket.io.js")).status_code == 404
    (tmp_path / "socket.io.js").write_text("// installed later\n")
    response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 200
    assert response.text == "// installed later\n"


async def test_the_client_follows_a_custom_socketio_path(served: Http) -> None:
    http = await served(socketio_path="/rt/")
    moved = await http.get("/rt/socket.io.js")
    old = await http.get("/socket.io/socket.io.js")
    assert moved.status_code == 200
    assert old.status_code == 404


async def test_nothing_is_served_when_serve_client_is_off(served: Http) -> None:
    http = await served(serve_client=False)
    response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 404


def test_served_client_is_the_same_version_the_js_driver_tests_with() -> None:
    served = json.loads((CHECKOUT_DIST_DIR.parent / "package.json").read_text())["version"]
    driven = JS_DIR / "node_modules" / "socket.io-client" / "package.json"
    assert served == json.loads(driven.read_text())["version"]
