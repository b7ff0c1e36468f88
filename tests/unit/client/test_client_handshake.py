"""The client reads the server's OPEN packet, and refuses one that is not Engine.IO v4."""

from __future__ import annotations

import pytest

from baatcheet.client import EngineHandshake
from baatcheet.errors import ProtocolError
from baatcheet.proto.engineio import open_packet_data


def test_the_servers_own_open_packet_reads_back_in_seconds() -> None:
    data = open_packet_data("abc", ["websocket"], 25_000, 20_000, 1_000_000)
    assert EngineHandshake.parse(data) == EngineHandshake(
        sid="abc",
        upgrades=("websocket",),
        ping_interval=25.0,
        ping_timeout=20.0,
        max_payload=1_000_000,
    )


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        '{"upgrades":[],"pingInterval":1,"pingTimeout":1}',
        '{"sid":"a","upgrades":"websocket","pingInterval":1,"pingTimeout":1}',
        '{"sid":"a","upgrades":[],"pingInterval":"25000","pingTimeout":1}',
        '{"sid":"a","upgrades":[],"pingInterval":0,"pingTimeout":1}',
    ],
)
def test_an_open_packet_that_is_not_engine_io_v4_is_a_protocol_error(data: str) -> None:
    with pytest.raises(ProtocolError):
        EngineHandshake.parse(data)
