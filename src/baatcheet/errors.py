"""Every exception Baatcheet raises on purpose, under one root.

::

    BaatcheetError
    ├── ProtocolError              a peer sent bytes that are not valid Engine.IO / Socket.IO
    │   ├── PayloadTooLargeError   a message or POST body is over max_payload_bytes
    │   └── ClusterMessageError    another node (or an emitter) published a malformed message
    ├── ConnectRejected            middleware refused a namespace connection (→ connect_error)
    ├── AckTimeoutError            the peer did not answer an acknowledgement in time
    ├── SocketClosedError          emit or join on a socket that is already disconnected
    ├── EventError                 a handler refuses an event; its message becomes the error ack
    ├── AuthError                  bad credentials or token (→ 401 / connect_error)
    │   ├── TokenExpiredError      the token was valid but its time is up
    │   ├── RefreshReuseError      a spent refresh token came back: its whole login is revoked
    │   └── AccountDisabledError   an operator disabled the account (baatcheet user disable)
    ├── RateLimitedError           too many attempts from one address or on one account (→ 429)
    ├── OverloadedError            too much work already queued; retry shortly (→ 503)
    ├── ClusterUnavailableError    the cluster (Redis) cannot be reached or did not answer in time
    ├── StoreError                 the database failed; nothing was written
    │   └── ConflictError          a unique value (username, …) is taken
    └── ConfigurationError         settings that cannot work together

Programmer misuse (a wrong type, an impossible argument) raises ``TypeError`` or
``ValueError`` instead: those are bugs to fix, not conditions to handle.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountDisabledError",
    "AckTimeoutError",
    "AuthError",
    "BaatcheetError",
    "ClusterMessageError",
    "ClusterUnavailableError",
    "ConfigurationError",
    "ConflictError",
    "ConnectRejected",
    "EventError",
    "OverloadedError",
    "PayloadTooLargeError",
    "ProtocolError",
    "RateLimitedError",
    "RefreshReuseError",
    "SocketClosedError",
    "StoreError",
    "TokenExpiredError",
]


class BaatcheetError(Exception):
    """Root of every error Baatcheet raises deliberately."""


class ProtocolError(BaatcheetError):
    """The peer sent something that is not valid Engine.IO v4 / Socket.IO v5."""


class PayloadTooLargeError(ProtocolError):
    """A message or request body is larger than the configured maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload of {size} bytes exceeds max_payload_bytes={limit}")
        self.size = size
        self.limit = limit


class ClusterMessageError(ProtocolError):
    """A message read from the cluster broker is not one the adapter understands.

    The adapter logs it and drops it; it never ends the listener. Usually a node of another
    adapter flavour (sharded or streams) shares the Redis prefix, or a version mismatch.
    """


class ConnectRejected(BaatcheetError):  # noqa: N818 - it names the outcome a client sees
    """Raised by namespace middleware to refuse a connection.

    The client receives ``connect_error`` with ``err.message`` set to ``message`` and
    ``err.data`` set to ``data``.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class AckTimeoutError(BaatcheetError):
    """The peer did not acknowledge within the timeout."""

    def __init__(self, event: str, timeout: float, partial: list[Any] | None = None) -> None:
        super().__init__(f"no acknowledgement for {event!r} within {timeout:g}s")
        self.event = event
        self.timeout = timeout
        self.partial: list[Any] = partial or []
        """Answers that did arrive in time (broadcasts to many clients)."""


class SocketClosedError(BaatcheetError):
    """The socket is disconnected; nothing was sent."""


class EventError(BaatcheetError):
    """Raised by an event handler to answer the client's ack with an error.

    The ack carries what the namespace's ``error_ack(code, message)`` builds: by default
    ``{"error": code, "message": message}``; on ``/chat``,
    ``{"ok": false, "error": {"code": code, "message": message}}``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuthError(BaatcheetError):
    """Credentials or token rejected."""


class TokenExpiredError(AuthError):
    """The token was genuine but has expired: refresh it or log in again."""


class RefreshReuseError(AuthError):
    """A refresh token was presented again after its reuse window (RFC 9700 §4.14.2).

    Either a thief or the rightful client holds a copy it should not: the server cannot
    tell which, so every refresh token of that login was revoked. Log in again.
    """


class AccountDisabledError(AuthError):
    """An operator disabled the account: no login, refresh or new connection until they
    enable it again (``baatcheet user enable``)."""


class RateLimitedError(BaatcheetError):
    """Too many attempts; nothing was done. Retry after ``retry_after_s`` seconds.

    ``scope`` names the limit that was hit (``"address"``, ``"username"``, …).
    """

    def __init__(self, scope: str, retry_after_s: float, message: str) -> None:
        super().__init__(message)
        self.scope = scope
        self.retry_after_s = retry_after_s
        self.message = message


class OverloadedError(BaatcheetError):
    """The server has more of this work queued than it will take; nothing was done.

    Not the client's fault (unlike :class:`RateLimitedError`): retry after
    ``retry_after_s`` seconds.
    """

    def __init__(self, retry_after_s: float, message: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.message = message


class StoreError(BaatcheetError):
    """The database failed; the operation was rolled back and nothing was written."""


class ConflictError(StoreError):
    """A value that must be unique is already taken."""


class ClusterUnavailableError(BaatcheetError):
    """A cluster-wide operation could not be completed: the broker is down or nodes did not answer.

    Local delivery keeps working; only operations that need the other nodes fail, at once
    or after their timeout, never by hanging.
    """


class ConfigurationError(BaatcheetError):
    """Settings that cannot work together, with the option to change named."""
