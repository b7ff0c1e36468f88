"""docs/how-to/deploy-nginx.md works: its nginx site, run as written, in front of two nodes.

The site file ``docs/how-to/nginx/baatcheet.conf`` gets only its placeholders filled (a
self-signed certificate for ``localhost``, free loopback ports, the two nodes); the nodes
run with the settings the guide gives (``allowed_hosts``, ``forwarded_allow_ips``). The
official client connects from 127.0.0.5 while nginx reaches the nodes from 127.0.0.1, so
an address the server reports came from ``X-Forwarded-For`` only if it is 127.0.0.5.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from baatcheet.settings import Settings
from baatcheet.sio import Server, Socket
from support.jsclient import JsClient, JsDriver
from support.nginx import nginx_proxy, render_site
from support.paths import REPO_ROOT
from support.ports import free_port
from support.tls import self_signed_certificate

pytestmark = pytest.mark.timeout(60)

SITE = REPO_ROOT / "docs" / "how-to" / "nginx" / "baatcheet.conf"
PUBLIC_NAME = "localhost"
CLIENT_ADDRESS = "127.0.0.5"
"""Where the client connects from; nginx itself reaches the nodes from 127.0.0.1."""


@dataclass
class Deployment:
    """nginx on ``https_port``/``http_port`` in front of ``nodes``."""

    nodes: list[Server]
    https_port: int
    http_port: int
    certificate: Path
    arrivals: asyncio.Queue[tuple[int, Socket]]

    @property
    def url(self) -> str:
        return f"https://{PUBLIC_NAME}:{self.https_port}"

    async def connect(self, js: JsDriver, **opts: Any) -> JsClient:
        """An official client trusting the test certificate, dialling from CLIENT_ADDRESS."""
        return await js.connect(
            self.url,
            ca=self.certificate.read_text(),
            agent={"localAddress": CLIENT_ADDRESS, "family": 4},
            reconnection=False,
            **opts,
        )

    async def arrival(self) -> tuple[int, Socket]:
        """The next socket a node accepted, with the node's index."""
        return await asyncio.wait_for(self.arrivals.get(), 5)

    def trusting_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(self.certificate)))


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    certificate, key = self_signed_certificate(tmp_path, (PUBLIC_NAME, "127.0.0.1"))
    arrivals: asyncio.Queue[tuple[int, Socket]] = asyncio.Queue()
    nodes: list[Server] = []
    try:
        for index in range(2):
            # The guide's settings for a node behind the proxy.
            node = Server(
                Settings(
                    port=free_port(), allowed_hosts=[PUBLIC_NAME], forwarded_allow_ips=["127.0.0.1"]
                )
            )

            def on_connection(socket: Socket, index: int = index) -> None:
                socket.on("echo", lambda value: value)
                arrivals.put_nowait((index, socket))

            node.on("connection", on_connection)
            await node.start()
            nodes.append(node)
        https_port, http_port = free_port(), free_port()
        site = render_site(
            SITE.read_text(),
            {
                "PUBLIC_NAME": PUBLIC_NAME,
                "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
                "HTTP_LISTEN": f"127.0.0.1:{http_port}",
                "CERTIFICATE": str(certificate),
                "CERTIFICATE_KEY": str(key),
                "NODE_1": f"127.0.0.1:{nodes[0].port}",
                "NODE_2": f"127.0.0.1:{nodes[1].port}",
            },
        )
        async with nginx_proxy(tmp_path / "nginx", site, https_port):
            yield Deployment(nodes, https_port, http_port, certificate, arrivals)
    finally:
        for node in reversed(nodes):
            await node.shutdown()


async def test_the_client_connects_over_wss_and_the_node_sees_its_real_address(
    deployment: Deployment, js: JsDriver
) -> None:
    # A client naming itself in X-Forwarded-For must not be believed.
    client = await deployment.connect(
        js, transports=["websocket"], extra_headers={"X-Forwarded-For": "198.51.100.7"}
    )
    await client.wait("connect")
    assert await client.emit_with_ack("echo", "through nginx") == ["through nginx"]
    _index, socket = await deployment.arrival()
    assert socket.handshake.address == CLIENT_ADDRESS
    assert socket.handshake.secure  # from X-Forwarded-Proto: nginx talks plain HTTP to it
    assert socket.handshake.headers["host"] == PUBLIC_NAME


async def test_long_polling_upgrades_to_websocket_on_the_node_that_holds_the_session(
    deployment: Deployment, js: JsDriver
) -> None:
    client = await deployment.connect(js)  # the default: polling first, then the upgrade
    await client.wait("connect")
    # The probe WebSocket must reach the node holding the polling session to take it over.
    assert (await client.wait("upgrade"))["transport"] == "websocket"
    assert await client.emit_with_ack("echo", 2) == [2]
    index, socket = await deployment.arrival()
    assert socket.handshake.address == CLIENT_ADDRESS
    assert socket.handshake.secure
    assert (await client.state())["transport"] == "websocket"
    assert not deployment.nodes[1 - index].engine.sessions


async def test_a_polling_session_keeps_reaching_its_node_among_two(
    deployment: Deployment, js: JsDriver
) -> None:
    # Without sticky sessions every other request would reach the node that has never
    # heard of the session and be refused ("Session ID unknown").
    client = await deployment.connect(js, transports=["polling"])
    await client.wait("connect")
    for round_trip in range(6):
        assert await client.emit_with_ack("echo", round_trip) == [round_trip]
    index, _socket = await deployment.arrival()
    assert (await client.state())["connected"]
    assert len(deployment.nodes[index].engine.sessions) == 1
    assert not deployment.nodes[1 - index].engine.sessions


async def test_only_the_public_name_reaches_the_server(deployment: Deployment) -> None:
    handshake = f"https://127.0.0.1:{deployment.https_port}/socket.io/?EIO=4&transport=polling"
    async with deployment.trusting_client() as http:
        public = await http.get(handshake, headers={"Host": PUBLIC_NAME})
        rebinding = await http.get(handshake, headers={"Host": "rebind.example"})
    assert public.status_code == 200
    assert public.text.startswith('0{"sid":')
    assert rebinding.status_code == 403  # refused by the node: allowed_hosts


async def test_plain_http_is_sent_to_https(deployment: Deployment) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"http://127.0.0.1:{deployment.http_port}/socket.io/?EIO=4",
            headers={"Host": PUBLIC_NAME},
        )
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://{PUBLIC_NAME}/socket.io/?EIO=4"


def test_the_proxy_waits_longer_than_a_heartbeat() -> None:
    defaults = Settings()
    heartbeat_s = (defaults.ping_interval_ms + defaults.ping_timeout_ms) / 1000
    timeouts = re.findall(r"proxy_(?:read|send)_timeout\s+(\d+)s;", SITE.read_text())
    assert len(timeouts) == 2
    assert all(int(seconds) > heartbeat_s for seconds in timeouts)


def test_the_guide_shows_the_site_file_as_it_is() -> None:
    guide = (REPO_ROOT / "docs" / "how-to" / "deploy-nginx.md").read_text()
    assert f"```nginx\n{SITE.read_text()}```" in guide, "paste nginx/baatcheet.conf into the guide"
