"""Schemas of what clients send, and the one place that turns bad input into ``invalid``.

Fields use the wire's camelCase names. Models are strict (a string is not an int) and
ignore unknown keys so older servers accept newer clients.

Every string is cleaned before validation (:func:`clean_text`): a lone UTF-16 surrogate
(JavaScript strings may hold one, and the Socket.IO decoder keeps it as Node's
``JSON.parse`` does) and the NUL character (which PostgreSQL cannot store in text) become
U+FFFD. Nothing past this boundary sees either, so no database driver or JSON encoder can
trip over a message body, a room name or a client id — and since messages are written in
batches, one such body would otherwise fail everyone else's messages of its batch too.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from baatcheet.chat.codes import ErrorCode, refuse

__all__ = [
    "Credentials",
    "HistoryFetch",
    "MessageSend",
    "Receipt",
    "RefreshSocket",
    "RefreshToken",
    "RoomCreate",
    "RoomRef",
    "RoomsList",
    "UserRef",
    "clean_text",
    "parse",
]

Id = Annotated[int, Field(strict=True, ge=1, le=2**62)]
Username = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{3,32}$")]


class _Payload(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Credentials(_Payload):
    """``POST /api/auth/register`` and ``/login``."""

    username: Username
    password: Annotated[str, StringConstraints(min_length=8, max_length=256)]


class RefreshToken(_Payload):
    """``POST /api/auth/refresh``."""

    refreshToken: Annotated[str, StringConstraints(min_length=1, max_length=200)]  # noqa: N815


class RefreshSocket(_Payload):
    """``auth:refresh``: a new access token for an open socket."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class RoomCreate(_Payload):
    """``room:create`` and ``POST /api/rooms``."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    kind: Literal["public", "private"]
    members: Annotated[list[Username], Field(max_length=1000)] = []


class RoomRef(_Payload):
    """``room:join``, ``room:leave``, ``typing:*``, ``presence:list``."""

    roomId: Id  # noqa: N815


class UserRef(_Payload):
    """``dm:open``, ``user:block``, ``user:unblock``."""

    username: Username


class RoomsList(_Payload):
    """``rooms:list`` and ``GET /api/rooms``: one page of my rooms or of the public ones.

    ``cursor`` continues the listing that returned it (same ``scope`` and ``query``);
    ``limit`` above ``Settings.rooms_page_size`` is lowered to it.
    """

    scope: Literal["joined", "public"] = "joined"
    query: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    limit: Annotated[int, Field(strict=True, ge=1, le=500)] | None = None


class MessageSend(_Payload):
    """``message:send``; the body's length is checked against settings separately."""

    roomId: Id  # noqa: N815
    body: str
    clientId: Annotated[str, StringConstraints(min_length=1, max_length=64)]  # noqa: N815


class HistoryFetch(_Payload):
    """``history:fetch`` and the REST history query."""

    roomId: Id  # noqa: N815
    before: Id | None = None
    limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 50


class Receipt(_Payload):
    """``receipt:delivered`` / ``receipt:read``."""

    roomId: Id  # noqa: N815
    messageId: Id  # noqa: N815


M = TypeVar("M", bound=_Payload)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate and each NUL replaced by U+FFFD.

    A high and a low surrogate side by side (two ``\\u`` escapes) are one character
    cut in two; they become that character again.
    """
    if text.isascii():  # O(1) in CPython, and most text is ASCII
        if "\x00" not in text:
            return text
    elif _UNSTORABLE.search(text) is None:
        return text
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _cleaned(value: Any) -> Any:
    """``value`` with :func:`clean_text` applied to every string in it (keys too)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_cleaned(key): _cleaned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    return value


def parse(model: type[M], payload: Any) -> M:
    """Validate ``payload`` against ``model``, or raise ``EventError(invalid)``.

    Strings are cleaned first (see the module docstring). The error
    message names the first offending field so a client can fix it.
    """
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise refuse(ErrorCode.INVALID, f"payload must be an object, not {type(payload).__name__}")
    try:
        return model.model_validate(_cleaned(payload))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise refuse(ErrorCode.INVALID, f"{where}: {first['msg']}") from None
