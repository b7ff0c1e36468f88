"""The admin namespace's basic auth: a bcrypt hash, then session ids (as admin-ui's).

The UI logs in with ``auth: {username, password}``; the server answers with a
``session`` event carrying a fresh id, which the UI keeps and sends back as
``auth: {sessionId}`` on its next visits (a page reload logs in again without the
dialog). Anything else is refused with the exact
CONNECT_ERROR message ``invalid credentials``: the UI matches it to reopen its login
dialog.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Final

import bcrypt

from baatcheet._types import SocketId
from baatcheet.errors import ConfigurationError, ConnectRejected
from baatcheet.sio.socket import Socket

__all__ = ["INVALID_CREDENTIALS", "SESSION_TTL_S", "AdminAuth", "SessionStore"]

INVALID_CREDENTIALS: Final = "invalid credentials"
"""The CONNECT_ERROR message the UI waits for (any other reads as a network error)."""
SESSION_TTL_S: Final = 86_400.0
"""How long a session id stays valid (admin-ui's Redis store uses the same day)."""


class SessionStore:
    """Session ids issued by this node, each valid for ``ttl`` seconds.

    In memory, as admin-ui's default ``InMemoryStore``: behind a balancer without
    sticky sessions a UI whose session id is unknown to a node simply logs in again.
    """

    def __init__(self, ttl: float = SESSION_TTL_S) -> None:
        self._ttl = ttl
        self._expiry: dict[str, float] = {}

    def create(self) -> str:
        """A new 16-hex-character session id, valid from now."""
        now = time.monotonic()
        self._expiry = {sid: until for sid, until in self._expiry.items() if until > now}
        session_id = secrets.token_hex(8)
        self._expiry[session_id] = now + self._ttl
        return session_id

    def __contains__(self, session_id: object) -> bool:
        until = self._expiry.get(session_id) if isinstance(session_id, str) else None
        return until is not None and until > time.monotonic()


class AdminAuth:
    """Namespace middleware checking a username and a bcrypt-hashed password.

    Args:
        username: The login name.
        password_hash: A ``$2a$``/``$2b$`` bcrypt hash of the password.
        sessions: Where issued session ids are kept.

    Raises:
        ConfigurationError: ``password_hash`` is not a bcrypt hash (checked at start-up,
            as admin-ui does, rather than on the first login).
    """

    def __init__(self, username: str, password_hash: str, sessions: SessionStore) -> None:
        if not password_hash.startswith(("$2a$", "$2b$")) or len(password_hash) != 60:
            raise ConfigurationError(
                "admin_ui is on but admin_password_hash is not a bcrypt hash ($2a$ or $2b$,"
                " 60 characters): see docs/how-to/admin-ui.md"
            )
        self._username = username
        self._hash = password_hash.encode()
        self._sessions = sessions
        self._issued: dict[SocketId, str] = {}

    def issued(self, socket: Socket) -> str | None:
        """The session id created when ``socket`` logged in with a password, once."""
        return self._issued.pop(socket.id, None)

    def check(self, auth: dict[str, Any]) -> bool:
        """True when ``auth`` carries the right username and password.

        Costs a bcrypt verification (tens of milliseconds): call it off the event loop.
        """
        username, password = auth.get("username"), auth.get("password")
        if username != self._username or not isinstance(password, str):
            return False
        # bcrypt reads at most 72 bytes; longer passwords are cut as bcryptjs cuts them.
        return bcrypt.checkpw(password.encode()[:72], self._hash)

    async def __call__(self, socket: Socket) -> None:
        """Admit a known session id or the right credentials; refuse anything else."""
        auth = socket.handshake.auth
        if auth.get("sessionId") in self._sessions:
            return
        if await asyncio.to_thread(self.check, auth):
            # admin-ui's middleware emits ``session`` before CONNECT; the client then
            # delivers it before its ``connect`` event, where the UI only starts listening,
            # so the id is lost. It is sent right after CONNECT instead (see ``issued``).
            self._issued[socket.id] = self._sessions.create()
            return
        raise ConnectRejected(INVALID_CREDENTIALS)
