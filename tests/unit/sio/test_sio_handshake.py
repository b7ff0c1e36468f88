"""``socket.handshake`` is built from the request that opened the Engine.IO session."""

from __future__ import annotations

from baatcheet.engine.http import HttpRequest
from baatcheet.sio import Handshake


def _request(scheme: str = "http", **extra: bytes) -> HttpRequest:
    headers = [(b"host", b"127.0.0.1:3000"), (b"user-agent", b"node")]
    headers += [(name.encode(), value) for name, value in extra.items()]
    return HttpRequest(
        "GET",
        "/socket.io/",
        "EIO=4&transport=polling&room=lobby&room=ignored",
        headers,
        ("10.0.0.7", 51234),
        scheme=scheme,
    )


def test_the_handshake_carries_headers_query_auth_and_address() -> None:
    handshake = Handshake.from_request(_request(), {"token": "t"}, 1_700_000_000_000)
    assert handshake.headers == {"host": "127.0.0.1:3000", "user-agent": "node"}
    assert handshake.query == {"EIO": "4", "transport": "polling", "room": "lobby"}
    assert handshake.auth == {"token": "t"}
    assert handshake.address == "10.0.0.7"
    assert handshake.url == "/socket.io/?EIO=4&transport=polling&room=lobby&room=ignored"


def test_the_time_is_given_in_milliseconds_and_as_an_http_date() -> None:
    handshake = Handshake.from_request(_request(), {}, 1_700_000_000_000)
    assert handshake.issued == 1_700_000_000_000
    assert handshake.time == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_secure_and_cross_domain_follow_the_scheme_and_the_origin_header() -> None:
    plain = Handshake.from_request(_request(), {}, 0)
    assert (plain.secure, plain.xdomain) == (False, False)
    tls = Handshake.from_request(_request("https", origin=b"https://a.example"), {}, 0)
    assert (tls.secure, tls.xdomain) == (True, True)
