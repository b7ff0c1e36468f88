"""The server hands out the official socket.io-client files at /socket.io/, as Node's does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from baatcheet.settings import Settings
from baatcheet.web.client_bundle import CLIENT_FILES, DEFAULT_DIST_DIR, client_bundle_routes
from support.paths import JS_DIR


def _client(settings: Settings) -> httpx.AsyncClient:
    app = Starlette(routes=client_bundle_routes(settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    assert DEFAULT_DIST_DIR.is_dir(), f"{DEFAULT_DIST_DIR} is missing: run scripts/install"
    async with _client(Settings()) as client:
        yield client


@pytest.mark.parametrize("name", sorted(CLIENT_FILES))
async def test_each_client_file_is_served_byte_for_byte_from_the_package(
    http: httpx.AsyncClient, name: str
) -> None:
    response = await http.get(f"/socket.io/{name}")
    assert response.status_code == 200
    assert response.content == (DEFAULT_DIST_DIR / name).read_bytes()


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
    assert response.content == (DEFAULT_DIST_DIR / "socket.io.js").read_bytes()


async def test_different_files_have_different_etags(http: httpx.AsyncClient) -> None:
    full = await http.get("/socket.io/socket.io.js")
    minified = await http.get("/socket.io/socket.io.min.js")
    assert full.headers["etag"] != minified.headers["etag"]


async def test_head_reports_the_length_without_sending_the_body(http: httpx.AsyncClient) -> None:
    response = await http.head("/socket.io/socket.io.js")
    assert response.status_code == 200
    assert response.content == b""
    size = (DEFAULT_DIST_DIR / "socket.io.js").stat().st_size
    assert response.headers["content-length"] == str(size)


async def test_files_outside_the_list_are_not_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/socket.io/package.json")
    assert response.status_code == 404


async def test_missing_package_gives_a_404_that_says_to_run_scripts_install(
    tmp_path: Path,
) -> None:
    async with _client(Settings(client_dist_dir=tmp_path / "absent")) as http:
        response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 404
    assert "scripts/install" in response.text
    assert "BAATCHEET_CLIENT_DIST_DIR" in response.text


async def test_files_appear_once_installed_without_restarting(tmp_path: Path) -> None:
    async with _client(Settings(client_dist_dir=tmp_path)) as http:
        assert (await http.get("/socket.io/socket.io.js")).status_code == 404
        (tmp_path / "socket.io.js").write_text("// installed later\n")
        response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 200
    assert response.text == "// installed later\n"


async def test_the_client_follows_a_custom_socketio_path() -> None:
    async with _client(Settings(socketio_path="/rt/")) as http:
        moved = await http.get("/rt/socket.io.js")
        old = await http.get("/socket.io/socket.io.js")
    assert moved.status_code == 200
    assert old.status_code == 404


async def test_nothing_is_served_when_serve_client_is_off() -> None:
    async with _client(Settings(serve_client=False)) as http:
        response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 404


def test_served_client_is_the_same_version_the_js_driver_tests_with() -> None:
    served = json.loads((DEFAULT_DIST_DIR.parent / "package.json").read_text())["version"]
    driven = JS_DIR / "node_modules" / "socket.io-client" / "package.json"
    assert served == json.loads(driven.read_text())["version"]
