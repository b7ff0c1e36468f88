"""HttpRequest keeps its headers readable after being packed for a long-lived session."""

from __future__ import annotations

from baatcheet.engine.http import HttpRequest


def _request() -> HttpRequest:
    headers = [
        (b"host", b"127.0.0.1:3000"),
        (b"cookie", b"a=1; b=2"),
        (b"x-empty", b""),
        (b"x-colons", b"ws://h:1/p"),
    ]
    return HttpRequest("GET", "/socket.io/", "EIO=4&sid=abc&sid=later", headers, None)


def test_compacting_keeps_every_header_and_value_including_colons_and_empty_ones() -> None:
    request = _request()
    before = list(request.headers)
    request.compact()
    assert request.headers == before
    assert request.header(b"x-colons") == "ws://h:1/p"
    assert request.header(b"x-empty") == ""
    assert request.header(b"missing") is None


def test_query_is_the_same_before_and_after_compacting() -> None:
    request = _request()
    assert request.query == {"EIO": "4", "sid": "abc"}
    request.compact()
    assert request.query == {"EIO": "4", "sid": "abc"}


def test_a_request_without_headers_compacts_to_no_headers() -> None:
    request = HttpRequest("GET", "/", "", [], None)
    request.compact()
    assert request.headers == []
