"""One server's link to Redis: a publisher and one pub/sub connection for every namespace.

A :class:`RedisBroker` is created once per :class:`~baatcheet.sio.Server` and shared by the
Redis adapters of all its namespaces (Node shares its ``subClient`` the same way). It knows
nothing of Socket.IO: adapters give it channel names with a handler each, and bytes to
publish. Nodes that run as separate processes each have their own broker.

Ordering: :meth:`RedisBroker.publish` queues, and one writer task sends the queue in order
(in one pipeline per batch) on the command client, so everything one node publishes reaches
Redis in the order it was published, across channels. Redis then delivers to each
subscriber connection in that order, and the single reader task hands messages to their
handlers one at a time, in arrival order.

Outage: when Redis cannot be reached the broker is *unavailable*: :meth:`publish` drops
messages (local delivery is the adapters' business and goes on), :meth:`numsub` and new
cluster requests fail at once with :class:`~baatcheet.errors.ClusterUnavailableError`, and
watchers registered with :meth:`watch` are told so they can fail requests in flight. The
reader reconnects with exponential backoff and resubscribes every channel and pattern; the
outage and the recovery are logged once each.

Channels that come and go: adapters in a dynamic subscription mode subscribe a room's
channel while the room has local members. :meth:`RedisBroker.subscribe_nowait` and
:meth:`RedisBroker.unsubscribe_nowait` only record the wish, synchronously; the writer task
tells Redis before it sends anything published after the wish, in one SUBSCRIBE and one
UNSUBSCRIBE per batch of changes, and a channel subscribed and unsubscribed within one batch
costs Redis nothing. Messages published before Redis applied a SUBSCRIBE are not delivered
(pub/sub keeps nothing); :meth:`RedisBroker.settled` waits until it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from baatcheet.adapters.observer import NO_CLUSTER_OBSERVER, ClusterObserver
from baatcheet.errors import ClusterUnavailableError
from baatcheet.settings import RedisSubscription

if TYPE_CHECKING:
    from baatcheet.settings import Settings

__all__ = ["MessageHandler", "RedisBroker"]

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
"""Receives ``(channel, payload)`` for each message on a subscribed channel or pattern.

