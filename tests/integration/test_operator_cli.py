"""``baatcheet migrate``, ``user …`` and ``check``, run as an operator runs them: a process.

Each test gets its own SQLite file; what a command changed is read back through the
store, and every command's exit status is checked, failures included.
"""

from __future__ import annotations

import asyncio
import os
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baatcheet.chat.accounts import Accounts
from baatcheet.errors import AccountDisabledError, AuthError
from baatcheet.settings import Settings
from baatcheet.store import open_store
from support.baatcheet_cli import baatcheet, cli_environment
from support.ports import free_port
from support.tls import self_signed_certificate

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct horse battery"
SECRET = "jwt-secret-that-must-never-be-printed"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where the SQLite file goes; nothing is created there yet."""
    return tmp_path / "data" / "chat.db"


def _exists(path: Path) -> bool:
    return path.exists()


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _accounts_check(path: Path, username: str, password: str) -> str:
    """Log in through the store the commands wrote: "ok", "disabled" or "refused"."""
    settings = Settings(database_url=_url(path), jwt_secret=SECRET)
    store = await open_store(settings)
    accounts = await Accounts.open(store, settings)
    try:
        await accounts.login(username, password)
    except AccountDisabledError:
        return "disabled"
    except AuthError:
        return "refused"
    finally:
        accounts.passwords.close()
        await store.close()
    return "ok"


# -- migrate --------------------------------------------------------------------------------


async def test_migrate_status_changes_nothing_and_migrate_brings_the_schema_up(
    database: Path,
) -> None:
    url = _url(database)
    status = await baatcheet(url, "migrate", "--status")
    assert status.code == 0, status.text
    assert "current revision: none (the database does not exist yet)" in status.out
    assert "newest revision: 0005" in status.out
    assert not _exists(database)

    migrated = await baatcheet(url, "migrate")
    assert migrated.code == 0, migrated.text
    assert "migrated from none (the database does not exist yet) to 0005" in migrated.out
    assert _exists(database)

    again = await baatcheet(url, "migrate")
    assert again.code == 0, again.text
    assert "already at the newest revision, 0005" in again.out
    status = await baatcheet(url, "migrate", "--status")
    assert (status.code, "current revision: 0005" in status.out) == (0, True)
    assert "up to date" in status.out


async def test_migrate_refuses_a_database_a_newer_release_migrated(database: Path) -> None:
    url = _url(database)
    assert (await baatcheet(url, "migrate")).code == 0
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    refused = await baatcheet(url, "migrate")
    assert refused.code == 1
    assert "revision 9999, which this release of Baatcheet does not know" in refused.err
    assert "Traceback" not in refused.err
    status = await baatcheet(url, "migrate", "--status")
    assert status.code == 1
    assert "9999 (unknown to this release" in status.out


async def test_migrate_reports_an_unreachable_database_without_its_password() -> None:
    url = f"postgresql+asyncpg://chat:hunter2@127.0.0.1:{free_port()}/chat"
    failed = await baatcheet(url, "migrate")
    assert failed.code == 1
    assert "baatcheet: cannot reach the database at postgresql+asyncpg://chat:***@" in failed.err
    assert "hunter2" not in failed.text
    assert "Traceback" not in failed.err


# -- user -----------------------------------------------------------------------------------


async def test_user_create_and_set_password_take_the_password_from_stdin(database: Path) -> None:
    url = _url(database)
    created = await baatcheet(url, "user", "create", "alice", "--password-stdin", stdin=PASSWORD)
    assert created.code == 0, created.text
    assert created.out == "created user alice (id 1)\n"
    assert PASSWORD not in created.text
    taken = await baatcheet(url, "user", "create", "alice", "--password-stdin", stdin=PASSWORD)
    assert (taken.code, taken.err) == (1, "baatcheet: username 'alice' is taken; choose another\n")
    short = await baatcheet(url, "user", "create", "bob", "--password-stdin", stdin="short\n")
    assert short.code == 1
    assert "password: String should have at least 8 characters" in short.err
    assert await _accounts_check(database, "alice", PASSWORD) == "ok"

    changed = await baatcheet(
        url, "user", "set-password", "alice", "--password-stdin", stdin="battery staple 2\n"
    )
    assert changed.code == 0, changed.text
    assert await _accounts_check(database, "alice", PASSWORD) == "refused"
    assert await _accounts_check(database, "alice", "battery staple 2") == "ok"


async def test_user_commands_refuse_to_prompt_without_a_terminal(database: Path) -> None:
    refused = await baatcheet(_url(database), "user", "create", "alice")
    assert refused.code == 1
    assert "pipe the password in with --password-stdin" in refused.err


async def test_disable_and_enable_change_the_login_and_name_unknown_users(
    database: Path,
) -> None:
    url = _url(database)
    await baatcheet(url, "user", "create", "alice", "--password-stdin", stdin=PASSWORD)
    disabled = await baatcheet(url, "user", "disable", "alice")
    assert disabled.code == 0, disabled.text
    assert disabled.out.startswith("alice: disabled")
    assert await _accounts_check(database, "alice", PASSWORD) == "disabled"
    enabled = await baatcheet(url, "user", "enable", "alice")
    assert (enabled.code, enabled.out) == (0, "alice: enabled: the user can log in again\n")
    assert await _accounts_check(database, "alice", PASSWORD) == "ok"
    unknown = await baatcheet(url, "user", "disable", "nobody")
    assert (unknown.code, unknown.err) == (1, "baatcheet: there is no user named 'nobody'\n")


_ON_A_TERMINAL = (
    "import os, sys\n"
    "os.close(os.open(os.ttyname(0), os.O_RDWR))  # take the pty as controlling terminal\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'baatcheet.cli', *sys.argv[1:]])\n"
)


class _Terminal:
    """A command on a pseudo-terminal of its own, as when an operator types at it."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self._master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ON_A_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env=env,
        )
        os.close(slave)
        self.transcript = ""

    def expect(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.transcript:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"never saw {text!r}; the terminal showed:\n{self.transcript}")

    def type(self, line: str) -> None:
        os.write(self._master, f"{line}\n".encode())

    def finish(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self._read(max(0.0, deadline - time.monotonic())):
            pass
        os.close(self._master)
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        self.transcript += chunk.decode(errors="replace")
        return bool(chunk)


def test_user_create_prompts_twice_on_a_terminal_without_echoing(database: Path) -> None:
    env = cli_environment(_url(database))
    mismatch = _Terminal(env, "user", "create", "carol")
    mismatch.expect("New password for carol: ")
    mismatch.type(PASSWORD)
    mismatch.expect("Repeat it: ")
    mismatch.type("something else entirely")
    assert mismatch.finish() == 1
    assert "the two passwords differ; nothing was changed" in mismatch.transcript

    terminal = _Terminal(env, "user", "create", "carol")
    terminal.expect("New password for carol: ")
    terminal.type(PASSWORD)
    terminal.expect("Repeat it: ")
    terminal.type(PASSWORD)
    assert terminal.finish() == 0, terminal.transcript
    assert "created user carol" in terminal.transcript
    assert PASSWORD not in terminal.transcript
    assert asyncio.run(_accounts_check(database, "carol", PASSWORD)) == "ok"


# -- check ----------------------------------------------------------------------------------


async def test_check_passes_and_shows_the_configuration_without_secrets(
    database: Path, tmp_path: Path, redis_url: str
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    checked = await baatcheet(
        _url(database),
        "check",
        "--redis-url",
        redis_url,
        "--tls-certfile",
        str(cert),
        "--tls-keyfile",
        str(key),
        BAATCHEET_JWT_SECRET=SECRET,
    )
    assert checked.code == 0, checked.text
    assert "  jwt_secret = '***'\n" in checked.out
    assert SECRET not in checked.text
    assert f"  database_url = '{_url(database)}'\n" in checked.out
    assert "  ok    settings are valid\n" in checked.out
    assert "no file yet; serve or migrate creates" in checked.out
    assert f"  ok    redis {redis_url} answers PING\n" in checked.out
    assert "  ok    tls: " in checked.out
    assert checked.out.endswith("All checks passed.\n")
    assert not _exists(database)  # check changes nothing


async def test_check_fails_on_what_it_cannot_reach_and_still_masks_passwords(
    database: Path,
) -> None:
    closed = free_port()
    checked = await baatcheet(
        f"postgresql+asyncpg://chat:hunter2@127.0.0.1:{closed}/chat",
        "check",
        "--redis-url",
        f"redis://:swordfish@127.0.0.1:{closed}/0?password=swordfish",
    )
    assert checked.code == 1
    assert "hunter2" not in checked.text
    assert "swordfish" not in checked.text
    assert f"  redis_url = 'redis://:***@127.0.0.1:{closed}/0?password=***'\n" in checked.out
    assert "  FAIL  database: cannot reach the database at postgresql+asyncpg://chat:***@" in (
        checked.out
    )
    assert f"  FAIL  redis redis://:***@127.0.0.1:{closed}/0?password=***: no answer" in checked.out
    assert checked.out.endswith("2 check(s) failed.\n")


async def test_check_fails_on_invalid_settings_and_a_broken_tls_pair(
    database: Path, tmp_path: Path
) -> None:
    invalid = await baatcheet(_url(database), "check", "--port", "70000")
    assert invalid.code == 1
    assert "invalid settings" in invalid.err and "port" in invalid.err
    cert, _key = self_signed_certificate(tmp_path)
    half = await baatcheet(_url(database), "check", "--tls-certfile", str(cert))
    assert half.code == 1
    assert "  FAIL  tls: tls_certfile and tls_keyfile must be set together\n" in half.out


@pytest.mark.postgres
async def test_check_reaches_postgresql_and_masks_the_password(postgres_url: str) -> None:
    # The test server trusts local connections, so the password is ignored but present.
    url = postgres_url.replace("postgres@", "postgres:s3cret@", 1)
    checked = await baatcheet(url, "check")
    assert checked.code == 0, checked.text
    assert "s3cret" not in checked.text
    assert "  ok    database postgresql+asyncpg://postgres:***@" in checked.out
