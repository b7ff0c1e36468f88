"""Log lines: the text format, and JSON lines naming the connection being served."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from baatcheet.logging_setup import configure_logging, connection_id
from baatcheet.settings import LogFormat


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_json_line_has_time_level_logger_and_message() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream)
    logging.getLogger("baatcheet.test").info("hello %s", "there")
    logging.getLogger("baatcheet.test").debug("below the level")
    (line,) = _lines(stream)
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == (
        "INFO",
        "baatcheet.test",
        "hello there",
    )
    assert line["time"].endswith("Z")
    assert datetime.fromisoformat(line["time"].removesuffix("Z") + "+00:00").tzinfo is not None


def test_a_line_logged_while_a_connection_is_served_names_it() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream)
    log = logging.getLogger("baatcheet.test")
    token = connection_id.set("sid-1")
    try:
        log.info("inside")
    finally:
        connection_id.reset(token)
    log.info("outside")
    inside, outside = _lines(stream)
    assert inside["connection"] == "sid-1"
    assert "connection" not in outside


async def test_tasks_started_for_a_connection_keep_its_id() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream)
    log = logging.getLogger("baatcheet.test")

    async def handler() -> None:
        await asyncio.sleep(0)
        log.info("from the handler")

    token = connection_id.set("sid-2")
    try:
        task = asyncio.create_task(handler())  # as the Socket.IO layer starts handlers
    finally:
        connection_id.reset(token)
    await task
    assert _lines(stream)[0]["connection"] == "sid-2"


def test_a_traceback_stays_inside_its_json_line() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("baatcheet.test").exception("it failed")
    (line,) = _lines(stream)
    assert line["message"] == "it failed"
    assert "RuntimeError: boom" in line["exception"]


def test_text_lines_keep_their_layout() -> None:
    stream = io.StringIO()
    configure_logging("warning", LogFormat.TEXT, stream)
    logging.getLogger("baatcheet.test").warning("careful")
    assert stream.getvalue().rstrip().endswith(" WARNING baatcheet.test: careful")


def test_an_unknown_level_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="not a logging level"):
        configure_logging("loud", LogFormat.TEXT, io.StringIO())
