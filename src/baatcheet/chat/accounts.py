"""Accounts: argon2 password hashes, JWT access tokens, rotating refresh tokens, throttles.

Access tokens are short-lived HS256 JWTs (``Settings.access_token_ttl_s``) checked without
touching the database, so the socket handshake stays cheap. Refresh tokens are opaque
random strings; only their SHA-256 is stored, and each can be used once (rotation), so a
stolen refresh token stops working as soon as its owner refreshes. Tokens descended from
one login form a family: a spent token that comes back after the reuse window means two
parties hold the chain, and the whole family is revoked (RFC 9700 §4.14.2).

Every sign-in attempt is throttled before it costs anything (see :mod:`.throttle`):

* per client address — ``auth_attempts_per_minute_per_address`` logins, registrations and
  refreshes together (IPv6 clients by their /64, which one subscriber usually holds whole);
* per username — ``auth_failures_per_hour_per_username`` *failed* logins, whoever sends
  them, since a guesser can change addresses but not the account it wants. A success does
  not reset the count: it is a bucket that refills by itself (one failure back every
  ``3600 / N`` s), and a reset would hand a guesser a fresh allowance every time the
  owner logs in. The lock is temporary (429 + ``Retry-After``), never a disabled account,
  and it stops logins only: refresh tokens keep the owner's open sessions alive, so an
  attacker who keeps an account throttled blocks new logins, not the owner's use of it;
* and the hashing itself — see :mod:`.passwords`.

An operator can disable an account (``baatcheet user disable``, :meth:`Accounts.set_disabled`).
A disabled account cannot log in (even with the right password), refresh (disabling
revokes its refresh tokens, and the store refuses any it missed), or open a connection or
call the REST API with an access token issued before: :meth:`Accounts.authenticate`, which
the ``/chat`` middleware and the REST routes use, looks the account up — one primary-key
read per connection or request, the price of a stateless token that can still be
withdrawn. A connection already open when the account is disabled ends when its access
token expires (``access_token_ttl_s``), since it can no longer be renewed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher

from baatcheet.chat.passwords import Passwords
from baatcheet.chat.throttle import RateLimiter
from baatcheet.errors import (
    AccountDisabledError,
    AuthError,
    RateLimitedError,
    RefreshReuseError,
    TokenExpiredError,
)
from baatcheet.settings import Settings
from baatcheet.store import RefreshOutcome, Store, User

__all__ = ["MAX_THROTTLED_KEYS", "AccessClaims", "Accounts", "Session", "address_key"]

MAX_THROTTLED_KEYS = 10_000
"""Addresses, and usernames, each throttle table remembers at most (≈ 2.5 MB per table)."""

_ALGORITHM = "HS256"
_SECRET_NAME = "jwt"
# A real hash to verify against when the username is unknown, so a login takes the same
# time whether or not the account exists.
_DUMMY_PASSWORD = "not-a-real-password"
_SUCCESSOR_LABEL = b"baatcheet refresh-token successor v1"
_DISABLED = "this account is disabled; ask the server's operator"

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


def address_key(address: str) -> str:
    """The key a client address is throttled under: IPv4 as is, IPv6 by its /64.

    One IPv6 subscriber is usually handed a whole /64, so keying by full address would
    give one attacker 2**64 allowances. An IPv4-mapped IPv6 address counts as its IPv4
    address; anything that is not an IP address (a Unix socket's name) is used verbatim.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _seconds(wait_s: float) -> int:
    """A wait as the whole seconds a client should hold off (``Retry-After``), at least 1."""
    return max(1, math.ceil(wait_s))


class Accounts:
    """Register, log in, refresh, and verify access tokens; operators' account changes.

    Build with :meth:`open`, which settles the signing secret.

    Args:
        store: where users and refresh tokens live.
        settings: token lifetimes and the limits described in the module docstring.
        secret: the JWT signing secret (never empty).
        clock: monotonic seconds for the throttles; tests pass their own.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        self._store = store
        self._settings = settings
        self._secret = secret
        self._successor_key = hmac.digest(secret.encode(), _SUCCESSOR_LABEL, hashlib.sha256)
        self._clock = clock
        self.passwords = Passwords(settings.password_hash_concurrency)
        """The bounded argon2 pool every hash and check goes through."""
        self._dummy_hash = PasswordHasher().hash(_DUMMY_PASSWORD)
        self._addresses: RateLimiter[str] = RateLimiter(
            settings.auth_attempts_per_minute_per_address, 60, max_keys=MAX_THROTTLED_KEYS
        )
        self._failures: RateLimiter[str] = RateLimiter(
            settings.auth_failures_per_hour_per_username, 3600, max_keys=MAX_THROTTLED_KEYS
        )

    @classmethod
    async def open(cls, store: Store, settings: Settings) -> Accounts:
        """Use ``settings.jwt_secret``, or the deployment's stored one if that is empty."""
        secret = settings.jwt_secret or await store.instance_secret(_SECRET_NAME)
        return cls(store, settings, secret)

    async def register(
        self, username: str, password: str, *, address: str | None = None
    ) -> Session:
        """Create the account and log it in.

        ``address`` is the client's network address, for the per-address throttle;
        ``None`` (an in-process caller, not a network client) is not throttled.

        Raises:
            RateLimitedError: too many attempts from ``address``; nothing was done.
            OverloadedError: too many password hashes queued; nothing was done.
            ConflictError: the name is taken.
        """
        self._admit(address)
        password_hash = await self.passwords.hash(password)
        user = await self._store.create_user(username, password_hash)
        return await self._session(user)

    async def login(self, username: str, password: str, *, address: str | None = None) -> Session:
        """Check the password.

        Raises:
            RateLimitedError: too many attempts from ``address``, or too many failed
                logins for ``username`` (existing or not, so the answer reveals nothing);
                the password was not checked.
            OverloadedError: too many password checks queued; nothing was checked.
            AuthError: wrong username or password, one message for both.
            AccountDisabledError: the password was right but the account is disabled
                (said only to someone who knows the password).
        """
        self._admit(address)
        # Count the attempt as a failure *before* checking, and give it back on success
        # (or if the check never happened): concurrent guesses then cannot all slip
        # through a check made before any of them had failed.
        if wait := self._failures.take(username, self._clock()):
            raise RateLimitedError(
                "username",
                wait,
                f"too many failed logins for this username; retry in {_seconds(wait)} s",
            )
        judged = False
        try:
            credentials = await self._store.get_credentials(username)
            stored = credentials.password_hash if credentials else self._dummy_hash
            # The unknown-user path checks against a dummy hash, so a login takes the
            # same time whether or not the account exists.
            matched = await self.passwords.verify(stored, password)
            judged = True
        finally:
            if not judged:  # the database or the hash pool failed: no guess was judged
                self._failures.refund(username, self._clock())
        if credentials is None or not matched:
            raise AuthError("wrong username or password")
        self._failures.refund(username, self._clock())
        if credentials.disabled:
            raise AccountDisabledError(_DISABLED)
        return await self._session(credentials.user)

    async def refresh(self, refresh_token: str, *, address: str | None = None) -> Session:
        """Swap a refresh token for its successor and a new access token.

        The successor is :meth:`_successor` of the token, so presenting the same token
        again within ``refresh_token_reuse_s`` (a page reloaded while its refresh was in
        flight never stored the answer) yields the same successor, not a second chain.

        Raises:
            RateLimitedError: too many attempts from ``address``; nothing was done.
            RefreshReuseError: the token was spent longer ago than the reuse window; its
                whole family (this login's every refresh token) is now revoked.
            AuthError: the token is unknown, expired, of a revoked family, or of a
                disabled account.
        """
        self._admit(address)
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

    async def authenticate(self, token: object) -> AccessClaims:
        """:meth:`verify`, and check that the account is not disabled (one store read).

        Raises:
            TokenExpiredError: genuine but expired.
            AccountDisabledError: genuine, but an operator disabled the account.
            AuthError: anything else wrong with the token.
            StoreError: the database cannot say; nothing was decided.
        """
        claims = self.verify(token)
        if await self._store.is_disabled(claims.user.id):
            raise AccountDisabledError(_DISABLED)
        return claims

    # Operators (baatcheet user ...): no throttles, no sessions. -----------------------

    async def create_user(self, username: str, password: str) -> User:
        """Create an account without logging it in.

        Raises:
            ConflictError: the name is taken.
        """
        return await self._store.create_user(username, await self.passwords.hash(password))

    async def set_password(self, username: str, password: str) -> User | None:
        """Give the account a new password and sign out its every login (refresh tokens
        revoked; access tokens run out within ``access_token_ttl_s``).

        Returns the user, or ``None`` if there is no such account.
        """
        return await self._store.set_password(username, await self.passwords.hash(password))

    async def set_disabled(self, username: str, disabled: bool) -> User | None:
        """Disable the account (and revoke its refresh tokens), or enable it again.

        Returns the user, or ``None`` if there is no such account.
        """
        return await self._store.set_disabled(username, disabled)

    def _admit(self, address: str | None) -> None:
        """Spend one of ``address``'s sign-in attempts, or raise ``RateLimitedError``."""
        if address is None:
            return
        if wait := self._addresses.take(address_key(address), self._clock()):
            raise RateLimitedError(
                "address",
                wait,
                f"too many sign-in attempts from this address; retry in {_seconds(wait)} s",
            )

    async def _session(self, user: User) -> Session:
        refresh = secrets.token_urlsafe(32)
        await self._store.add_refresh_token(
            _hash_refresh(refresh), user.id, _now_ms() + self._settings.refresh_token_ttl_s * 1000
        )
        access, expires = self.issue_access(user)
        return Session(user, access, refresh, expires)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
