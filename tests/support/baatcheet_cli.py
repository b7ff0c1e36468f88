"""The ``baatcheet`` command as a child process, the way an operator runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

__all__ = ["CliOutcome", "baatcheet", "cli_environment"]


@dataclass
class CliOutcome:
    """What one ``baatcheet`` process did."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """Everything it printed, stdout then stderr."""
        return self.out + self.err


def cli_environment(database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment without the BAATCHEET_* it may carry, plus the database
    and ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BAATCHEET_")}
    return {**env, "BAATCHEET_DATABASE_URL": database_url, **extra}


async def baatcheet(database_url: str, *args: str, stdin: str = "", **env: str) -> CliOutcome:
    """Run ``python -m baatcheet.cli *args`` to completion on ``database_url``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baatcheet.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_environment(database_url, **env),
    )
    out, err = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return CliOutcome(process.returncode, out.decode(), err.decode())
