"""HTTP requests under the Socket.IO path: JSON errors, origins, body limits, routing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from baatcheet.sio import Server
from support.factories import ServerFactory
from support.jsclient import JsDriver

pytestmark = pytest.mark.timeout(30)

ALLOWED = "https://chat.example"


@pytest.fixture
async def server(running_server: ServerFactory) -> Server:
    started: Server = await running_server(cors_origins=[ALLOWED], max_payload_bytes=1000)
    return started


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        yield client


async def _open_polling(http: httpx.AsyncClient) -> str:
    response = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200
    return str(orjson.loads(response.text[1:])["sid"])


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ({"EIO": "3", "transport": "polling"}, 5, "Unsupported protocol version"),
        ({"transport": "polling"}, 5, "Unsupported protocol version"),
        ({"EIO": "4", "transport": "carrier-pigeon"}, 0, "Transport unknown"),
        ({"EIO": "4"}, 0, "Transport unknown"),
        ({"EIO": "4", "transport": "polling", "sid": "no-such-sid"}, 1, "Session ID unknown"),
    ],
)
async def test_a_bad_engine_request_is_answered_400_with_a_json_error(
    http: httpx.AsyncClient, query: dict[str, str], code: int, message: str
) -> None:
    response = await http.get("/socket.io/", params=query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": code, "message": message}


async def test_a_handshake_by_post_is_refused_as_a_bad_handshake_method(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/socket.io/?EIO=4&transport=polling", content="40")
    assert response.status_code == 400
    assert response.json() == {"code": 2, "message": "Bad handshake method"}


async def test_a_polling_request_with_an_unsupported_method_is_refused(
    http: httpx.AsyncClient,
) -> None:
    sid = await _open_polling(http)
    response = await http.put(f"/socket.io/?EIO=4&transport=polling&sid={sid}", content="40")
    assert response.status_code == 400
    assert response.json()["code"] == 3


async def test_a_polling_post_over_the_payload_limit_is_answered_413_and_ends_the_session(
    http: httpx.AsyncClient,
) -> None:
    sid = await _open_polling(http)
    url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    response = await http.post(url, content="4" + "x" * 2000)
    assert response.status_code == 413
    after = await http.get(url)
    assert after.status_code == 400
    assert after.json()["code"] == 1


async def test_an_allowed_origin_gets_cors_headers_on_polling(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"origin": ALLOWED}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_a_preflight_from_an_allowed_origin_is_answered_204(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/socket.io/?EIO=4&transport=polling",
        headers={
            "origin": ALLOWED,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type"


async def test_a_foreign_origin_is_refused_on_polling(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json() == {"code": 4, "message": "Forbidden"}
    assert "access-control-allow-origin" not in response.headers


async def test_a_foreign_origin_is_refused_on_a_direct_websocket(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, origin=Origin(ALLOWED)) as ws:
        assert str(await ws.recv()).startswith("0")


async def test_a_foreign_origin_cannot_upgrade_a_polling_session_either(
    server: Server, http: httpx.AsyncClient
) -> None:
    sid = await _open_polling(http)
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403


async def test_the_official_client_sending_a_foreign_origin_cannot_connect(
    js: JsDriver, server: Server
) -> None:
    client = await js.connect(
        f"http://127.0.0.1:{server.port}",
        extra_headers={"origin": "https://evil.example"},
        reconnection=False,
    )
    error = await client.wait("connect_error")
    assert error["message"] in ("xhr poll error", "websocket error")
    await client.assert_silent("connect", within=0.1)


async def test_a_path_outside_the_server_routes_is_answered_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/nothing-here")
    assert response.status_code == 404


async def test_the_socketio_path_answers_with_and_without_a_trailing_slash(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/socket.io", "/socket.io/"):
        response = await http.get(path, params={"EIO": "4", "transport": "polling"})
        assert response.status_code == 200
        assert response.text.startswith("0{")
