"""The origin allow-list and host check that guard polling requests and WebSocket upgrades."""

from __future__ import annotations

import pytest

from baatcheet.engine.cors import OriginPolicy
from baatcheet.engine.http import HttpRequest


def _request(host: str | None = "chat.example:3000", **headers: str) -> HttpRequest:
    pairs = [] if host is None else [(b"host", host.encode())]
    pairs += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return HttpRequest("GET", "/socket.io/", "", pairs, ("127.0.0.1", 5000))


def test_a_client_without_an_origin_header_is_allowed_on_an_allowed_host() -> None:
    assert OriginPolicy([], ["chat.example"]).allows(None, _request())
    assert OriginPolicy([]).allows(None, _request("127.0.0.1:3000"))
    assert OriginPolicy(["https://a.example"]).allows(None, _request())


def test_with_no_configured_origins_only_the_same_origin_is_allowed() -> None:
    policy = OriginPolicy([], ["chat.example"])
    assert policy.allows("http://chat.example:3000", _request())
    assert not policy.allows("http://evil.example", _request())
    assert not policy.allows("http://chat.example:3001", _request())


def test_a_dns_rebinding_page_is_refused_with_or_without_an_origin_header() -> None:
    policy = OriginPolicy([], listen_host="127.0.0.1")
    rebound = _request("evil.example:3000")
    assert not policy.allows("http://evil.example:3000", rebound), "same-origin to itself"
    assert not policy.allows(None, rebound), "a same-origin GET carries no Origin"


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:3000",
        "LOCALHOST:3000",
        "127.0.0.1",
        "127.0.0.1:3000",
        "[::1]",
        "[::1]:3000",
        "192.168.1.20:3000",
        "chat.local:3000",
    ],
)
def test_by_default_localhost_the_listening_host_and_ip_addresses_are_allowed_hosts(
    host: str,
) -> None:
    assert OriginPolicy([], listen_host="chat.local").allows(None, _request(host))


@pytest.mark.parametrize(
    "host", ["evil.example", "localhost.evil.example:3000", "127.0.0.1.nip.io:3000", "localhost."]
)
def test_by_default_other_names_are_refused(host: str) -> None:
    assert not OriginPolicy([], listen_host="127.0.0.1").allows(None, _request(host))


def test_configured_allowed_hosts_replace_the_defaults_and_may_pin_a_port() -> None:
    policy = OriginPolicy([], ["chat.example", "admin.example:8443", "::1"])
    assert policy.allows(None, _request("chat.example"))
    assert policy.allows(None, _request("chat.example:8080"))
    assert policy.allows(None, _request("admin.example:8443"))
    assert not policy.allows(None, _request("admin.example:8080"))
    assert policy.allows(None, _request("[::1]:3000"))
    assert not policy.allows(None, _request("localhost:3000")), "the list is exact"
    assert not policy.allows(None, _request("10.0.0.5:3000")), "IP addresses too"


def test_a_request_without_a_host_header_is_not_a_browser_and_is_allowed() -> None:
    assert OriginPolicy([], listen_host="127.0.0.1").allows(None, _request(None))


def test_configured_origins_turn_the_default_host_check_off() -> None:
    policy = OriginPolicy(["https://app.example"])
    assert policy.allows("https://app.example", _request("api.example"))
    assert OriginPolicy(["*"]).allows("https://anything.example", _request("evil.example"))


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


def test_allowed_hosts_are_enforced_even_when_cors_origins_are_set() -> None:
    policy = OriginPolicy(["https://chat.example"], ["chat.example"], "0.0.0.0")

    assert policy.allows(None, _request(host="chat.example"))
    assert not policy.allows(None, _request(host="rebound.example"))
