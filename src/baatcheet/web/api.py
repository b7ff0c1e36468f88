"""The JSON HTTP API under ``/api`` (docs/reference/chat-events.md, REST).

Every failure answers ``{"error": {"code", "message"}}`` with a precise status: 400 for a
body that is not JSON, 413 over the 1 MB body limit, 422 for a schema mismatch, 401 for
credentials or tokens, 403/404 for rooms, 409 for a taken username, 503 when the
database is down. Nothing here raises past the handler, so one bad request never
affects another.

Sign-in routes are throttled (:mod:`baatcheet.chat.accounts`): 429 ``rate_limited`` when
the client's address or the username has used its attempts, 503 ``overloaded`` when too
many password hashes are queued; both carry ``Retry-After`` (whole seconds, RFC 9110
§10.2.3). The address is the TCP peer's: behind a reverse proxy every client shares it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from baatcheet.chat.accounts import Session
from baatcheet.chat.codes import ErrorCode, refuse
from baatcheet.chat.payloads import (
    Credentials,
    HistoryFetch,
    RefreshToken,
    RoomCreate,
    RoomsList,
    parse,
)
from baatcheet.chat.service import ChatService
from baatcheet.chat.shapes import history_json, room_json, user_json
from baatcheet.errors import (
    AccountDisabledError,
    AuthError,
    ConflictError,
    EventError,
    OverloadedError,
    RateLimitedError,
    StoreError,
    TokenExpiredError,
)
from baatcheet.store import RoomKind, User

__all__ = ["MAX_BODY_BYTES", "api_routes"]

MAX_BODY_BYTES = 1_000_000
"""Largest JSON request body accepted (1 MB)."""

_STATUS: dict[str, int] = {
    ErrorCode.INVALID: 422,
    ErrorCode.TOO_LONG: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
}

Endpoint = Callable[[Request], Awaitable[Response]]


class _HttpError(Exception):
    """An answer other than success, raised from anywhere inside an endpoint."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return _json({"error": {"code": code, "message": message}}, status, headers)


def _retry_after(seconds: float) -> dict[str, str]:
    """The ``Retry-After`` header: whole seconds, rounded up, at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _endpoint(handler: Endpoint) -> Endpoint:
    """Turn every expected failure into its JSON error answer."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except _HttpError as exc:
            return _error(exc.status, exc.code, exc.message)
        except EventError as exc:
            return _error(_STATUS.get(exc.code, 400), exc.code, exc.message)
        except TokenExpiredError:
            return _error(401, "token_expired", "token expired; refresh it")
        except AccountDisabledError as exc:
            return _error(403, "account_disabled", str(exc))
        except AuthError as exc:
            return _error(401, "unauthorized", str(exc))
        except ConflictError as exc:
            return _error(409, "conflict", str(exc))
        except RateLimitedError as exc:
            return _error(429, "rate_limited", exc.message, _retry_after(exc.retry_after_s))
        except OverloadedError as exc:
            return _error(503, "overloaded", exc.message, _retry_after(exc.retry_after_s))
        except StoreError:
            return _error(
                503, "unavailable", "the database is unavailable; nothing was saved, retry later"
            )

    return guarded


async def _body(request: Request) -> Any:
    """Read at most ``MAX_BODY_BYTES`` and parse it as JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _HttpError(413, "too_large", f"request body is over {MAX_BODY_BYTES} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY_BYTES:
            raise _HttpError(413, "too_large", f"request body is over {MAX_BODY_BYTES} bytes")
    try:
        return orjson.loads(chunks)
    except orjson.JSONDecodeError as exc:
        raise _HttpError(400, "invalid", f"request body is not valid JSON: {exc}") from None


def _address(request: Request) -> str:
    """The client's address for the sign-in throttles: the TCP peer, never a header a
    client could forge ("unknown" when the server has none, as over a Unix socket)."""
    return request.client.host if request.client else "unknown"


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "user": user_json(session.user),
        "accessToken": session.access_token,
        "refreshToken": session.refresh_token,
        "expiresAt": session.expires_at_ms,
    }


def api_routes(chat: ChatService) -> list[BaseRoute]:
    """The REST routes, bound to ``chat`` (health is the listener's: ``/healthz``, ``/readyz``)."""

    async def bearer(request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _HttpError(401, "unauthorized", "send 'Authorization: Bearer <accessToken>'")
        try:
            return (await chat.accounts.authenticate(token.strip())).user
        except TokenExpiredError:
            raise _HttpError(401, "token_expired", "token expired; refresh it") from None
        except AccountDisabledError as exc:
            raise _HttpError(403, "account_disabled", str(exc)) from None
        except AuthError:
            raise _HttpError(401, "invalid_token", "invalid token; log in again") from None

    async def register(request: Request) -> Response:
        form = parse(Credentials, await _body(request))
        session = await chat.accounts.register(
            form.username, form.password, address=_address(request)
        )
        return _json(_session_json(session), 201)

    async def login(request: Request) -> Response:
        form = parse(Credentials, await _body(request))
        session = await chat.accounts.login(form.username, form.password, address=_address(request))
        return _json(_session_json(session))

    async def refresh(request: Request) -> Response:
        form = parse(RefreshToken, await _body(request))
        session = await chat.accounts.refresh(form.refreshToken, address=_address(request))
        answer = _session_json(session)
        del answer["user"]
        return _json(answer)

    async def me(request: Request) -> Response:
        claimed = await bearer(request)
        user = await chat.store.get_user(claimed.id)
        if user is None:
            raise _HttpError(401, "invalid_token", "the token's user no longer exists")
        return _json({"user": user_json(user)})

    async def list_rooms(request: Request) -> Response:
        user = await bearer(request)
        query: dict[str, Any] = {}
        for name in ("scope", "query", "cursor"):
            if name in request.query_params:
                query[name] = request.query_params[name]
        if limit := request.query_params.get("limit"):
            query["limit"] = _query_int(limit, "limit")
        rooms, cursor = await chat.rooms.listing(user, parse(RoomsList, query))
        return _json({"rooms": [room_json(room) for room in rooms], "nextCursor": cursor})

    async def create_room(request: Request) -> Response:
        user = await bearer(request)
        form = parse(RoomCreate, await _body(request))
        room = await chat.rooms.create(user, form.name, RoomKind(form.kind), form.members)
        return _json({"room": room_json(room)}, 201)

    async def history(request: Request) -> Response:
        user = await bearer(request)
        query: dict[str, Any] = {"roomId": _query_int(request.path_params["room_id"], "id")}
        for name in ("before", "limit"):
            value = request.query_params.get(name)
            if value:
                query[name] = _query_int(value, name)
        fetch = parse(HistoryFetch, query)
        page, cursors = await chat.messages.history(user, fetch)
        return _json(history_json(page, cursors))

    return [
        Route("/api/auth/register", _endpoint(register), methods=["POST"]),
        Route("/api/auth/login", _endpoint(login), methods=["POST"]),
        Route("/api/auth/refresh", _endpoint(refresh), methods=["POST"]),
        Route("/api/me", _endpoint(me), methods=["GET"]),
        Route("/api/rooms", _endpoint(list_rooms), methods=["GET"]),
        Route("/api/rooms", _endpoint(create_room), methods=["POST"]),
        Route("/api/rooms/{room_id}/messages", _endpoint(history), methods=["GET"]),
    ]


def _query_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise refuse(ErrorCode.INVALID, f"{name}: {value!r} is not an integer") from None
