"""Which origins may connect, applied alike to polling requests and WebSocket upgrades.

Browsers enforce CORS on XHR/fetch but not on WebSocket, so a server that checks
origins only on polling leaves the WebSocket door open; this policy is consulted for
both.
"""

from __future__ import annotations

from baatcheet.engine.http import HttpRequest

__all__ = ["OriginPolicy"]


class OriginPolicy:
    """Origin allow-list.

    With no configured origins, requests without an ``Origin`` header (non-browser
    clients) and same-origin requests are allowed; ``*`` allows every origin.
    """

    __slots__ = ("_allowed", "_any")

    def __init__(self, origins: list[str]) -> None:
        self._any = "*" in origins
        self._allowed = frozenset(origin.rstrip("/") for origin in origins if origin != "*")

    def allows(self, origin: str | None, request: HttpRequest) -> bool:
        """True if a request from ``origin`` may proceed."""
        if origin is None or self._any or origin in self._allowed:
            return True
        host = request.header(b"host")
        return host is not None and origin.split("://", 1)[-1] == host

    def headers(self, origin: str | None, request: HttpRequest) -> list[tuple[bytes, bytes]] | None:
        """CORS response headers for an allowed request, or None when it is refused."""
        if not self.allows(origin, request):
            return None
        if origin is None:
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]

    @staticmethod
    def preflight_headers(request: HttpRequest) -> list[tuple[bytes, bytes]]:
        """Extra headers answering an ``OPTIONS`` preflight."""
        headers = [(b"access-control-allow-methods", b"GET, POST, OPTIONS")]
        asked = request.header(b"access-control-request-headers")
        if asked:
            headers.append((b"access-control-allow-headers", asked.encode("latin-1")))
        return headers
