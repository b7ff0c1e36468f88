"""The public API is typed: mypy --strict checks an application written against it.

A small application, as a user would write it, is checked with the project's own mypy
settings. ``server.of()`` must give a namespace type (not ``Any``), the registration
decorators must hand back the decorated function with its own type, and a handler with
the wrong signature must be reported on the line where it is written. Each line that must
be an error ends with ``# error``; each ``reveal_type`` says what it must reveal.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from mypy import api

pytestmark = pytest.mark.timeout(300)  # a cold mypy cache analyses the whole package

ROOT = Path(__file__).resolve().parents[2]

APPLICATION = '''\
"""A small application, as a user of Baatcheet would write it."""

from __future__ import annotations

import re
from typing import Any

from baatcheet import EventError, Server, Settings, Socket

server = Server(Settings(port=0), error_ack=lambda code, message: {"failed": code})
chat = server.of("/chat")
teams = server.of(re.compile(r"^/team-\\d+$"))


@server.use
async def authenticate(socket: Socket) -> None:
    if not socket.handshake.auth:
        raise EventError("no_auth", "log in first")


@chat.on("connection")
async def on_connection(socket: Socket) -> None:
    @socket.on("message")
    async def on_message(text: str) -> dict[str, Any]:
        return {"echo": text}

    @socket.on("disconnect")
    def on_disconnect(reason: str) -> None:
        del reason

    reveal_type(on_message)  # reveals def (text: str) -> Coroutine[Any, Any, dict[str, Any]]


@teams.on("connect")
def on_team(socket: Socket) -> None:
    socket.join("team")


@chat.on("audit")
def on_audit(entry: dict[str, Any], reply: Any) -> None:
    del entry, reply


reveal_type(chat)  # reveals Namespace
reveal_type(teams)  # reveals DynamicNamespace
reveal_type(authenticate)  # reveals def (socket: Socket) -> Coroutine[Any, Any, None]
reveal_type(on_connection)  # reveals def (socket: Socket) -> Coroutine[Any, Any, None]
reveal_type(on_team)  # reveals def (socket: Socket)
reveal_type(on_audit)  # reveals def (entry: dict[str, Any], reply: Any)


@chat.on("connection")  # error
def wrong_connection(user: int) -> None:
    del user


@server.use  # error
def wrong_middleware(socket: Socket, extra: int) -> None:
    del socket, extra


def wrong_lifecycle(socket: Socket) -> None:
    @socket.on("disconnecting")  # error
    def on_disconnecting(reason: int) -> None:
        del reason


chat.error_ack = lambda code: code  # error
chat.emit_to_everyone("hi")  # error
teams.to("room")  # error
Server(error_ack=lambda code, message, extra: None)  # error
'''

_QUALIFIER = re.compile(r"\b(?:[a-z_]+\.)+(?=[A-Z])")
"""A module path before a class name: ``baatcheet.sio.socket.Socket`` reads ``Socket``."""
_REPORT = re.compile(r"^(?:.*/)?user_app\.py:(\d+): (error|note): (.*)$")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str, str]]:
    """mypy's findings on the application: (line, "error" or "note", text)."""
    app = tmp_path_factory.mktemp("typing") / "user_app.py"
    app.write_text(APPLICATION, encoding="utf-8")
    # A cache outside the repository that outlives the run: only the first run is slow.
    cache = Path(tempfile.gettempdir()) / "baatcheet-public-api-typing-mypy-cache"
    stdout, stderr, _status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            str(app),
        ]
    )
    assert stderr == ""
    matches = (_REPORT.match(line) for line in stdout.splitlines())
    return [(int(match[1]), match[2], match[3]) for match in matches if match is not None]


def _lines_marked(marker: str) -> dict[int, str]:
    return {
        number: line.split(marker, 1)[1].strip()
        for number, line in enumerate(APPLICATION.splitlines(), start=1)
        if marker in line
    }


def test_of_gives_the_namespace_type_and_decorators_give_back_the_function_itself(
    report: list[tuple[int, str, str]],
) -> None:
    revealed = {
        line: _QUALIFIER.sub("", text.removeprefix("Revealed type is ").strip('"'))
        for line, kind, text in report
        if kind == "note" and text.startswith("Revealed type is ")
    }
    assert revealed == _lines_marked("# reveals ")


def test_handlers_and_options_of_the_wrong_shape_are_reported_where_they_are_written(
    report: list[tuple[int, str, str]],
) -> None:
    errors = sorted({line for line, kind, _ in report if kind == "error"})
    assert errors == sorted(_lines_marked("# error")), report
