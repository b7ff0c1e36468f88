"""What a client socket received, kept in order, and awaited by name in tests."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from baatcheet.client.socket import ClientSocket

__all__ = ["EventLog", "ReceivedEvent"]

_LIFECYCLE = ("connect", "disconnect", "connect_error")


class ReceivedEvent(NamedTuple):
    """One event from the server: compares equal to a plain ``(name, args)`` tuple."""

    name: str
    args: list[Any]


class EventLog:
    """Records every event a socket receives, for assertions and waits.

    ``received`` keeps the server's events forever, in arrival order. :meth:`next_event`
    consumes them one at a time (lifecycle events ``connect``, ``disconnect`` and
    ``connect_error`` too), so nothing that arrives between two awaits is ever missed.
    """

    def __init__(self) -> None:
        self.received: list[ReceivedEvent] = []
        """Every event the server sent, in order (never consumed)."""
        self._unseen: list[ReceivedEvent] = []
        self._arrived = asyncio.Event()

    @classmethod
    def attach(cls, socket: ClientSocket) -> EventLog:
        """A log of ``socket``'s events from now on."""
        log = cls()
        socket.on_any(log._record)
        for name in _LIFECYCLE:
            socket.on(name, _LifecycleRecorder(log, name))
        return log

    def _record(self, event: str, *args: Any) -> None:
        item = ReceivedEvent(event, list(args))
        self.received.append(item)
        self._push(item)

    def _push(self, item: ReceivedEvent) -> None:
        self._unseen.append(item)
        self._arrived.set()

    # ``timeout`` is a test harness deadline: on expiry it reports what did arrive.
    async def next_event(self, name: str, *, timeout: float = 5.0) -> list[Any]:  # noqa: ASYNC109
        """The arguments of the oldest not yet consumed ``name`` event; waits for one.

        Raises:
            AssertionError: None came within ``timeout`` seconds (the message lists what
                did arrive).
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index, item in enumerate(self._unseen):
                        if item.name == name:
                            del self._unseen[index]
                            return item.args
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            seen = ", ".join(f"{item.name}{tuple(item.args)!r}" for item in self.received[-20:])
            raise AssertionError(
                f"no {name!r} event within {timeout:g}s; received: {seen or 'nothing'}"
            ) from None

    def clear(self) -> None:
        """Forget everything received so far."""
        self.received.clear()
        self._unseen.clear()


class _LifecycleRecorder:
    """Records a lifecycle event (its arguments: the reason, the error) for ``next_event``."""

    __slots__ = ("_log", "_name")

    def __init__(self, log: EventLog, name: str) -> None:
        self._log = log
        self._name = name

    def __call__(self, *args: Any) -> None:
        self._log._push(ReceivedEvent(self._name, list(args)))
