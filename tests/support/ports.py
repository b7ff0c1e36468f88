"""Free TCP ports on the loopback interface."""

from __future__ import annotations

import random
import socket
import time

__all__ = ["free_port", "wait_for_port"]

_LOWEST = 20_000
_EPHEMERAL_START = 32_768


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    Ports come from below Linux's ephemeral range (32768-60999). A port in that range can
    be picked by the kernel as a client's *source* port: a client retrying a server that is
    down for a restart can then connect to itself (TCP simultaneous open) and never reach
    the restarted server. Random choice keeps parallel test runs apart; the small window
    before the caller binds it is accepted because every user binds within milliseconds.
    """
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(_LOWEST, _EPHEMERAL_START)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range on 127.0.0.1")


def wait_for_port(port: int, timeout: float) -> bool:
    """Poll until something accepts TCP connections on 127.0.0.1:``port``.

    Returns:
        True once a connection succeeds, False if ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
