"""The one exception the client adds to ``baatcheet.errors``: a connection that never opened.

Everything else a client user handles already lives in :mod:`baatcheet.errors`:

* :class:`~baatcheet.errors.ConnectRejected` — the server refused a namespace
  (``connect_error``); ``message`` and ``data`` are what its middleware gave.
* :class:`~baatcheet.errors.AckTimeoutError` — ``emit_with_ack`` got no answer in time.
* :class:`~baatcheet.errors.SocketClosedError` — the socket disconnected before the answer.
"""

from __future__ import annotations

from baatcheet.errors import BaatcheetError

__all__ = ["ConnectionFailedError"]


class ConnectionFailedError(BaatcheetError):
    """The client could not open (or keep opening) a connection to the server.

    The server was unreachable, refused the Engine.IO handshake (``status`` holds the HTTP
    status then), answered with something that is not Engine.IO, or did not finish in
    time. Unlike :class:`~baatcheet.errors.ConnectRejected` this is worth retrying.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
