"""The small HTTP vocabulary shared by the server's request handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n`` for the statuses the server produces itself."""
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode()


@dataclass(slots=True)
class HttpRequest:
    """A parsed HTTP/1.1 request with its whole body."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[bytes, bytes]]
    """Header names are lower-cased."""
    client: tuple[str, int] | None
    scheme: str = "http"
    body: bytes = b""
    keep_alive: bool = True
    _query: dict[str, str] | None = field(default=None, repr=False)

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; the first value wins when a key repeats."""
        if self._query is None:
            query: dict[str, str] = {}
            for key, value in parse_qsl(self.query_string, keep_blank_values=True):
                query.setdefault(key, value)
            self._query = query
        return self._query


class Responder(Protocol):
    """Answers one request, now or later (a long-poll GET is answered later)."""

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Send the whole response; ``content-length`` is added by the responder."""

    @property
    def answered(self) -> bool:
        """True once :meth:`respond` was called or the connection went away."""

    def on_abort(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the client goes away before the response was sent."""
