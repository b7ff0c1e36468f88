"""Presence for a cluster: every node records its users in one Redis, with a heartbeat.

Data layout (every key shares the hash tag ``{<redis_prefix>-presence}``, written ``B``;
ids are decimal strings):

======================  ======  ==========================================================
key                     type    content
======================  ======  ==========================================================
``B:nodes``             zset    node id → deadline (ms, Redis clock): the node is alive
                                until then; its heartbeat pushes it back
``B:node:<node>``       set     user ids with at least one socket on that node
``B:user:<uid>``        hash    node id → how many sockets of the user that node has; the
                                user is connected while the hash exists
``B:shown:<uid>``       set     room ids the user is shown online in
``B:room:<rid>``        hash    user id → username: who is online in the room (the answer
                                to ``presence:list``)
======================  ======  ==========================================================

Every operation is one Lua script, so it is atomic: exactly one caller sees each
transition (a user's field appearing in or leaving ``B:room:<rid>``) and reports it, which
is how a transition is announced once however many nodes race. A node writes its own
socket counts as absolute values (read when the script runs), never as increments, so a
lost reply or a skipped call is repaired by the next call or by a resync.

Heartbeat and TTL (``presence_ttl_s``, written T): every T/3 a node sets its deadline to
now + 2T/3 and, in the same script, sweeps every node whose deadline has passed: it takes
that node's socket counts away, and users left with no socket anywhere go offline in all
their rooms; the sweeping node announces them. A node that dies without saying goodbye
stops pushing its deadline, which passes at most 2T/3 after its death, and the next sweep
by any node comes within T/3: its users are shown offline within T. A node that closes
sets its deadline to 0, so the next sweep by another node (within T/3) takes whatever its
closing sockets did not already take offline.

Resync: a node whose entry was swept while it lived (an event loop stalled past 2T/3, or
Redis restarted empty) is told so by its next heartbeat (its entry was missing), and a
node that could not reach Redis knows it missed writes. Either way it then writes its
whole state again in one script, from its own socket counts and the rooms its sockets are
in, and announces what that changed. Until then its operations skip Redis (and report
nothing): writing to a node entry that no heartbeat keeps alive could leave users online
forever if the node died before the resync.

Order: one node's operations run one at a time, in call order, under a lock; while Redis
is unreachable they return at once instead of queueing behind timeouts.

Scripts run on a single Redis server (or a primary); all keys sit in one hash slot, but
the scripts name keys they compute, which Redis Cluster does not promise to allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from baatcheet.chat.presence import PresenceChange, PresenceListener
from baatcheet.errors import ClusterUnavailableError
from baatcheet.settings import Settings
from baatcheet.store import User

__all__ = ["RedisPresence"]

log = logging.getLogger(__name__)

# Shared by every script. ARGV[1] is always the key base ``B``. ``changes`` collects the
# transitions a script makes as flat quadruples: online ("1"/"0"), room, user, username.
_PRELUDE = """
local base = ARGV[1]
local nodes = base .. ':nodes'
local changes = {}
local function key(kind, id) return base .. ':' .. kind .. ':' .. id end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function show(uid, name, rid)
  if redis.call('HSETNX', key('room', rid), uid, name) == 1 then
    redis.call('SADD', key('shown', uid), rid)
    for _, v in ipairs({'1', rid, uid, name}) do table.insert(changes, v) end
  end
end
local function hide(uid, rid)
  local room = key('room', rid)
  local name = redis.call('HGET', room, uid)
  if name then
    redis.call('HDEL', room, uid)
    for _, v in ipairs({'0', rid, uid, name}) do table.insert(changes, v) end
  end
  redis.call('SREM', key('shown', uid), rid)
end
local function set_count(node, uid, count)
  local user = key('user', uid)
  if count > 0 then
    redis.call('HSET', user, node, count)
    redis.call('SADD', key('node', node), uid)
    return
  end
  redis.call('HDEL', user, node)
  redis.call('SREM', key('node', node), uid)
  if redis.call('EXISTS', user) == 0 then
    for _, rid in ipairs(redis.call('SMEMBERS', key('shown', uid))) do hide(uid, rid) end
    redis.call('DEL', key('shown', uid))
  end
end
local function purge(node)
  for _, uid in ipairs(redis.call('SMEMBERS', key('node', node))) do set_count(node, uid, 0) end
  redis.call('DEL', key('node', node))
  redis.call('ZREM', nodes, node)
end
local function registered(node) return redis.call('ZSCORE', nodes, node) ~= false end
"""

# ARGV: base, node, uid, username, count, room ids... → changes, or nil if the node has no
# entry (it must resync first).
_CONNECT = """
local node, uid, name, count = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if not registered(node) then return false end
set_count(node, uid, count)
if count > 0 then
  for i = 6, #ARGV do show(uid, name, ARGV[i]) end
