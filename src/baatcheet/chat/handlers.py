"""The ``/chat`` namespace: authenticates sockets and maps chat events to the services.

Event names, payloads and ack shapes are fixed by docs/reference/chat-events.md. Every
handler answers its ack with ``{"ok": true, ...}`` or, through ``EventError``, with
``{"ok": false, "error": {code, message}}`` to that client only.

Cluster: nothing here is true of this node only. Membership changes are server-side
``sockets_join`` / ``sockets_leave`` on the per-user room ``user:<id>`` (every socket of a
user is in it), which the adapter carries to every node; presence is a port
(:mod:`~baatcheet.chat.presence`) shared by the nodes; every event goes out through the
namespace broadcast. A socket's membership fast path reads the socket's own rooms, which
a join made on another node updates too; what a socket cannot know that way (a room's
kind) it asks the store once, and a room's kind never changes.

Ordering: the sio layer starts handler tasks in packet order. ``message:send`` takes its
place in the commit order before its first ``await`` when the socket is already in a
group room it knows (the common case), and otherwise — a room it is not in yet, a room
it was put in from elsewhere, or a direct room, where a block must be checked first —
under a per-socket lock, so one client's messages are stored and broadcast in the order
it sent them. A socket's presence ``disconnect`` waits for its own ``connect``.

Idle cost: tens of thousands of sockets may sit connected doing nothing, so a socket
costs one small :class:`_Session` and nothing that runs: no handler closures (the
session routes each event to the namespace's shared handlers when it arrives), no timer
(token expiries share one :class:`~baatcheet.chat.expiry.ExpiryQueue`), no lock until a
message needs one, and no task once it is counted in presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.chat.expiry import ExpiryQueue
from baatcheet.chat.observer import NO_CHAT_OBSERVER, ChatObserver
from baatcheet.chat.payloads import (
    HistoryFetch,
    MessageSend,
    Receipt,
    RefreshSocket,
    RoomCreate,
    RoomRef,
    RoomsList,
    UserRef,
    parse,
)
from baatcheet.chat.presence import PresenceChange
from baatcheet.chat.receipts import ReceiptState
from baatcheet.chat.service import ChatService
from baatcheet.chat.shapes import history_json, message_json, room_json, user_json
from baatcheet.chat.typing import TypingTracker
from baatcheet.errors import (
    AccountDisabledError,
    AuthError,
    ClusterUnavailableError,
    ConflictError,
    ConnectRejected,
    EventError,
    RateLimitedError,
    StoreError,
    TokenExpiredError,
)
from baatcheet.sio import Namespace, Server, Socket
from baatcheet.store import Appended, NewMessage, Room, RoomKind, User

__all__ = ["CHAT_NAMESPACE", "chat_error_ack", "register_chat"]

log = logging.getLogger(__name__)

CHAT_NAMESPACE = "/chat"

_Answer = dict[str, Any]


_ROOM_PREFIX = "room:"
_GROUP_KINDS = frozenset((RoomKind.PUBLIC, RoomKind.PRIVATE))


def _room_key(room_id: int) -> str:
    return f"{_ROOM_PREFIX}{room_id}"


def _user_key(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(eq=False, slots=True)
class _Session:
    """What the namespace remembers about one connected socket (never sent anywhere).

    Which rooms the socket is in is not here: that is ``socket.rooms``, which a
    ``sockets_join`` from any node updates. The session is the socket's event router
    (:meth:`handler`) and an entry of the namespace's expiry queue (:meth:`expire`).
    """

    socket: Socket
    user: User
    expires_at_ms: int
    namespace: _ChatNamespace
    kinds: dict[int, RoomKind] = field(default_factory=dict)
    """Kinds of the rooms this socket has met; posting in a direct room checks blocks."""
    entered: asyncio.Task[None] | None = None
    """Counting this socket in presence, until done; its disconnect waits for it."""
    lock: asyncio.Lock | None = None

    @property
    def send_lock(self) -> asyncio.Lock:
        """Orders this socket's messages that must be checked first; made on first use,
        since most sockets never need it."""
        if self.lock is None:
            self.lock = asyncio.Lock()
        return self.lock

    def handler(self, event: str) -> Callable[..., object] | None:
        """Socket router: the namespace's handler of ``event``, bound to this session."""
        return self.namespace.route(self, event)

    def expire(self) -> None:
        """Expiry queue: the access token expired; tell the client and disconnect."""
        if self.socket.connected:
            self.socket.emit("session:expired", {})
            self.socket.disconnect()


