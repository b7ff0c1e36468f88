"""Accounts: argon2 password hashes, JWT access tokens, rotating refresh tokens.

Access tokens are short-lived HS256 JWTs (``Settings.access_token_ttl_s``) checked without
touching the database, so the socket handshake stays cheap. Refresh tokens are opaque
random strings; only their SHA-256 is stored, and each can be used once (rotation), so a
stolen refresh token stops working as soon as its owner refreshes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from baatcheet.errors import AuthError, RefreshReuseError, TokenExpiredError
from baatcheet.settings import Settings
from baatcheet.store import RefreshOutcome, Store, User

__all__ = ["AccessClaims", "Accounts", "Session"]

_ALGORITHM = "HS256"
_SECRET_NAME = "jwt"
# A real hash to verify against when the username is unknown, so a login takes the same
# time whether or not the account exists.
_DUMMY_PASSWORD = "not-a-real-password"
_SUCCESSOR_LABEL = b"baatcheet refresh-token successor v1"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    user: User
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Session:
    """Tokens handed to a client after register, login or refresh."""

    user: User
    access_token: str
    refresh_token: str
    expires_at_ms: int


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Register, log in, refresh, and verify access tokens.

    Build with :meth:`open`, which settles the signing secret.
    """

    def __init__(self, store: Store, settings: Settings, secret: str) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        self._store = store
        self._settings = settings
        self._secret = secret
        self._successor_key = hmac.digest(secret.encode(), _SUCCESSOR_LABEL, hashlib.sha256)
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(_DUMMY_PASSWORD)

    @classmethod
    async def open(cls, store: Store, settings: Settings) -> Accounts:
        """Use ``settings.jwt_secret``, or the deployment's stored one if that is empty."""
        secret = settings.jwt_secret or await store.instance_secret(_SECRET_NAME)
        return cls(store, settings, secret)

    async def register(self, username: str, password: str) -> Session:
        """Create the account and log it in. Raises ``ConflictError`` if the name is taken."""
        # argon2 is deliberately slow (tens of ms): keep it off the event loop.
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = await self._store.create_user(username, password_hash)
        return await self._session(user)

    async def login(self, username: str, password: str) -> Session:
        """Check the password. Raises ``AuthError`` with one message for every failure."""
        credentials = await self._store.get_credentials(username)
        stored = credentials.password_hash if credentials else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            credentials = None
        if credentials is None:
            raise AuthError("wrong username or password")
        return await self._session(credentials.user)

    async def refresh(self, refresh_token: str) -> Session:
        """Swap a refresh token for its successor and a new access token.

        The successor is :meth:`_successor` of the token, so presenting the same token
        again within ``refresh_token_reuse_s`` (a page reloaded while its refresh was in
        flight never stored the answer) yields the same successor, not a second chain.

        Raises:
            RefreshReuseError: the token was spent longer ago than the reuse window; its
                whole family (this login's every refresh token) is now revoked.
            AuthError: the token is unknown, expired, or of a revoked family.
        """
        successor = self._successor(refresh_token)
        now = _now_ms()
        rotation = await self._store.rotate_refresh_token(
            _hash_refresh(refresh_token),
            _hash_refresh(successor),
            now + self._settings.refresh_token_ttl_s * 1000,
            now,
            reuse_ms=round(self._settings.refresh_token_reuse_s * 1000),
        )
        if rotation.outcome is RefreshOutcome.REUSED:
            _log.warning(
                "refresh token of user %s replayed after its reuse window: login revoked",
                rotation.user.id if rotation.user else "?",
            )
            raise RefreshReuseError(
                "this refresh token was already used, so every session of this login was"
                " signed out; log in again"
            )
        if rotation.user is None:
            raise AuthError("refresh token is unknown, used or expired; log in again")
        access, expires = self.issue_access(rotation.user)
        return Session(rotation.user, access, successor, expires)

    def _successor(self, refresh_token: str) -> str:
        """The one token ``refresh_token`` rotates to: HMAC-SHA256 under a server key.

        Why derived rather than random: a replay inside the reuse window must get the
        *same* successor back, and the store keeps only SHA-256 hashes, from which no
        token can be recovered. The alternative, keeping the successor's raw value
        until the window ends, would put a usable credential in the database (and in
        its backups) and need a sweeper to erase it. Derivation stores nothing secret:
        computing a successor needs both the token and the server's key, and whoever
        holds that key can sign access tokens anyway. The key is derived from the JWT
        secret with its own label, so the two uses never share a key.
        """
        digest = hmac.new(self._successor_key, refresh_token.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

    def issue_access(self, user: User) -> tuple[str, int]:
        """Sign an access token; returns it with its expiry in epoch ms."""
        issued = int(time.time())
        expires = issued + self._settings.access_token_ttl_s
        claims = {"sub": str(user.id), "name": user.username, "iat": issued, "exp": expires}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), expires * 1000

    def verify(self, token: object) -> AccessClaims:
        """Check signature and expiry.

        Raises:
            TokenExpiredError: genuine but expired ("token expired": refresh, reconnect).
            AuthError: anything else ("invalid token": log in again).
        """
        if not isinstance(token, str) or not token:
            raise AuthError("invalid token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "name", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError("token expired") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid token") from None
        try:
            user = User(int(claims["sub"]), str(claims["name"]))
        except (TypeError, ValueError):
            raise AuthError("invalid token") from None
        return AccessClaims(user, int(claims["exp"]) * 1000)

    async def _session(self, user: User) -> Session:
        refresh = secrets.token_urlsafe(32)
        await self._store.add_refresh_token(
            _hash_refresh(refresh), user.id, _now_ms() + self._settings.refresh_token_ttl_s * 1000
        )
        access, expires = self.issue_access(user)
        return Session(user, access, refresh, expires)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
