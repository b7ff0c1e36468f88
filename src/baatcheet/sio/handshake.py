"""What a socket knows about how it connected."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from baatcheet.engine.http import HttpRequest

__all__ = ["Handshake"]


class Handshake:
    """The handshake details exposed as ``socket.handshake`` (as in Node's server).

    Views over the Engine.IO session's opening request, computed when asked for: an
    idle connection then holds its request headers once, not once per namespace.
    """

    __slots__ = ("_request", "auth", "issued")

    def __init__(self, request: HttpRequest, auth: dict[str, Any], issued_ms: int) -> None:
        self._request = request
        self.auth = auth
        """The ``auth`` payload the client sent with its CONNECT packet."""
        self.issued = issued_ms
        """When the socket connected, in milliseconds since the epoch."""

    @classmethod
    def from_request(cls, request: HttpRequest, auth: dict[str, Any], issued_ms: int) -> Handshake:
        """Build from the Engine.IO session's opening request and the CONNECT payload."""
        return cls(request, auth, issued_ms)

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, names lower-cased."""
        return {
            name.decode("latin-1"): value.decode("latin-1") for name, value in self._request.headers
        }

    @property
    def query(self) -> dict[str, str]:
        """Query parameters of the opening request."""
        return dict(self._request.query)

    @property
    def address(self) -> str | None:
        """The client's IP address."""
        client = self._request.client
        return client[0] if client else None

    @property
    def time(self) -> str:
        """When the socket connected, in the HTTP date format Node uses."""
        return formatdate(self.issued / 1000, usegmt=True)

    @property
    def url(self) -> str:
        """Path and query of the opening request."""
        request = self._request
        return request.path + ("?" + request.query_string if request.query_string else "")

    @property
    def secure(self) -> bool:
        """True over TLS."""
        return self._request.scheme == "https"

    @property
    def xdomain(self) -> bool:
        """True when the request came from a browser page (it carried an ``Origin``)."""
        return self._request.header(b"origin") is not None

    def to_json(self) -> dict[str, Any]:
        """The handshake as Node servers send it to each other (``fetchSockets``)."""
        return {
            "headers": self.headers,
            "time": self.time,
            "address": self.address,
            "xdomain": self.xdomain,
            "secure": self.secure,
            "issued": self.issued,
            "url": self.url,
            "query": self.query,
            "auth": self.auth,
        }
