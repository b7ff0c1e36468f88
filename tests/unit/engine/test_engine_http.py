"""HttpRequest keeps its headers readable after being packed for a long-lived session."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

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


@given(st.text(alphabet="ab=&;%+2F ?é", max_size=40))
def test_the_query_reads_every_string_as_parse_qsl_does_first_value_winning(raw: str) -> None:
    expected: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        expected.setdefault(key, value)
    assert HttpRequest("GET", "/socket.io/", raw, [], None).query == expected


def test_a_plain_engine_io_query_is_read_without_unquoting() -> None:
    query = HttpRequest("GET", "/", "EIO=4&transport=websocket&&t=&flag", [], None).query
    assert query == {"EIO": "4", "transport": "websocket", "t": "", "flag": ""}