end
return changes
"""

# ARGV: base, node, uid, count → changes, or nil if the node has no entry.
_DISCONNECT = """
local node, uid, count = ARGV[2], ARGV[3], tonumber(ARGV[4])
if not registered(node) then return false end
set_count(node, uid, count)
return changes
"""

# ARGV: base, uid, username, room id → changes (shown only while connected somewhere).
_JOIN = """
if redis.call('EXISTS', key('user', ARGV[2])) == 1 then show(ARGV[2], ARGV[3], ARGV[4]) end
return changes
"""

# ARGV: base, uid, room id → changes.
_LEAVE = """
hide(ARGV[2], ARGV[3])
return changes
"""

# ARGV: base, node, lifetime ms → {1 if the node had no entry (it must resync) else 0,
# changes of the sweep}.
_HEARTBEAT = """
local now = now_ms()
local added = redis.call('ZADD', nodes, now + tonumber(ARGV[3]), ARGV[2])
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', now)) do purge(dead) end
return {added, changes}
"""

# ARGV: base, node, JSON [[uid, username, count, [room id, ...]], ...] → changes.
# The node's whole state: users it lists get their counts and rooms, others lose this node.
_RESYNC = """
local node = ARGV[2]
local listed = {}
for _, entry in ipairs(cjson.decode(ARGV[3])) do
  local uid, name = entry[1], entry[2]
  listed[uid] = true
  set_count(node, uid, entry[3])
  for _, rid in ipairs(entry[4]) do show(uid, name, rid) end
end
for _, uid in ipairs(redis.call('SMEMBERS', key('node', node))) do
  if not listed[uid] then set_count(node, uid, 0) end