It runs on the broker's reader task and must not block; exceptions are logged.
"""

_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 5.0
_OUTBOX_LIMIT = 100_000
"""Messages waiting for the writer beyond which new ones are dropped (Redis too slow)."""

_SUBSCRIBE_CHUNK = 1000
"""Channels named by one SUBSCRIBE or UNSUBSCRIBE command."""

_FAILURES = (RedisError, OSError, TimeoutError)


class _Reconnect(Exception):  # noqa: N818 - an internal signal, not an error users see
    """The reader must drop its connection and start over (another task saw a failure)."""


class RedisBroker:
    """Publishes and subscribes for every Redis adapter of one server.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL of the Redis server.
        prefix: Channel prefix shared by the whole cluster (Node's ``key`` option).
        requests_timeout: Seconds to wait for other nodes' answers (Node's
            ``requestsTimeout``), and for any single Redis command.
        health_interval: Seconds of silence on the subscription after which it is
            PINGed; no answer within ``requests_timeout`` counts as a lost connection.
        subscription: Which broadcast channels this node's adapters subscribe. The
            adapters read it; the broker itself treats every channel alike.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "socket.io",
        requests_timeout: float = 5.0,
        health_interval: float = 1.0,
        subscription: RedisSubscription = RedisSubscription.CLASSIC,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.requests_timeout = requests_timeout
        self.subscription = subscription
        self.messages_received = 0
        """Messages the subscription connection delivered, on every channel and pattern."""
        self.bytes_received = 0
        """Payload bytes of those messages (channel names and framing not counted)."""
        self._health_interval = health_interval
        self._client: Redis = Redis.from_url(
            url,
            socket_timeout=requests_timeout,
            socket_connect_timeout=requests_timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 1),
            protocol=2,
        )
        self._channels: dict[str, MessageHandler] = {}
        self._patterns: dict[str, MessageHandler] = {}
        self._nowait: dict[str, MessageHandler] = {}
        """Channels of :meth:`subscribe_nowait`, with their handlers."""
        self._nowait_sent: set[str] = set()
        """Those Redis was told to subscribe on the current connection."""
        self._nowait_changed = False
        self._nowait_lock = asyncio.Lock()
        self._barriers: dict[bytes, asyncio.Future[None]] = {}
        self._barrier_ids = itertools.count()
        self._confirmations: dict[tuple[bytes, str], asyncio.Future[None]] = {}
        self._watchers: list[Callable[[], None]] = []
        self._subscriber: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: list[tuple[str, bytes]] = []
        self._outbox_ready = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self._available = False
        self._resubscribing = False
        self._awaited: set[tuple[bytes, str]] = set()
        self._ready: asyncio.Future[None] | None = None
        self._ever_available = False
        self._said_waiting = False
        self._reconnect_reason: BaseException | None = None
        self._dropped = 0
        self._backoff = _BACKOFF_FIRST_S
        self._closing = False
        self.observer: ClusterObserver = NO_CLUSTER_OBSERVER
        """Told of each publish round trip and each loss and return of Redis (metrics)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisBroker:
        """The broker ``settings.redis_url`` asks for.

        Raises:
            ValueError: ``settings.redis_url`` is not set.
        """
        if not settings.redis_url:
            raise ValueError("settings.redis_url is not set")
        return cls(
            settings.redis_url,
            prefix=settings.redis_prefix,
            requests_timeout=settings.redis_requests_timeout_ms / 1000,
            subscription=settings.redis_subscription,
        )

    def __repr__(self) -> str:
        state = "available" if self._available else "unavailable"
        return f"<RedisBroker {self._client.connection_pool} {state}>"

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """True while Redis is reachable and every subscription is in place."""
        return self._available

    def start(self) -> None:
        """Start the reader and writer tasks, if not started yet; returns at once.

        The reader connects, subscribes what adapters registered, and keeps retrying with
        backoff while Redis cannot be reached. Adapters call this from ``init`` so a
        server that never called :meth:`connect` (an ASGI mount) still joins the cluster.
        """
        if self._reader is not None:
            return
        self._closing = False
        self._subscriber = self._client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")
        self._writer = asyncio.create_task(self._write_forever(), name="redis-broker-writer")

    async def connect(self) -> None:
        """:meth:`start`, then wait until Redis answered and every subscription is in place.

        A server refuses to start on a Redis it cannot reach at all (most likely a wrong
        URL); outages after the first connection are survived. Once connected, returns at
        once whatever the state of Redis.

        Raises:
            ClusterUnavailableError: Redis did not answer within ``requests_timeout``; the
                broker is closed again.
        """
        self.start()
        if self._ever_available:
            return
        if self._ready is None or self._ready.done():
            self._ready = asyncio.get_running_loop().create_future()
        ready = self._ready
        try:
            async with asyncio.timeout(self.requests_timeout):
                await asyncio.shield(ready)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            reason = "no answer" if isinstance(exc, TimeoutError) else exc
            raise ClusterUnavailableError(
                f"cannot reach Redis at {self._where()}: {reason}"
            ) from exc

    async def close(self) -> None:
        """Send what is queued (bounded by ``requests_timeout``), then disconnect."""
        if self._available:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.requests_timeout):
                    await self._outbox_empty.wait()
        self._closing = True
        self._available = False
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reader = self._writer = None
        if self._subscriber is not None:
            await self._subscriber.disconnect(nowait=True)
            self._subscriber = None
        self._confirmations.clear()
        self._release_barriers()
        await self._client.aclose()

    def _where(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return str(kwargs["path"])
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"

    # -- availability --------------------------------------------------------------------

    def watch(self, on_unavailable: Callable[[], None]) -> None:
        """Call ``on_unavailable`` each time Redis becomes unreachable."""
        self._watchers.append(on_unavailable)

    def unwatch(self, on_unavailable: Callable[[], None]) -> None:
        """Stop calling ``on_unavailable``."""
        with contextlib.suppress(ValueError):
            self._watchers.remove(on_unavailable)

    def _lost(self, reason: BaseException) -> None:
        """Redis failed us: become unavailable and make the reader start over."""
        if self._reconnect_reason is None:
            self._reconnect_reason = reason
        self._set_unavailable(reason)

    def _set_unavailable(self, reason: BaseException) -> None:
        self._release_barriers()  # their PINGs will not be answered on this connection
        if not self._available or self._closing:
            return
        self._available = False
        self.observer.disconnected()
        log.warning(
            "Redis at %s is unreachable (%s): cluster operations fail until it is back;"
            " this node keeps serving its own clients",
            self._where(),
            str(reason) or type(reason).__name__,
        )
        for watcher in list(self._watchers):
            try:
                watcher()
            except Exception:
                log.exception("cluster outage watcher failed")

    def _set_available(self) -> None:
        if self._available or self._closing:
            return
        self._available = True
        self._backoff = _BACKOFF_FIRST_S
        if self._nowait_changed:
            self._outbox_ready.set()  # changes made while resubscribing: the writer sends them
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        self.observer.connected(first=not self._ever_available)
        if not self._ever_available:
            self._ever_available = True
            log.info(
                "cluster broker connected to Redis at %s (prefix %r)", self._where(), self.prefix
            )
            return
        dropped, self._dropped = self._dropped, 0
        log.warning(
            "Redis at %s is reachable again: %d channels and %d patterns resubscribed,"
            " %d messages were not published during the outage",
            self._where(),
            len(self._channels) + len(self._nowait),
            len(self._patterns),
            dropped,
        )

    # -- subscriptions -------------------------------------------------------------------

    async def subscribe(
        self,
        channels: Mapping[str, MessageHandler] | None = None,
        patterns: Mapping[str, MessageHandler] | None = None,
    ) -> None:
        """Deliver messages of ``channels`` (SUBSCRIBE) and ``patterns`` (PSUBSCRIBE).

        Returns once Redis confirmed them; while Redis is unreachable, at once (they are
        subscribed with the rest on reconnection). Each name may have one handler.

        Raises:
            ValueError: A channel or pattern already has a handler.
        """
        channels, patterns = dict(channels or {}), dict(patterns or {})
        for name in channels.keys() & self._channels.keys():
            raise ValueError(f"channel {name!r} is already subscribed")
        for name in patterns.keys() & self._patterns.keys():
            raise ValueError(f"pattern {name!r} is already subscribed")
        self._channels.update(channels)
        self._patterns.update(patterns)
        await self._send_subscriptions(b"subscribe", list(channels), b"psubscribe", list(patterns))

    async def unsubscribe(self, channels: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        """Stop delivering ``channels`` and ``patterns``; returns once Redis confirmed it."""
        channels = [name for name in channels if self._channels.pop(name, None) is not None]
        patterns = [name for name in patterns if self._patterns.pop(name, None) is not None]
        await self._send_subscriptions(
            b"unsubscribe", channels, b"punsubscribe", patterns, quiet=True
        )

    async def _send_subscriptions(
        self,
        channel_kind: bytes,
        channels: list[str],
        pattern_kind: bytes,
        patterns: list[str],
        *,
        quiet: bool = False,
    ) -> None:
        connection = self._subscriber
        if connection is None or not connection.is_connected:
            return  # the reader subscribes everything when it (re)connects
        if not self._available and not self._resubscribing:
            return  # the connection is failing: the same, without waiting on it
        waits = [self._confirmation(channel_kind, name) for name in channels]
        waits += [self._confirmation(pattern_kind, name) for name in patterns]
        try:
            async with asyncio.timeout(self.requests_timeout):
                if channels:
                    await connection.send_command(
                        channel_kind.upper(), *channels, check_health=False
                    )
                if patterns:
                    await connection.send_command(
                        pattern_kind.upper(), *patterns, check_health=False
                    )
                await asyncio.gather(*waits)
        except _FAILURES as exc:
            if not quiet:
                self._lost(exc)
        finally:
            for wait in waits:
                wait.cancel()

    def _confirmation(self, kind: bytes, name: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        previous = self._confirmations.get((kind, name))
        if previous is not None:
            previous.cancel()
        self._confirmations[(kind, name)] = future
        future.add_done_callback(lambda _: self._forget_confirmation(kind, name, future))
        return future

    def _forget_confirmation(self, kind: bytes, name: str, future: asyncio.Future[None]) -> None:
        if self._confirmations.get((kind, name)) is future:
            del self._confirmations[(kind, name)]

    # -- channels that come and go ---------------------------------------------------------

    def subscribe_nowait(self, channel: str, handler: MessageHandler) -> None:
        """Deliver messages of ``channel`` to ``handler`` once Redis has the subscription.

        Returns at once: the writer task sends the SUBSCRIBE before anything published
        after this call. Messages published before Redis applied it are never delivered.

        Raises:
            ValueError: ``channel`` already has a handler from this method.
        """
        if channel in self._nowait:
            raise ValueError(f"channel {channel!r} is already subscribed")
        self._nowait[channel] = handler
        self._nowait_touched()

    def unsubscribe_nowait(self, channel: str) -> None:
        """Stop delivering ``channel`` (from :meth:`subscribe_nowait`) at once.

        Redis is told by the writer task, as for :meth:`subscribe_nowait`.
        """
        if self._nowait.pop(channel, None) is not None:
            self._nowait_touched()

    async def settled(self) -> None:
        """Return once Redis applied every :meth:`subscribe_nowait` and unsubscribe so far.

        Returns at once while Redis is unreachable: the reader subscribes every channel
        when it reconnects, and the broker is not :attr:`available` until then.
        """
        connection = self._subscriber
        if not self._available or connection is None or not connection.is_connected:
            return
        token = b"settled-%d" % next(self._barrier_ids)
        barrier: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[token] = barrier
        try:
            async with asyncio.timeout(self.requests_timeout):
                await self._send_nowait_changes(connection)
                # Redis answers one connection's commands in order: the PING's answer comes
                # after every SUBSCRIBE and UNSUBSCRIBE sent before it took effect.
                await connection.send_command("PING", token, check_health=False)
                await barrier
        except _FAILURES as exc:
            self._lost(exc)
        finally:
            del self._barriers[token]

    def _release_barriers(self) -> None:
        for barrier in self._barriers.values():
            if not barrier.done():
                barrier.set_result(None)

    def _nowait_touched(self) -> None:
        self._nowait_changed = True
        self._outbox_ready.set()

    async def _send_nowait_changes(self, connection: AbstractConnection) -> None:
        """SUBSCRIBE what was asked for since the last call, UNSUBSCRIBE what was given up.

        Under a lock, so the commands reach Redis in the order the changes were counted.
        While resubscribing, nothing: :meth:`_set_available` wakes the writer afterwards.
        """
        async with self._nowait_lock:
            if not (self._available and self._nowait_changed and connection.is_connected):
                return  # a lost connection is resubscribed whole by the reader
            self._nowait_changed = False
            wanted = self._nowait.keys() - self._channels.keys()  # a fixed channel stays
            added = sorted(wanted - self._nowait_sent)
            removed = sorted(self._nowait_sent - wanted)
            self._nowait_sent = set(wanted)
            for chunk in _chunks(added):
                await connection.send_command("SUBSCRIBE", *chunk, check_health=False)
            for chunk in _chunks(removed):
                await connection.send_command("UNSUBSCRIBE", *chunk, check_health=False)

    # -- commands ------------------------------------------------------------------------

    async def ping(self) -> None:
        """``PING`` Redis: the readiness check of a cluster node.

        Raises:
            ClusterUnavailableError: Redis is unreachable, or the subscriptions are not
                in place (at once if that is already known), or it did not answer.
        """
        if not self._available:
            raise ClusterUnavailableError(f"Redis at {self._where()} is unreachable")
        try:
            async with asyncio.timeout(self.requests_timeout):
                await self._client.ping()
        except _FAILURES as exc:
            self._lost(exc)
            raise ClusterUnavailableError(
                f"Redis at {self._where()} did not answer: {exc}"
            ) from exc

    async def numsub(self, channel: str) -> int:
        """``PUBSUB NUMSUB channel``: how many connections subscribe ``channel``.

        Raises:
            ClusterUnavailableError: Redis is unreachable (at once if already known).
        """
        if not self._available:
            raise ClusterUnavailableError(f"Redis at {self._where()} is unreachable")
        try:
            async with asyncio.timeout(self.requests_timeout):
                answer = await self._client.pubsub_numsub(channel)
        except _FAILURES as exc:
            self._lost(exc)
            raise ClusterUnavailableError(
                f"Redis at {self._where()} did not answer: {exc}"
            ) from exc
        return int(answer[0][1]) if answer else 0

    def publish(self, channel: str, payload: bytes) -> bool:
        """Queue ``payload`` for ``channel``; the writer sends the queue in order.

        Returns:
            False if it was dropped at once (Redis unreachable, or too far behind).
        """
        if not self._available:
            self._dropped += 1
            return False
        if len(self._outbox) >= _OUTBOX_LIMIT:
            self._dropped += 1
            self._lost(ClusterUnavailableError(f"{_OUTBOX_LIMIT} messages wait for Redis"))
            return False
        self._outbox.append((channel, payload))
        self._outbox_empty.clear()
        self._outbox_ready.set()
        return True

    async def _write_forever(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            connection = self._subscriber
            if self._nowait_changed and connection is not None:
                # Before the batch: a node that joined a room and then published hears
                # the answers to what it published.
                try:
                    await self._send_nowait_changes(connection)
                except _FAILURES as exc:
                    self._lost(exc)
            batch, self._outbox = self._outbox, []
            try:
                if batch:
                    await self._send(batch)
            except _FAILURES as exc:
                self._dropped += len(batch)
                self._lost(exc)
            finally:
                if not self._outbox:
                    self._outbox_empty.set()

    async def _send(self, batch: list[tuple[str, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(self.requests_timeout):
            if len(batch) == 1:
                await self._client.publish(*batch[0])
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
        self.observer.published(len(batch), loop.time() - started)

    # -- the reader ----------------------------------------------------------------------

    async def _read_forever(self) -> None:
        """Read the subscription connection; on failure reconnect with backoff and resubscribe."""
        connection = self._subscriber
        assert connection is not None
        while True:
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
                self._reconnect_reason = None
                await self._resubscribe(connection)
                await self._read(connection)
            except (*_FAILURES, _Reconnect) as exc:
                self._resubscribing = False
                await connection.disconnect(nowait=True)
                if self._ready is not None and not self._ready.done():
                    self._ready.set_exception(exc)  # connect() gives up and closes the broker
                elif self._ever_available:
                    self._set_unavailable(exc)
                elif not self._said_waiting:
                    self._said_waiting = True
                    log.warning("Redis at %s is unreachable (%s); retrying", self._where(), exc)
            delay = self._backoff * random.uniform(0.5, 1.0)
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX_S)
            await asyncio.sleep(delay)

    async def _resubscribe(self, connection: AbstractConnection) -> None:
        """Subscribe everything; the broker is available once Redis confirmed it all."""
        self._resubscribing = True
        # The lock lets a change the writer is sending finish first; changes made after
        # this snapshot are sent by the writer once the broker is available.
        async with self._nowait_lock:
            nowait = self._nowait.keys() - self._channels.keys()
            self._nowait_sent = set(nowait)
            self._nowait_changed = False
            self._awaited = {(b"subscribe", name) for name in (*self._channels, *nowait)}
            self._awaited |= {(b"psubscribe", name) for name in self._patterns}
            if self._channels:
                await connection.send_command("SUBSCRIBE", *self._channels, check_health=False)
            for chunk in _chunks(sorted(nowait)):
                await connection.send_command("SUBSCRIBE", *chunk, check_health=False)
            if self._patterns:
                await connection.send_command("PSUBSCRIBE", *self._patterns, check_health=False)
        if not self._awaited:
            self._resubscribing = False
            self._set_available()

    async def _read(self, connection: AbstractConnection) -> None:
        """Read the subscription; silence earns a PING, and Redis gets ``requests_timeout``
        to answer it, so a loop that stalled for a moment does not count as an outage."""
        loop = asyncio.get_running_loop()
        ping_deadline: float | None = None
        while True:
            if self._reconnect_reason is not None:
                raise _Reconnect(str(self._reconnect_reason))
            wait = self._health_interval
            if ping_deadline is not None:
                wait = max(ping_deadline - loop.time(), 0.0)
            response = await connection.read_response(timeout=wait, disconnect_on_error=True)
            if response is None:
                if ping_deadline is not None:
                    if loop.time() >= ping_deadline:
                        raise TimeoutError("Redis did not answer a PING on the subscription")
                    continue
                await connection.send_command("PING", check_health=False)
                ping_deadline = loop.time() + self.requests_timeout
                continue
            ping_deadline = None
            self._dispatch(response)

    def _dispatch(self, response: Any) -> None:
        if isinstance(response, bytes) and response in self._barriers:
            # A PING's answer once the connection has no subscription left.
            barrier = self._barriers[response]
            if not barrier.done():
                barrier.set_result(None)
            return
        if not isinstance(response, list) or not response or not isinstance(response[0], bytes):
            log.warning("unexpected reply on the Redis subscription: %.200r", response)
            return
        kind = response[0]
        if kind == b"message" and len(response) == 3:
            name = _text(response[1])
            handler = self._channels.get(name) or self._nowait.get(name)
            self._deliver(handler, name, response[2])
        elif kind == b"pmessage" and len(response) == 4:
            self._deliver(self._patterns.get(_text(response[1])), response[2], response[3])
        elif kind in (b"subscribe", b"psubscribe", b"unsubscribe", b"punsubscribe"):
            self._confirmed(kind, _text(response[1]))
        elif kind == b"pong":
            waiting = self._barriers.get(response[1]) if len(response) > 1 else None
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
        else:
            log.warning("unexpected reply on the Redis subscription: %.200r", response)

    def _confirmed(self, kind: bytes, name: str) -> None:
        future = self._confirmations.get((kind, name))
        if future is not None and not future.done():
            future.set_result(None)
        if self._resubscribing:
            self._awaited.discard((kind, name))
            if not self._awaited:
                self._resubscribing = False
                self._set_available()

    def _deliver(self, handler: MessageHandler | None, channel: Any, payload: Any) -> None:
        if not isinstance(payload, bytes):
            return
        self.messages_received += 1
        self.bytes_received += len(payload)
        if handler is None:
            return  # unsubscribed meanwhile
        try:
            handler(_text(channel), payload)
        except Exception:
            log.exception("handler of Redis channel %r failed", _text(channel))


def _chunks(names: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(names), _SUBSCRIBE_CHUNK):
        yield names[start : start + _SUBSCRIBE_CHUNK]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
