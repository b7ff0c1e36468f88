"""Which requests may reach the realtime endpoints: their Origin, and the Host they name.

Browsers enforce CORS on XHR/fetch but not on WebSocket, so a server that checks
origins only on polling leaves the WebSocket door open; this policy is consulted for
both (the Engine.IO path and the plain WebSocket endpoint alike).

**Hosts, against DNS rebinding.** A page served from ``http://evil.example:3000``
whose DNS name the attacker then points at 127.0.0.1 talks to this server as *its own
origin*: its ``Origin`` equals its ``Host`` (``evil.example:3000``), and a same-origin
GET, such as the polling handshake, carries no ``Origin`` at all. Only the ``Host``
header gives it away. So a request must also name an allowed host whenever
``allowed_hosts`` is set, and, when it is not, as long as no ``cors_origins`` are
configured (the local, same-origin set-up that rebinding targets):

* ``allowed_hosts`` when it is set: ``name`` allows that name on any port,
  ``name:port`` only on that port;
* otherwise ``localhost``, the listening host, and any IP literal (``127.0.0.1``,
  ``[::1]``, a LAN address when listening on ``0.0.0.0``). Rebinding needs a DNS
  *name*: a page whose origin is an IP address was served from that address, so an IP
  ``Host`` is never a rebinding page.

Decisions:

* The Host check applies with or without an ``Origin`` header, because the rebinding
  page's polling handshake is a same-origin GET and browsers send no Origin on it.
  Non-browser clients (the Node and Python clients) send the host they dialled, so
  connecting to 127.0.0.1, ``localhost`` or an IP address keeps working.
* A request with no ``Host`` header at all is allowed: every browser sends one, so it
  cannot come from a rebinding page.
* Behind a proxy or under a real domain, set ``allowed_hosts``. Setting only
  ``cors_origins`` turns the default Host check off, but a same-origin GET carries no
  ``Origin`` for the origin list to refuse, so ``allowed_hosts`` is enforced even then.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from baatcheet.engine.http import HttpRequest
from baatcheet.settings import Settings

__all__ = ["OriginPolicy"]


def _split_host(value: str) -> tuple[str, str]:
    """``(name, port)`` of a Host value: ``a.example:80``, ``[::1]:3000``, ``localhost``."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    if value.count(":") > 1:
        return value, ""  # a bare IPv6 address, as allowed_hosts may list one
    name, _, port = value.partition(":")
    return name, port


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _HostCheck:
    """The Host names a request may carry (see the module docstring)."""

    __slots__ = ("_any_port", "_ip_literals", "_on_port")

    def __init__(self, allowed_hosts: Sequence[str], listen_host: str) -> None:
        self._ip_literals = not allowed_hosts
        entries = allowed_hosts or ["localhost", listen_host]
        self._any_port: set[str] = set()
        self._on_port: set[tuple[str, str]] = set()
        for entry in entries:
            name, port = _split_host(entry)
            if port:
                self._on_port.add((name, port))
            elif name:
                self._any_port.add(name)

    def allows(self, host: str | None) -> bool:
        if host is None:
            return True
        name, port = _split_host(host)
        if name in self._any_port or (name, port) in self._on_port:
            return True
        return self._ip_literals and _is_ip_literal(name)


class OriginPolicy:
    """Origin allow-list, plus the Host check that stops DNS rebinding.

    With no configured origins, requests without an ``Origin`` header (non-browser
    clients) and same-origin requests are allowed, provided their ``Host`` is allowed;
    ``*`` allows every origin and host.

    Args:
        origins: ``cors_origins``.
        allowed_hosts: Host names allowed (always enforced when set); empty means
            ``localhost``, ``listen_host`` and IP literals when ``origins`` is empty, and
            no Host check when it is not.
        listen_host: The address or name the server listens on.
    """

    __slots__ = ("_allowed", "_any", "_hosts")

    def __init__(
        self, origins: Sequence[str], allowed_hosts: Sequence[str] = (), listen_host: str = ""
    ) -> None:
        self._any = "*" in origins
        self._allowed = frozenset(origin.rstrip("/") for origin in origins if origin != "*")
        checked = bool(allowed_hosts) or not origins
        self._hosts = _HostCheck(allowed_hosts, listen_host) if checked else None

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        """The policy ``settings`` asks for (``cors_origins``, ``allowed_hosts``, ``host``)."""
        return cls(settings.cors_origins, settings.allowed_hosts, settings.host)

    def allows(self, origin: str | None, request: HttpRequest) -> bool:
        """True if a request from ``origin`` may proceed."""
        host = request.header(b"host")
        if self._hosts is not None and not self._hosts.allows(host):
            return False
        if origin is None or self._any or origin in self._allowed:
            return True
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
