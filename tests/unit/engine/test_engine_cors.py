"""The origin allow-list that guards polling requests and WebSocket upgrades alike."""

from __future__ import annotations

import pytest

from baatcheet.engine.cors import OriginPolicy
from baatcheet.engine.http import HttpRequest


def _request(host: str = "chat.example:3000", **headers: str) -> HttpRequest:
    pairs = [(b"host", host.encode())]
    pairs += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return HttpRequest("GET", "/socket.io/", "", pairs, ("127.0.0.1", 5000))


def test_a_client_without_an_origin_header_is_always_allowed() -> None:
    assert OriginPolicy([]).allows(None, _request())
    assert OriginPolicy(["https://a.example"]).allows(None, _request())


def test_with_no_configured_origins_only_the_same_origin_is_allowed() -> None:
    policy = OriginPolicy([])
    assert policy.allows("http://chat.example:3000", _request())
    assert not policy.allows("http://evil.example", _request())
    assert not policy.allows("http://chat.example:3001", _request())


def test_listed_origins_are_allowed_whatever_the_trailing_slash() -> None:
    policy = OriginPolicy(["https://a.example/", "https://b.example"])
    assert policy.allows("https://a.example", _request())
    assert policy.allows("https://b.example", _request())
    assert not policy.allows("https://c.example", _request())
    assert not policy.allows("http://a.example", _request()), "the scheme is part of an origin"


def test_a_star_allows_every_origin() -> None:
    assert OriginPolicy(["*"]).allows("https://anything.example", _request())


def test_a_refused_origin_gets_no_cors_headers() -> None:
    assert OriginPolicy(["https://a.example"]).headers("https://evil.example", _request()) is None


def test_an_allowed_origin_is_echoed_with_credentials_and_vary() -> None:
    headers = OriginPolicy(["https://a.example"]).headers("https://a.example", _request())
    assert headers is not None
    assert dict(headers) == {
        b"access-control-allow-origin": b"https://a.example",
        b"access-control-allow-credentials": b"true",
        b"vary": b"Origin",
    }


def test_a_request_without_an_origin_needs_no_cors_headers() -> None:
    assert OriginPolicy(["https://a.example"]).headers(None, _request()) == []


@pytest.mark.parametrize(
    ("asked", "expected"),
    [(None, None), ("content-type, x-token", b"content-type, x-token")],
)
def test_a_preflight_allows_the_methods_and_echoes_the_requested_headers(
    asked: str | None, expected: bytes | None
) -> None:
    extra = {} if asked is None else {"access_control_request_headers": asked}
    headers = dict(OriginPolicy.preflight_headers(_request(**extra)))
    assert headers[b"access-control-allow-methods"] == b"GET, POST, OPTIONS"
    assert headers.get(b"access-control-allow-headers") == expected
