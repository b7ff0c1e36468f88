"""Schemas of what clients send, and the one place that turns bad input into ``invalid``.

Fields use the wire's camelCase names. Models are strict (a string is not an int) and
ignore unknown keys so older servers accept newer clients.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from baatcheet.chat.codes import ErrorCode, refuse

__all__ = [
    "Credentials",
    "DmOpen",
    "HistoryFetch",
    "MessageSend",
    "Receipt",
    "RefreshSocket",
    "RefreshToken",
    "RoomCreate",
    "RoomRef",
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


class DmOpen(_Payload):
    """``dm:open``."""

    username: Username


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


def parse(model: type[M], payload: Any) -> M:
    """Validate ``payload`` against ``model``, or raise ``EventError(invalid)``.

    The error message names the first offending field so a client can fix it.
    """
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise refuse(ErrorCode.INVALID, f"payload must be an object, not {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise refuse(ErrorCode.INVALID, f"{where}: {first['msg']}") from None
