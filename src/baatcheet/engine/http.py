"""The small HTTP vocabulary shared by the server's request handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qsl

__all__ = ["HttpRequest", "Responder", "status_line"]

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n`` for the statuses the server produces itself."""
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode()


class HttpRequest:
    """A parsed HTTP/1.1 request with its whole body.

    A session keeps the request that opened it for the socket's ``handshake`` view;
    :meth:`compact` then packs the headers into one ``bytes`` object, which costs a
    fraction of a list of tuples of ``bytes`` on every idle connection.
    """

    __slots__ = (
        "_headers",
        "_packed",
        "_query",
        "body",
        "client",
        "keep_alive",
        "method",
        "path",
        "query_string",
        "scheme",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        *,
        scheme: str = "http",
        body: bytes = b"",
        keep_alive: bool = True,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self._headers: list[tuple[bytes, bytes]] | None = headers
        self._packed = b""
        self.client = client
        self.scheme = scheme
        self.body = body
        self.keep_alive = keep_alive
        self._query: dict[str, str] | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """Header (name, value) pairs; names are lower-cased."""
        if self._headers is not None:
            return self._headers
        pairs = []
        for line in self._packed.split(b"\n"):
            name, _, value = line.partition(b":")
            pairs.append((name, value))
        return pairs

    def compact(self) -> None:
        """Pack the headers and drop cached views; the request stays fully readable."""
        headers = self._headers
        if headers is not None and headers:
            self._packed = b"\n".join(name + b":" + value for name, value in headers)
        self._headers = None if headers else []
        self._query = None

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; the first value wins when a key repeats."""
        if self._query is not None:
            return self._query
        query: dict[str, str] = {}
        raw = self.query_string
        if "%" in raw or "+" in raw:
            for key, value in parse_qsl(raw, keep_blank_values=True):
                query.setdefault(key, value)
        else:
            # Nothing to unquote (every Engine.IO request's own query): the same pairs as
            # parse_qsl(keep_blank_values=True) gives, without its per-pair unquoting.
            for part in raw.split("&"):
                if part:
                    key, _, value = part.partition("=")
                    query.setdefault(key, value)
        if self._headers is not None:
            self._query = query
        return query


class Responder(Protocol):
    """Answers one request, now or later (a long-poll GET is answered later)."""

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Send the whole response; ``content-length`` is added by the responder."""

    @property
    def answered(self) -> bool:
        """True once :meth:`respond` was called or the connection went away."""

    def on_abort(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the client goes away before the response was sent."""
