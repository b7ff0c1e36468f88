"""``baatcheet serve --log-format json``: every line a JSON object, naming its connection.

The server runs as the operator runs it (a process, logging to stderr). A client that
sends a malformed Socket.IO packet gets its session closed with a log line; that line,
logged deep in the Socket.IO layer, must carry the Engine.IO session id the client was
given, over WebSocket and over long-polling alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from support.baatcheet_cli import cli_environment
from support.chatkit import sqlite_url
from support.ports import free_port

pytestmark = pytest.mark.timeout(90)

_START_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def json_logging_server(tmp_path: Path) -> AsyncIterator[tuple[int, Path, Path]]:
    """``baatcheet serve --log-format json`` on a free port; yields (port, stdout, stderr)."""
    port = free_port()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("wb") as out_file, err.open("wb") as err_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "baatcheet.cli",
            "serve",
            "--port",
            str(port),
            "--log-format",
            "json",
            stdout=out_file,
            stderr=err_file,
            env=cli_environment(sqlite_url(tmp_path), BAATCHEET_SHUTDOWN_GRACE_S="0.5"),
        )
    try:
        async with asyncio.timeout(_START_TIMEOUT_S):
            while True:
                assert process.returncode is None, err.read_text()
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                break
        yield port, out, err
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        record = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(record, dict), line
        records.append(record)
    return records


async def _bad_packet_over_websocket(port: int) -> str:
    async with connect(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket") as ws:
        sid = str(json.loads(str(await ws.recv())[1:])["sid"])
        await ws.send('42["unterminated"')
        with contextlib.suppress(Exception):
            while True:  # until the server closes it
                await ws.recv()
    return sid


async def _bad_packet_over_polling(port: int) -> str:
    base = f"http://127.0.0.1:{port}/socket.io/"
    async with httpx.AsyncClient() as http:
        opened = await http.get(base, params={"EIO": "4", "transport": "polling"})
        sid = str(json.loads(opened.text[1:])["sid"])
        await http.post(
            base,
            params={"EIO": "4", "transport": "polling", "sid": sid},
            content=b'42["unterminated"',
        )
    return sid


async def test_every_line_is_json_and_a_connections_lines_name_it(tmp_path: Path) -> None:
    async with json_logging_server(tmp_path) as (port, out, err):
        over_websocket = await _bad_packet_over_websocket(port)
        over_polling = await _bad_packet_over_polling(port)
    records = _records(err)
    assert all({"time", "level", "logger", "message"} <= set(record) for record in records)
    assert out.read_text() == ""  # the start-up banner is a JSON line on stderr too
    assert any(record["message"].startswith("Baatcheet listening on") for record in records)
    for sid in (over_websocket, over_polling):
        closing = [record for record in records if record["message"].startswith(f"closing {sid}")]
        assert closing, f"no line about closing {sid}:\n{err.read_text()}"
        assert all(record.get("connection") == sid for record in closing)
    startup = next(r for r in records if r["message"].startswith("Baatcheet listening"))
    assert "connection" not in startup
