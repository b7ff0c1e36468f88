"""A private nginx in front of test servers, run from a site file kept in the docs.

``render_site`` fills the ``@NAME@`` placeholders of a site file (for instance
``docs/how-to/nginx/baatcheet.conf``) and refuses to leave any unfilled; ``nginx_proxy``
runs nginx in the foreground with that site as its only ``http`` content, everything it
writes (pid, logs, temp files) under one folder, and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from support.paths import SETUP_HINT

__all__ = ["NginxError", "nginx_proxy", "render_site"]

_PLACEHOLDER = re.compile(r"@[A-Z0-9_]+@")
_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0


class NginxError(RuntimeError):
    """nginx is missing, refused the configuration or did not start; the message has its log."""


def render_site(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``@NAME@`` replaced by ``values[NAME]``.

    Raises:
        ValueError: a value names no placeholder, or a placeholder has no value.
    """
    for name, value in values.items():
        placeholder = f"@{name}@"
        if placeholder not in template:
            raise ValueError(f"the site has no {placeholder} placeholder")
        template = template.replace(placeholder, value)
    if left := sorted(set(_PLACEHOLDER.findall(template))):
        raise ValueError(f"placeholders without a value: {', '.join(left)}")
    return template


def _main_config(prefix: Path, site: Path) -> str:
    """The ``nginx.conf`` around the site: one worker, every path under ``prefix``."""
    # As root the master would hand its workers to an unprivileged user, who cannot
    # write the temp folders here; outside root the directive would only warn.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )


async def _wait_for_port(port: int, process: asyncio.subprocess.Process) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and process.returncode is None:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


def _prepare(prefix: Path, site: str) -> list[str]:
    """Write the configuration under ``prefix``; return the nginx command line for it."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if binary is None:
        raise NginxError(f"nginx is not installed: {SETUP_HINT}")
    prefix.mkdir(parents=True, exist_ok=True)
    site_file = prefix / "site.conf"
    site_file.write_text(site)
    config = prefix / "nginx.conf"
    config.write_text(_main_config(prefix, site_file))
    return [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)]


def _error_log(prefix: Path) -> str:
    path = prefix / "error.log"
    return path.read_text(errors="replace") if path.exists() else "(no error.log)"


@asynccontextmanager
async def nginx_proxy(prefix: Path, site: str, port: int) -> AsyncIterator[Path]:
    """Run nginx with ``site`` until the block ends; yields the folder holding its logs.

    ``port`` is one the site listens on: nginx counts as started once it accepts there.
    """
    argv = _prepare(prefix, site)
    test = await asyncio.create_subprocess_exec(
        *argv, "-t", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await test.communicate()
    if test.returncode != 0:
        raise NginxError(f"nginx refused the configuration:\n{output.decode(errors='replace')}")
    process = await asyncio.create_subprocess_exec(
        *argv,
        "-g",
        "daemon off;",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,  # -e: its complaints go to error.log
    )
    try:
        if not await _wait_for_port(port, process):
            raise NginxError(f"nginx did not start listening on {port}:\n{_error_log(prefix)}")
        yield prefix
    finally:
        if process.returncode is None:
            process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                async with asyncio.timeout(_STOP_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