end
return changes
"""

# ARGV: base, node. A closing node expires itself: the next sweep takes what is left.
_GOODBYE = """
if registered(ARGV[2]) then redis.call('ZADD', nodes, 0, ARGV[2]) end
return changes
"""


def _changes(flat: Sequence[str]) -> list[PresenceChange]:
    return [
        PresenceChange(int(flat[i + 1]), User(int(flat[i + 2]), flat[i + 3]), flat[i] == "1")
        for i in range(0, len(flat), 4)
    ]


class RedisPresence:
    """Presence shared by every node on one Redis; see the module docstring.

    Args:
        redis: A client that decodes responses to ``str`` (``decode_responses=True``).
        prefix: The cluster's ``redis_prefix``; nodes with the same one share presence.
        ttl_s: A silent node's users are shown offline within this many seconds.
        node_id: This node's name in Redis (random by default; unique per process).
    """

    def __init__(
        self, redis: Redis, *, prefix: str, ttl_s: float, node_id: str | None = None
    ) -> None:
        self._redis = redis
        self._base = f"{{{prefix}-presence}}"
        self.node_id = node_id or secrets.token_hex(8)
        self._ttl_s = ttl_s
        self._counts: dict[int, int] = {}
        """This node's sockets per user id (the truth the node writes to Redis)."""
        self._users: dict[int, User] = {}
        self._lock = asyncio.Lock()
        self._stale = True
        """Redis lacks or may lack this node's state: node-bound writes wait for a resync."""
        self._unreachable = False
        self._listener: PresenceListener | None = None
        self._beating: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False
        script = redis.register_script
        self._connect = script(_PRELUDE + _CONNECT)
        self._disconnect = script(_PRELUDE + _DISCONNECT)
        self._join = script(_PRELUDE + _JOIN)
        self._leave = script(_PRELUDE + _LEAVE)
        self._heartbeat = script(_PRELUDE + _HEARTBEAT)
        self._resync = script(_PRELUDE + _RESYNC)
        self._goodbye = script(_PRELUDE + _GOODBYE)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisPresence:
        """Presence on ``settings.redis_url`` (the cluster's Redis), ``presence_ttl_s``.

        Raises:
            ValueError: ``settings.redis_url`` is not set.
        """
        if not settings.redis_url:
            raise ValueError("settings.redis_url is not set")
        timeout = settings.redis_requests_timeout_ms / 1000
        client = Redis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            # No retries: a script whose reply was lost may have run, and running it
            # again would report nothing; the resync repairs instead.
            retry=Retry(NoBackoff(), 0),
            protocol=2,
        )
        return cls(client, prefix=settings.redis_prefix, ttl_s=settings.presence_ttl_s)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, listener: PresenceListener) -> None:
        """Register this node (first heartbeat, awaited) and keep beating; idempotent.

        Never raises: while Redis cannot be reached, the heartbeat keeps trying.
        """
        if self._beating is not None or self._closed:
            return
        self._listener = listener
        self._beating = asyncio.create_task(self._beat_forever(), name="presence-heartbeat")
        await self._beat()

    async def close(self) -> None:
        """Stop beating and expire this node, so the next sweep of another node takes its
        remaining users offline; later calls report nothing."""
        if self._closed:
            return
        self._closed = True
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
        async with self._lock:
            if not self._unreachable:
                try:
                    await self._goodbye(args=[self._base, self.node_id])
                except (RedisError, OSError) as exc:
                    log.warning("presence: could not say goodbye to Redis (%s)", exc)
        await self._redis.aclose()

    # -- the port ------------------------------------------------------------------------

    async def connect(self, user: User, rooms: Iterable[int]) -> list[PresenceChange]:
        self._counts[user.id] = self._counts.get(user.id, 0) + 1
        self._users[user.id] = user
        room_args = [str(room_id) for room_id in rooms]
        return await self._node_write(
            self._connect, user.id, lambda count: [user.username, count, *room_args]
        )

    async def disconnect(self, user: User) -> list[PresenceChange]:
        left = self._counts.get(user.id, 0) - 1
        if left > 0:
            self._counts[user.id] = left
        else:
            self._counts.pop(user.id, None)
            self._users.pop(user.id, None)
        return await self._node_write(self._disconnect, user.id, lambda count: [count])

    async def join(self, room_id: int, user: User) -> list[PresenceChange]:
        return await self._write(self._join, [user.id, user.username, room_id])

    async def leave(self, room_id: int, user: User) -> list[PresenceChange]:
        return await self._write(self._leave, [user.id, room_id])

    async def online(self, room_id: int) -> list[User]:
        """Users online in the room, on every node, ordered by id.

        Raises:
            ClusterUnavailableError: Redis cannot be reached.
        """
        async with self._lock:
            if self._unreachable:
                raise ClusterUnavailableError("presence is unavailable: Redis is unreachable")
            try:
                members = await self._redis.hgetall(f"{self._base}:room:{room_id}")
            except (RedisError, OSError) as exc:
                self._lost(exc)
                raise ClusterUnavailableError(
                    f"presence is unavailable: Redis is unreachable ({exc})"
                ) from None
        users = (User(int(uid), str(name)) for uid, name in members.items())
        return sorted(users, key=_by_id)

    # -- writes --------------------------------------------------------------------------

    async def _node_write(
        self, script: AsyncScript, user_id: int, args: Any
    ) -> list[PresenceChange]:
        """Run a script that writes this node's count of ``user_id`` (read now, under the
        lock, so the newest count is written), unless the node must resync first."""
        async with self._lock:
            if self._closed or self._stale or self._unreachable:
                self._wake.set()
                return []
            count = self._counts.get(user_id, 0)
            try:
                flat = await script(args=[self._base, self.node_id, user_id, *args(count)])
            except (RedisError, OSError) as exc:
                self._lost(exc)
                return []
            if flat is None:  # swept while alive: the heartbeat resyncs, and reports
                self._stale = True
                self._wake.set()
                return []
            return _changes(flat)

    async def _write(self, script: AsyncScript, args: list[Any]) -> list[PresenceChange]:
        async with self._lock:
            if self._closed or self._unreachable:
                return []
            try:
                return _changes(await script(args=[self._base, *args]))
            except (RedisError, OSError) as exc:
                self._lost(exc)
                return []

    def _lost(self, exc: BaseException) -> None:
        """Redis failed a call: skip calls until a heartbeat gets through, then resync."""
        self._stale = True
        if not self._unreachable:
            self._unreachable = True
            log.warning(
                "presence: Redis is unreachable (%s); presence is frozen until it is back", exc
            )

    # -- heartbeat -----------------------------------------------------------------------

    async def _beat_forever(self) -> None:
        interval = self._ttl_s / 3
        while True:
            if self._unreachable:
                await asyncio.sleep(interval)  # back off; calls waking us are not news
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            await self._beat()

    async def _beat(self) -> None:
        """Push this node's deadline back, sweep dead nodes, resync if needed; report."""
        lifetime_ms = round(self._ttl_s * 2000 / 3)
        async with self._lock:
            try:
                added, swept = await self._heartbeat(args=[self._base, self.node_id, lifetime_ms])
                changes = _changes(swept)
                if added or self._stale:
                    changes += _changes(await self._resync(args=[self._base, *self._state()]))
            except (RedisError, OSError) as exc:
                self._lost(exc)
                return
            self._stale = False
            if self._unreachable:
                self._unreachable = False
                log.warning("presence: Redis is reachable again; this node's users resynced")
        if changes and self._listener is not None:
            self._listener.presence_changed(changes)

    def _state(self) -> list[Any]:
        """The resync script's arguments: this node's id and every local user's entry."""
        rooms = self._listener.local_rooms() if self._listener is not None else {}
        entries = [
            [
                str(user_id),
                self._users[user_id].username,
                count,
                [str(room_id) for room_id in sorted(rooms.get(user_id, ()))],
            ]
            for user_id, count in self._counts.items()
        ]
        return [self.node_id, orjson.dumps(entries).decode()]


def _by_id(user: User) -> int:
    return user.id
