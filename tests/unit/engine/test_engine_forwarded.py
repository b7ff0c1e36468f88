"""The real client behind a trusted proxy, and nobody else's word for it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from baatcheet.engine.forwarded import ProxyTrust
from baatcheet.settings import Settings

PROXY = ("10.0.0.5", 40000)


def test_a_trusted_proxy_names_the_client_and_the_scheme() -> None:
    trust = ProxyTrust(["10.0.0.0/8"])
    assert trust.resolve(PROXY, "203.0.113.9", "https", "http") == (("203.0.113.9", 0), "https")


def test_an_untrusted_peer_is_taken_as_it_comes_whatever_it_claims() -> None:
    trust = ProxyTrust(["10.0.0.0/8"])
    peer = ("198.51.100.7", 5000)
    assert trust.resolve(peer, "203.0.113.9", "https", "http") == (peer, "http")


def test_addresses_a_client_wrote_itself_are_not_believed() -> None:
    trust = ProxyTrust(["10.0.0.0/8"])
    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real address.
    client, _ = trust.resolve(PROXY, "1.2.3.4, 203.0.113.9", None, "http")
    assert client == ("203.0.113.9", 0)


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_client() -> None:
    trust = ProxyTrust(["10.0.0.0/8", "192.168.1.1"])
    client, _ = trust.resolve(PROXY, "203.0.113.9, 192.168.1.1, 10.1.2.3", None, "http")
    assert client == ("203.0.113.9", 0)


def test_nothing_is_trusted_by_default() -> None:
    trust = ProxyTrust([])
    assert not trust.enabled
    assert trust.resolve(PROXY, "203.0.113.9", "https", "http") == (PROXY, "http")


def test_a_bad_proxy_entry_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(ValidationError, match="not an IP address"):
        Settings(forwarded_allow_ips=["nginx.internal"])
    assert Settings(forwarded_allow_ips="10.0.0.0/8, *").forwarded_allow_ips == [
        "10.0.0.0/8",
        "*",
    ]
