"""One typed settings object for the whole server.

Every option is declared here once, with its default and its help text. The CLI
(`baatcheet serve --help`) and the ``BAATCHEET_*`` environment variables are both
derived from these fields, and ``docs/reference/settings.md`` is generated from
them, so an option can never be documented in one place and forgotten in another.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["LogFormat", "RedisSubscription", "Settings", "SlowConsumerPolicy", "SqliteSynchronous"]


class SlowConsumerPolicy(StrEnum):
    """What to do with a connection whose write buffer passed ``write_buffer_high``."""

    DROP_VOLATILE = "drop-volatile"
    """Keep queueing normal packets, drop volatile ones; disconnect at ``write_buffer_max``."""
    DISCONNECT = "disconnect"
    """Close the connection with reason ``slow consumer`` as soon as the mark is passed."""


class LogFormat(StrEnum):
    """How log lines are written (to stderr)."""

    TEXT = "text"
    """``time level logger: message``, for people."""
    JSON = "json"
    """One JSON object per line (time, level, logger, message, connection), for collectors."""


class SqliteSynchronous(StrEnum):
    """How hard SQLite works to keep a commit through a power cut (its ``synchronous`` pragma)."""

    FULL = "full"
    """fsync at every commit: an acknowledged message survives power loss and OS crashes."""
    NORMAL = "normal"
    """WAL with fsync at checkpoints only: survives process crashes and restarts; an OS
    crash or power cut may lose the last commits. Markedly less CPU per commit."""


class RedisSubscription(StrEnum):
    """Which broadcast channels a cluster node subscribes (see docs/how-to/cluster.md)."""

    CLASSIC = "classic"
    """PSUBSCRIBE every broadcast channel, as Node's adapter does: each node receives every
    broadcast of the cluster. The default."""
    DYNAMIC = "dynamic"
    """The namespace channel, plus a room's channel only while a local socket is in it:
    a node receives only the broadcasts it can deliver. Broadcasts to one socket id go to
    the namespace channel. Put every Python node of the cluster in it: a socket id's own
    channel, where other modes, Node servers and emitters publish, is not subscribed."""
    DYNAMIC_PRIVATE = "dynamic-private"
    """As ``dynamic``, and each local socket's own id channel too (one subscription per
    connection), so Node servers and emitters can reach socket ids on this node."""


class Settings(BaseSettings):
    """Everything ``baatcheet serve`` can be told, with its default."""

    model_config = SettingsConfigDict(env_prefix="BAATCHEET_", frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(3000, ge=0, le=65535, description="TCP port to listen on (0 picks one).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Origins allowed to connect (HTTP CORS and WebSocket upgrades). Empty allows"
            " same-origin and clients that send no Origin; '*' allows every origin."
        ),
    )
    ping_interval_ms: int = Field(25_000, gt=0, description="Engine.IO pingInterval.")
    ping_timeout_ms: int = Field(20_000, gt=0, description="Engine.IO pingTimeout.")
    connect_timeout_ms: int = Field(
        45_000, gt=0, description="Time a client has to connect to a namespace after handshake."
    )
    upgrade_timeout_ms: int = Field(
        10_000, gt=0, description="Time a client has to finish a polling→WebSocket upgrade."
    )
    max_payload_bytes: int = Field(
        1_000_000, gt=0, description="maxHttpBufferSize: largest message or POST body accepted."
    )
    write_buffer_high_bytes: int = Field(
        1_000_000, gt=0, description="Write buffer size at which a client counts as slow."
    )
    write_buffer_max_bytes: int = Field(
        8_000_000, gt=0, description="Write buffer size at which a slow client is disconnected."
    )
    slow_consumer_policy: SlowConsumerPolicy = Field(
        SlowConsumerPolicy.DROP_VOLATILE, description="What happens to a slow client."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Host header values accepted (a DNS-rebinding page sends its own name): 'name'"
            " for any port, 'name:port' for one. Empty allows localhost, the listening host"
            " and IP addresses, and checks nothing once cors_origins are set. Set it behind"
            " a proxy or under a real domain."
        ),
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Proxies (IP addresses or CIDR networks; '*' for any) trusted to name the real"
            " client in X-Forwarded-For and X-Forwarded-Proto: set it behind nginx or a load"
            " balancer, or every user shares the proxy's address (and its sign-in limits)."
        ),
    )
    http_max_request_line_bytes: int = Field(
        8 * 1024, gt=0, description="Longest request line (method, URL, version); longer: 414."
    )
    http_max_header_bytes: int = Field(
        16 * 1024, gt=0, description="Largest header block (Node's default); larger: 431."
    )
    http_headers_timeout_s: float = Field(
        60.0, gt=0, description="Time a client has to send a request's headers (Node: 60 s)."
    )
    http_request_timeout_s: float = Field(
        300.0, gt=0, description="Time a client has to send a whole request (Node: 300 s)."
    )
    http_keep_alive_timeout_s: float = Field(
        5.0, gt=0, description="How long an idle keep-alive HTTP connection stays open (Node: 5 s)."
    )
    inbound_max_pending_handlers: int = Field(
        64,
        gt=0,
        description=(
            "Handlers a connection may have running at once; past it the server stops"
            " reading from that connection until they finish (backpressure, nothing dropped)."
        ),
    )
    packet_rate_per_s: float = Field(
        100.0,
        gt=0,
        description=(
            "Sustained Socket.IO packets per second a connection may send (token bucket);"
            " over it, acked events get an error ack 'rate_limited' and others are dropped."
        ),
    )
    packet_burst: int = Field(
        200, gt=0, description="Packets a connection may send at once above packet_rate_per_s."
    )
    packet_refusals_before_disconnect: int = Field(
        200,
        gt=0,
        description=(
            "Packets refused in a row for the rate limit before the connection is closed"
            " (reason 'rate limited')."
        ),
    )
    demo_namespace: bool = Field(
        False,
        description=(
            "Serve the curriculum's open demo on '/' ('chat message' re-emitted to everyone,"
            " no account): for learning, not for production."
        ),
    )
    demo_messages_per_s: float = Field(
        5.0, gt=0, description="'chat message' events per second one demo client may send."
    )
    ws_path: str = Field("/ws", description="Path of the plain WebSocket endpoint.")
    socketio_path: str = Field("/socket.io", description="Path of the Socket.IO endpoint.")
    serve_client: bool = Field(True, description="Serve /socket.io/socket.io.js.")
    client_dist_dir: Path | None = Field(
        None,
        description=(
            "Folder holding socket.io-client's dist/ files to serve. None uses the copy"
            " a wheel carries, else clientjs/node_modules/socket.io-client/dist in a"
            " checkout (made by scripts/install)."
        ),
    )
    tls_certfile: Path | None = Field(None, description="PEM certificate: serve https/wss.")
    tls_keyfile: Path | None = Field(None, description="PEM private key for tls_certfile.")
    database_url: str = Field(
        "sqlite+aiosqlite:///data/baatcheet.db",
        description=(
            "SQLAlchemy URL; a SQLite file by default, postgresql+asyncpg://… in production."
        ),
    )
    redis_url: str | None = Field(
        None,
        description=(
            "redis://, rediss:// or unix:// URL of the Redis that joins this server to a"
            " cluster (Node's @socket.io/redis-adapter format). None: a single node."
        ),
    )
    redis_prefix: str = Field(
        "socket.io",
        description=(
            "Prefix of the cluster's Redis channels (the Node adapter's 'key'); the same on"
            " every node."
        ),
    )
    redis_requests_timeout_ms: int = Field(
        5000,
        gt=0,
        description=(
            "How long a cluster request (fetch_sockets, all_rooms, server-side acks) waits"
            " for the other nodes (Node's requestsTimeout)."
        ),
    )
    redis_subscription: RedisSubscription = Field(
        RedisSubscription.CLASSIC,
        description=(
            "Which broadcasts a cluster node receives from Redis. classic: all of them (as"
            " Node's adapter). dynamic: only those for rooms it has members in, plus"
            " whole-namespace, multi-room and socket-id ones. dynamic-private: dynamic, with"
            " one channel per local socket id. Use the same value on every Python node."
        ),
    )
    jwt_secret: str = Field(
        "",
        description=(
            "Secret for signing JWTs. Empty generates one per data directory and stores it"
            " beside the SQLite file (tokens then survive restarts)."
        ),
    )
    access_token_ttl_s: int = Field(900, gt=0, description="Lifetime of an access token.")
    refresh_token_ttl_s: int = Field(
        30 * 24 * 3600, gt=0, description="Lifetime of a refresh token."
    )
    refresh_token_reuse_s: float = Field(
        30.0,
        ge=0,
        description=(
            "How long a rotated refresh token still works: a page reloaded while its refresh"
            " was in flight comes back with the old token and must not be logged out."
        ),
    )
    auth_attempts_per_minute_per_address: int = Field(
        30,
        gt=0,
        description="Logins, registrations and refreshes one client address may try per minute.",
    )
    auth_failures_per_hour_per_username: int = Field(
        20, gt=0, description="Failed logins one username may take per hour before a 429."
    )
    password_hash_concurrency: int = Field(
        2,
        gt=0,
        description=(
            "Password hashes (argon2, 64 MiB each) computed at once; more wait in a queue."
        ),
    )
    rooms_page_size: int = Field(
        50, gt=0, le=500, description="Rooms per page of rooms:list and GET /api/rooms."
    )
    room_creations_per_hour: int = Field(
        30, gt=0, description="Rooms one user may create per hour."
    )
    max_message_length: int = Field(4000, gt=0, description="Longest chat message, in characters.")
    typing_expiry_ms: int = Field(5000, gt=0, description="A typing indicator lasts this long.")
    presence_ttl_s: float = Field(
        30.0,
        gt=0,
        description=(
            "With redis_url: users of a node that stops without saying goodbye are shown"
            " offline within this many seconds (each node heartbeats every third of it)."
        ),
    )
    sqlite_synchronous: SqliteSynchronous = Field(
        SqliteSynchronous.FULL,
        description=(
            "SQLite durability: 'full' keeps acknowledged messages through power loss,"
            " 'normal' only through process crashes, for less CPU per commit."
        ),
    )
    group_commit_window_ms: float = Field(
        2.0,
        ge=0,
        description=(
            "How long a busy store keeps a batch open for more writes before committing"
            " it; after a quiet window a write commits at once."
        ),
    )
    shutdown_grace_s: float = Field(
        10.0,
        ge=0,
        description=(
            "How long a drain (SIGTERM) may take: handlers already running finish, clients"
            " are told to reconnect elsewhere, requests in flight get their answer."
        ),
    )
    health_timeout_s: float = Field(
        2.0,
        gt=0,
        description=(
            "How long each /readyz check (database, Redis) may take before the node counts"
            " as not ready."
        ),
    )
    metrics: bool = Field(
        True,
        description=(
            "Count connections, traffic, broadcasts, acks, loop lag, commits and chat"
            " messages, and serve them as Prometheus text at /metrics."
        ),
    )
    admin_ui: bool = Field(
        False,
        description=(
            "Instrument the server for the @socket.io/admin-ui front end: the /admin"
            " namespace (basic auth), server_stats every 2 s, commands, and the UI's page"
            " at admin_path. Requires admin_username and admin_password_hash."
        ),
    )
    admin_username: str = Field("admin", description="The admin UI's login name.")
    admin_password_hash: str = Field(
        "",
        pattern=r"^(\$2[ab]\$\d\d\$[./A-Za-z0-9]{53})?$",
        description=(
            "bcrypt hash ($2a$ or $2b$) of the admin UI's password, e.g. from"
            " python -c 'import bcrypt; print(bcrypt.hashpw(b\"pw\", bcrypt.gensalt()).decode())'."
        ),
    )
    admin_readonly: bool = Field(
        False, description="Admin UI may only watch: no join, leave, disconnect or emit."
    )
    admin_mode: str = Field(
        "development",
        pattern="^(development|production)$",
        description=(
            "development: the UI lists every socket and sees each connect, disconnect and"
            " incoming event (a cost per event); production: only server stats and"
            " aggregated counts."
        ),
    )
    admin_path: str = Field(
        "/admin-ui",
        pattern="^/[^?#]*[^/?#]$",
        description="Where the admin UI's page is served (with admin_ui on).",
    )
    admin_ui_dir: Path = Field(
        Path("adminui/node_modules/@socket.io/admin-ui/ui/dist"),
        description="The admin UI's built files (installed by scripts/install).",
    )
    log_level: str = Field("info", description="Logging level.")
    log_format: LogFormat = Field(
        LogFormat.TEXT,
        description=(
            "Log lines as text, or as one JSON object per line (time, level, logger,"
            " message, and the connection id while a connection's packets are handled)."
        ),
    )
    tune_gc: bool = Field(
        True,
        description=(
            "Freeze start-up objects out of the garbage collector and collect the young"
            " generation less often: the collector drives the latency tail of Python servers."
        ),
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        """Refuse at start-up what would otherwise fail on the first request."""
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(
                        f"forwarded_allow_ips: {entry!r} is not an IP address, a CIDR network"
                        " or '*'"
                    ) from None
        return value

    @field_validator("cors_origins", "allowed_hosts", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """Accept ``a,b`` from the environment as well as a list."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
