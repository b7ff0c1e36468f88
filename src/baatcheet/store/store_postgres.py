"""PostgreSQL through asyncpg, for production and for several nodes sharing one database."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from baatcheet.store.migrate import upgrade
from baatcheet.store.store_sql import SqlStore

__all__ = ["open_postgres"]

_CONNECT_TIMEOUT_S = 5
_COMMAND_TIMEOUT_S = 30


async def open_postgres(database_url: str, group_commit_window_s: float) -> SqlStore:
    """Connect a pool to ``database_url`` and apply migrations.

    ``postgresql://`` URLs are switched to the asyncpg driver. Connections are checked
    before use (``pool_pre_ping``) so a restarted server is reconnected to instead of
    failing the next write; timeouts bound how long a request can wait on a dead server.
    """
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=_CONNECT_TIMEOUT_S,
        connect_args={"timeout": _CONNECT_TIMEOUT_S, "command_timeout": _COMMAND_TIMEOUT_S},
    )
    store = SqlStore(engine, engine, group_commit_window_s)
    try:
        await upgrade(engine)
    except Exception:
        await store.close()
        raise
    return store
