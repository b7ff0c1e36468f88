"""Where log lines go and what they look like: text for people, JSON lines for collectors.

:data:`connection_id` names the connection whose packets are being handled. The engine
sets it while it hands a session's packets to the layers above, so every line logged on
that path names the connection — and so does every line of the tasks started there
(event handlers, middleware), because an asyncio task copies the context it was created
in. Outside that path (start-up, HTTP routes, other threads) it is ``None`` and the key is
left out.

A JSON line holds ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``,
``message``, then ``connection`` when there is one and ``exception`` (the formatted
traceback) when one was logged. A traceback never breaks a line: it is a JSON string.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

import orjson

from baatcheet.settings import LogFormat

__all__ = ["TEXT_FORMAT", "JsonFormatter", "configure_logging", "connection_id"]

connection_id: ContextVar[str | None] = ContextVar("baatcheet_connection_id", default=None)
"""The Engine.IO session id of the connection being served, where there is one."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The text format's line layout (``logging`` style)."""

_QUIET_LOGGERS = ("alembic",)
"""Libraries whose INFO lines say nothing an operator needs (alembic: one per migration
context, on every start)."""


class _ConnectionFilter(logging.Filter):
    """Stamps each record with :data:`connection_id` as it is logged.

    A handler's filters run synchronously in the thread and context that logs, so this
    reads the context of the code that logged, whatever formats the record later.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.connection_id = connection_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring for its keys)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, str] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        connection = getattr(record, "connection_id", None)
        if connection is not None:
            entry["connection"] = str(connection)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: str, log_format: LogFormat, stream: IO[str] | None = None) -> None:
    """Send every log line to ``stream`` (stderr by default) at ``level`` and above.

    Replaces the root logger's handlers, so calling it again switches formats cleanly.

    Raises:
        ValueError: ``level`` is not a logging level name (``debug``, ``info``, …).
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(
            f"log_level {level!r} is not a logging level; use debug, info, warning, error"
            " or critical"
        )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(_ConnectionFilter())
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
