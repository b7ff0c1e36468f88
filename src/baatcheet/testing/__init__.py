"""Testing a Baatcheet server: an in-memory client, an event log, pytest fixtures.

* :func:`connect_test_client` connects a real client to a ``Server`` object through an
  in-memory transport: the server's handshake, middleware, namespaces, rooms and acks
  run for real, only the socket is fake, so handler tests take microseconds.
* The pytest plugin (:mod:`baatcheet.testing.plugin`, registered as ``baatcheet``)
  provides fixtures for a real server on a free port and real clients connected to it.

The how-to guide is ``docs/how-to/testing.md``.
"""

from baatcheet.testing.event_log import EventLog, ReceivedEvent
from baatcheet.testing.memory_client import TestClient, connect_test_client
from baatcheet.testing.transport_memory import MemoryTransport, MemoryWebSocket

__all__ = [
    "EventLog",
    "MemoryTransport",
    "MemoryWebSocket",
    "ReceivedEvent",
    "TestClient",
    "connect_test_client",
]
