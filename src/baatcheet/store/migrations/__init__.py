"""Alembic migrations, applied programmatically by :func:`baatcheet.store.migrate.upgrade`."""
