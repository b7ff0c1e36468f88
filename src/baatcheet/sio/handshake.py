"""What a socket knows about how it connected."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from baatcheet.engine.http import HttpRequest

__all__ = ["Handshake"]


@dataclass(frozen=True, slots=True)
class Handshake:
    """The handshake details exposed as ``socket.handshake`` (as in Node's server)."""

    headers: dict[str, str]
    query: dict[str, str]
    auth: dict[str, Any]
    address: str | None
    time: str
    """When the connection was made, in the HTTP date format Node uses."""
    issued: int
    """The same moment in milliseconds since the epoch."""
    url: str
    secure: bool
    xdomain: bool = field(default=False)

    @classmethod
    def from_request(cls, request: HttpRequest, auth: dict[str, Any], issued_ms: int) -> Handshake:
        """Build from the Engine.IO session's opening request and the CONNECT payload."""

        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers
        }
        url = request.path + ("?" + request.query_string if request.query_string else "")
        return cls(
            headers=headers,
            query=dict(request.query),
            auth=auth,
            address=request.client[0] if request.client else None,
            time=formatdate(issued_ms / 1000, usegmt=True),
            issued=issued_ms,
            url=url,
            secure=request.scheme == "https",
            xdomain="origin" in headers,
        )