_Method = Callable[[_Session, Any], Awaitable[_Answer]]
_Handle = Callable[..., Awaitable[_Answer]]


class _ChatNamespace:
    """The ``/chat`` handlers of this node: sessions of its sockets, and typing timers.

    Also the presence port's listener (:class:`~baatcheet.chat.presence.PresenceListener`).
    """

    def __init__(
        self, server: Server, nsp: Namespace, chat: ChatService, observer: ChatObserver
    ) -> None:
        self._coalesce_writes = server.coalesce_writes
        self._observer = observer
        self._nsp = nsp
        self._chat = chat
        self._presence_started: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._typing = TypingTracker(chat.settings.typing_expiry_ms / 1000, self._typing_changed)
        self._expiries = ExpiryQueue()
        chat.rooms.on_created(self._room_created)
        methods: dict[str, _Method] = {
            "rooms:list": self._rooms_list,
            "room:create": self._room_create,
            "room:join": self._room_join,
            "room:leave": self._room_leave,
            "dm:open": self._dm_open,
            "user:block": self._user_block,
            "user:unblock": self._user_unblock,
            "message:send": self._message_send,
            "history:fetch": self._history_fetch,
            "typing:start": self._typing_start,
            "typing:stop": self._typing_stop,
            "receipt:delivered": self._receipt_delivered,
            "receipt:read": self._receipt_read,
            "presence:list": self._presence_list,
            "auth:refresh": self._auth_refresh,
        }
        self._handles: dict[str, _Handle] = {
            event: self._handler(event, method) for event, method in methods.items()
        }
        """Every socket's handlers, called with its session first (see :meth:`route`)."""

    # -- connecting ----------------------------------------------------------------------

    async def authenticate(self, socket: Socket) -> None:
        """Middleware: verify ``auth.token`` and load the user's rooms before admitting."""
        token = socket.handshake.auth.get("token") if socket.handshake.auth else None
        try:
            claims = await self._chat.accounts.authenticate(token)
            kinds = await self._chat.store.member_room_kinds(claims.user.id)
        except TokenExpiredError:
            raise ConnectRejected("token expired", {"code": "token_expired"}) from None
        except AccountDisabledError:
            raise ConnectRejected(
                "account disabled", {"code": ErrorCode.ACCOUNT_DISABLED.value}
            ) from None
        except AuthError:
            raise ConnectRejected("invalid token", {"code": "invalid_token"}) from None
        except StoreError:
            log.warning("refusing a connection to /chat: the database is unavailable")
            raise ConnectRejected(
                "service unavailable", {"code": ErrorCode.UNAVAILABLE.value}
            ) from None
        # The verified token is of no further use: kept, it would weigh on every idle
        # socket and be copied wherever its handshake goes (fetch_sockets, the admin UI).
        del socket.handshake.auth["token"]
        # socket.data may be copied to other nodes, so it holds plain JSON only.
        socket.data["user"] = user_json(claims.user)
        socket.data["expiresAt"] = claims.expires_at_ms
        socket.data["rooms"] = [[room_id, kind.value] for room_id, kind in kinds.items()]

    def connected(self, socket: Socket) -> None:
        """Connection handler: register events first (synchronously), join the user's
        room and rooms, then count the socket in presence (in the background)."""
        user = User(socket.data["user"]["id"], socket.data["user"]["username"])
        session = _Session(socket, user, socket.data["expiresAt"], self)
        socket.route(session)
        rooms = socket.data.pop("rooms", [])
        session.kinds.update((room_id, RoomKind(kind)) for room_id, kind in rooms)
        socket.join([_user_key(user.id), *(_room_key(room_id) for room_id, _ in rooms)])
        self._expiries.add(session)
        session.entered = self._spawn(self._count_in(session, [room_id for room_id, _ in rooms]))

    def route(self, session: _Session, event: str) -> Callable[..., object] | None:
        """The handler of ``event`` for ``session``'s socket, made as the event arrives."""
        if event == "disconnect":
            return partial(self._disconnected, session)
        handle = self._handles.get(event)
        return None if handle is None else partial(handle, session)

    async def _count_in(self, session: _Session, rooms: list[int]) -> None:
        await self._start_presence()
        self._announce(await self._chat.presence.connect(session.user, rooms))
        session.entered = None  # counted: the disconnect need not wait, nor keep the task

    def _disconnected(self, session: _Session, _reason: str) -> None:
        self._expiries.discard(session, session.expires_at_ms)
        self._spawn(self._count_out(session))

    async def _count_out(self, session: _Session) -> None:
        if session.entered is not None:
            with contextlib.suppress(Exception):  # logged by its own task
                await session.entered
        self._announce(await self._chat.presence.disconnect(session.user))

    async def _start_presence(self) -> None:
        """Start the presence port once, when this node first serves the chat (so what it
        reports in the background can be broadcast)."""
        if self._presence_started is None:
            self._presence_started = asyncio.ensure_future(self._chat.presence.start(self))
        await asyncio.shield(self._presence_started)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("presence update on /chat failed", exc_info=exc)

    # -- rooms, presence, typing ---------------------------------------------------------

    async def _enter(self, user: User, room: Room) -> None:
        """Put every socket of ``user``, on every node, in the room; announce the user
        online there if they are connected and were not shown yet."""
        self._nsp.in_(_user_key(user.id)).sockets_join(_room_key(room.id))
        self._announce(await self._chat.presence.join(room.id, user))

    async def _exit(self, user: User, room_id: int) -> None:
        """Take every socket of ``user``, on every node, out of the room; announce them
        offline there if they were shown."""
        self._nsp.in_(_user_key(user.id)).sockets_leave(_room_key(room_id))
        self._typing.stop(room_id, user)
        self._announce(await self._chat.presence.leave(room_id, user))

    def _announce(self, changes: list[PresenceChange]) -> None:
        """Tell each room (every node; not the user's own sockets) who came and went."""
        for change in changes:
            if not change.online:
                self._typing.stop(change.room_id, change.user)
            self._nsp.to(_room_key(change.room_id)).except_(_user_key(change.user.id)).emit(
                "presence",
                {"roomId": change.room_id, "user": user_json(change.user), "online": change.online},
            )

    def presence_changed(self, changes: list[PresenceChange]) -> None:
        """Presence listener: transitions found in the background (a dead node swept)."""
        self._announce(changes)

    def local_rooms(self) -> Mapping[int, frozenset[int]]:
        """Presence listener: the rooms of this node's sockets, by user id."""
        found: dict[int, set[int]] = {}
        for socket in list(self._nsp.sockets.values()):
            user = socket.data.get("user")
            if user is None:
                continue
            rooms = found.setdefault(user["id"], set())
            for name in socket.rooms:
                if name.startswith(_ROOM_PREFIX):
                    rooms.add(int(name[len(_ROOM_PREFIX) :]))
        return {user_id: frozenset(rooms) for user_id, rooms in found.items()}

    def _typing_changed(self, room_id: int, user: User, typing: bool) -> None:
        self._nsp.to(_room_key(room_id)).except_(_user_key(user.id)).emit(
            "typing", {"roomId": room_id, "user": user_json(user), "typing": typing}
        )

    async def _require_member(self, session: _Session, room_id: int) -> RoomKind:
        """The room's kind, if the user is a member.

        Fast path: the socket is in the room (put there by any node) and knows its kind.
        Else the store decides (with a precise refusal); a member's socket that is not in
        the room yet (it connected while the room was being made) joins it here.
        """
        kind = session.kinds.get(room_id)
        key = _room_key(room_id)
        if kind is not None and key in session.socket.rooms:
            return kind
        room = await self._chat.rooms.require_member(session.user, room_id)
        session.kinds[room.id] = room.kind
        if key not in session.socket.rooms:
            session.socket.join(key)
            self._announce(await self._chat.presence.join(room.id, session.user))
        return room.kind

    async def _require_writable(self, session: _Session, room_id: int) -> None:
        """Membership, and for a direct room no block between its two users (asked of the
        store every time, so a block set on another node counts at once)."""
        if await self._require_member(session, room_id) is RoomKind.DIRECT:
            await self._chat.rooms.require_unblocked(session.user, room_id)

    async def _room_created(self, room: Room) -> None:
        """Put the members in a new room (or back in a direct one) on every node and tell
        every tab of theirs (the creator's other tabs too); a new public room is announced
        to everyone else for their directory."""
        members = [_user_key(member.id) for member in room.members or ()]
        if not members:
            return  # to([]) would mean everyone
        # One cluster request puts every member's sockets in, however many members.
        self._nsp.in_(members).sockets_join(_room_key(room.id))
        for member in room.members or ():
            self._announce(await self._chat.presence.join(room.id, member))
        self._nsp.to(members).emit("room:updated", room_json(room))
        if room.kind is RoomKind.PUBLIC:
            listed = room_json(replace(room, members=None))
            self._nsp.except_(members).emit("room:created", listed)

    # -- event plumbing ------------------------------------------------------------------

    def _handler(self, event: str, method: _Method) -> _Handle:
        """``method`` as every socket's handler of ``event``, given the socket's session
        first: refusals become error acks, an answer gets ``"ok": true``."""

        async def handle(session: _Session, payload: Any = None, *_ignored: Any) -> _Answer:
            try:
                answer = await method(session, payload)
            except ConflictError as exc:
                raise refuse(ErrorCode.INVALID, str(exc)) from None
            except RateLimitedError as exc:
                raise refuse(ErrorCode.RATE_LIMITED, exc.message) from None
            except StoreError as exc:
                log.warning("%s from %s failed: %s", event, session.user.username, exc)
                raise refuse(
                    ErrorCode.UNAVAILABLE,
                    "the database is unavailable; nothing was saved, retry later",
                ) from None
            return {"ok": True, **answer}

        return self._observed(handle) if event == "message:send" else handle

    def _observed(
        self, handle: Callable[..., Awaitable[_Answer]]
    ) -> Callable[..., Awaitable[_Answer]]:
        """``handle``, telling the observer whether each message was accepted or why not."""
        observer = self._observer

        async def observed(*args: Any) -> _Answer:
            try:
                answer = await handle(*args)
            except EventError as exc:
                observer.message_refused(exc.code)
                raise
            except Exception:
                observer.message_refused("internal")
                raise
            observer.message_accepted()
            return answer

        return observed

    # -- events --------------------------------------------------------------------------

    async def _rooms_list(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomsList, payload)
        rooms, cursor = await self._chat.rooms.listing(session.user, request)
        return {"rooms": [room_json(room) for room in rooms], "nextCursor": cursor}

    async def _room_create(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomCreate, payload)
        room = await self._chat.rooms.create(
            session.user, request.name, RoomKind(request.kind), request.members
        )
        return {"room": room_json(room)}

    async def _room_join(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomRef, payload)
        room = await self._chat.rooms.join(session.user, request.roomId)
        session.kinds[room.id] = room.kind
        await self._enter(session.user, room)
        return {"room": room_json(room)}

    async def _room_leave(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomRef, payload)
        await self._chat.rooms.leave(session.user, request.roomId)
        await self._exit(session.user, request.roomId)
        return {}

    async def _dm_open(self, session: _Session, payload: Any) -> _Answer:
        request = parse(UserRef, payload)
        room = await self._chat.rooms.open_direct(session.user, request.username)
        session.kinds[room.id] = room.kind
        # A new or reopened room was entered by its announcement; this covers the
        # opener's sockets of an existing one (idempotent).
        await self._enter(session.user, room)
        return {"room": room_json(room)}

    async def _user_block(self, session: _Session, payload: Any) -> _Answer:
        request = parse(UserRef, payload)
        blocked = await self._chat.rooms.block(session.user, request.username)
        return {"user": user_json(blocked)}

    async def _user_unblock(self, session: _Session, payload: Any) -> _Answer:
        request = parse(UserRef, payload)
        unblocked = await self._chat.rooms.unblock(session.user, request.username)
        return {"user": user_json(unblocked)}

    async def _message_send(self, session: _Session, payload: Any) -> _Answer:
        request = parse(MessageSend, payload)
        self._chat.messages.validate(request)
        # Each field read once: a pydantic model's attribute reads go through its __getattr__.
        room_id = request.roomId
        new = NewMessage(room_id, session.user, request.body, request.clientId)
        pending: Awaitable[Appended]
        if (
            session.kinds.get(room_id) in _GROUP_KINDS
            and _room_key(room_id) in session.socket.rooms
            and not session.send_lock.locked()
        ):
            pending = self._chat.store.append_message(new)
        else:
            async with session.send_lock:
                await self._require_writable(session, room_id)
                pending = self._chat.store.append_message(new)
        appended = await pending
        # Every sender of this commit batch resumes in this loop turn: one write per
        # connection for all their broadcasts and acks.
        self._coalesce_writes()
        message = appended.message
        if appended.created:
            # Saved, then broadcast: everyone who sees it can also find it in history.
            self._nsp.to(_room_key(message.room_id)).emit("message:new", message_json(message))
            self._typing.stop(message.room_id, session.user)
        return {"id": message.id, "ts": message.created_at_ms}

    async def _history_fetch(self, session: _Session, payload: Any) -> _Answer:
        request = parse(HistoryFetch, payload)
        page, cursors = await self._chat.messages.history(session.user, request)
        return history_json(page, cursors)

    async def _typing_start(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomRef, payload)
        await self._require_writable(session, request.roomId)
        self._typing.start(request.roomId, session.user)
        return {}

    async def _typing_stop(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomRef, payload)
        await self._require_member(session, request.roomId)
        self._typing.stop(request.roomId, session.user)
        return {}

    async def _receipt(self, session: _Session, payload: Any, state: ReceiptState) -> _Answer:
        request = parse(Receipt, payload)
        await self._require_member(session, request.roomId)
        moved = await self._chat.receipts.record(session.user, request, state)
        self._coalesce_writes()  # receipts are group-committed too: a burst resumes here
        if not moved:
            return {}
        self._nsp.to(_room_key(request.roomId)).except_(_user_key(session.user.id)).emit(
            "receipt",
            {
                "roomId": request.roomId,
                "messageId": request.messageId,
                "user": user_json(session.user),
                "state": state.value,
            },
        )
        return {}

    async def _receipt_delivered(self, session: _Session, payload: Any) -> _Answer:
        return await self._receipt(session, payload, ReceiptState.DELIVERED)

    async def _receipt_read(self, session: _Session, payload: Any) -> _Answer:
        return await self._receipt(session, payload, ReceiptState.READ)

    async def _presence_list(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RoomRef, payload)
        if _room_key(request.roomId) not in session.socket.rooms:
            await self._chat.rooms.require_readable(session.user, request.roomId)
        try:
            users = await self._chat.presence.online(request.roomId)
        except ClusterUnavailableError:
            raise refuse(
                ErrorCode.UNAVAILABLE, "presence is unavailable right now; retry later"
            ) from None
        return {"users": [user_json(user) for user in users]}

    async def _auth_refresh(self, session: _Session, payload: Any) -> _Answer:
        request = parse(RefreshSocket, payload)
        try:
            claims = self._chat.accounts.verify(request.token)
        except TokenExpiredError:
            raise refuse(ErrorCode.TOKEN_EXPIRED, "token expired; refresh over HTTP") from None
        except AuthError:
            raise refuse(ErrorCode.INVALID_TOKEN, "invalid token") from None
        if claims.user.id != session.user.id:
            raise refuse(ErrorCode.FORBIDDEN, "the token belongs to another user")
        self._expiries.discard(session, session.expires_at_ms)
        session.expires_at_ms = claims.expires_at_ms
        self._expiries.add(session)
        return {"expiresAt": claims.expires_at_ms}


def chat_error_ack(code: str, message: str) -> _Answer:
    """The chat's error acks: ``{"ok": false, "error": {"code", "message"}}``.

    The same envelope as every successful answer's ``{"ok": true, ...}``, so the web
    client checks ``ok`` alone; it holds for the answers the Socket.IO layer gives in a
    handler's place too (``unknown_event``, ``rate_limited``, ``internal``).
    """
    return {"ok": False, "error": {"code": code, "message": message}}


def register_chat(
    server: Server, chat: ChatService, observer: ChatObserver = NO_CHAT_OBSERVER
) -> None:
    """Serve the chat protocol on ``/chat`` of ``server``, backed by ``chat``.

    ``observer`` is told of every ``message:send`` accepted or refused (metrics).
    """
    nsp = server.of(CHAT_NAMESPACE)
    nsp.error_ack = chat_error_ack
    handlers = _ChatNamespace(server, nsp, chat, observer)
    nsp.use(handlers.authenticate)
    nsp.on("connection", handlers.connected)
