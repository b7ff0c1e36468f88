"""Which client a request really comes from when it passed through a trusted proxy.

Behind nginx or a load balancer every connection's peer is the proxy, so per-address
limits (sign-in throttles) would lump every user together and ``handshake.address``
would name the proxy. A proxy listed in ``forwarded_allow_ips`` is trusted to say who
the client is in ``X-Forwarded-For`` (and how it connected in ``X-Forwarded-Proto``);
nobody else is, since any client can send those headers.

``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first
address that is not one of them is the client: an address a client wrote itself further
left is never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["ProxyTrust"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyTrust:
    """The proxies whose forwarding headers are believed (``forwarded_allow_ips``)."""

    __slots__ = ("_any", "_networks")

    def __init__(self, allowed: Sequence[str]) -> None:
        """``allowed`` holds IP addresses or CIDR networks; ``*`` trusts every peer.

        Raises:
            ValueError: An entry is neither ``*`` nor an address or network.
        """
        self._any = "*" in allowed
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(entry.strip(), strict=False)
            for entry in allowed
            if entry.strip() != "*"
        )

    @property
    def enabled(self) -> bool:
        """False when no proxy is trusted: requests are taken as they come."""
        return self._any or bool(self._networks)

    def trusts(self, address: str) -> bool:
        """True if ``address`` is a trusted proxy."""
        if self._any:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def resolve(
        self,
        peer: tuple[str, int] | None,
        forwarded_for: str | None,
        forwarded_proto: str | None,
        scheme: str,
    ) -> tuple[tuple[str, int] | None, str]:
        """The real client address and scheme of a request from ``peer``."""
        if peer is None or forwarded_for is None or not self.trusts(peer[0]):
            return peer, scheme
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        client = peer
        for hop in reversed(hops):
            if not hop:
                continue
            client = (hop, 0)
            if not self.trusts(hop):
                break
        if forwarded_proto:
            proto = forwarded_proto.split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scheme = proto
        return client, scheme
