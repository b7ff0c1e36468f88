"""nginx as a load balancer in front of several ``baatcheet serve`` nodes, for tests.

The configuration is the one docs/how-to/operations.md recommends: round robin over the
nodes, WebSocket upgrades passed through, and a request refused by a draining node (503)
or by a stopped one (connection refused) retried on the next node. It listens on loopback
only, runs in the foreground (``daemon off``) as a child of the test, and keeps every file
under its own folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

from support.paths import SETUP_HINT
from support.ports import free_port, wait_for_port

__all__ = ["Nginx"]

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0

_CONFIG = """\
{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    upstream baatcheet {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://baatcheet;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


class Nginx:
    """nginx balancing ``127.0.0.1:<port>`` over ``upstream_ports``; use ``with Nginx(...)``."""

    def __init__(self, root: Path, upstream_ports: list[int]) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstreams = upstream_ports
        self._process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """The configuration file's text."""
        # max_fails=0: never mark a node down; every request tries the nodes in turn, so
        # a restarted node gets clients again at once.
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=0;" for port in self._upstreams
        )
        # As root, nginx would run its worker as "nobody", who cannot use these folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return _CONFIG.format(user=user, root=self.root, servers=servers, port=self.port)

    def __enter__(self) -> Self:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError(f"nginx is not installed: {SETUP_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(self.config())
        self._process = subprocess.Popen(
            [binary, "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        if not wait_for_port(self.port, _START_TIMEOUT_S):
            self.__exit__(None, None, None)
            raise RuntimeError(f"nginx did not start:\n{self.log()}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self) -> str:
        """nginx's error log, for failure messages."""
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
