"""Alembic environment: runs on the connection :mod:`baatcheet.store.migrate` hands in.

There is no alembic.ini and no URL here on purpose: the server opens the engine from
``Settings.database_url`` and lends this script one of its connections.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from baatcheet.store.schema import metadata

__all__: list[str] = []


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("baatcheet migrations run only through baatcheet.store.migrate.upgrade")
_run(_connection)
