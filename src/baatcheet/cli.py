"""``baatcheet`` command line: flags derived from :class:`~baatcheet.settings.Settings`.

Each settings field becomes one ``--flag`` with the field's help text and default;
only flags given on the command line override ``BAATCHEET_*`` environment
variables, which override the defaults.

Commands: ``serve``; ``settings`` (the reference page); ``bench`` (the load tool,
:mod:`baatcheet.loadtest`); and for operators ``check``
(settings, database, Redis, TLS files, the effective configuration with its secrets
masked), ``migrate`` (apply or ``--status``) and ``user create | set-password | disable
| enable``. ``serve`` and ``check`` take every settings flag; ``migrate`` and ``user``
take the database and logging ones (the environment supplies any other).

Exit status: 0 success; 1 the command failed (the message says why, on stderr);
2 the command line or the settings are invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import ssl
import sys
import types
import typing
from collections.abc import Callable, Coroutine, Sequence
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import uvloop
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from baatcheet.app import open_app
from baatcheet.chat.accounts import Accounts
from baatcheet.chat.payloads import Credentials
from baatcheet.errors import BaatcheetError, ConfigurationError, StoreError
from baatcheet.logging_setup import configure_logging
from baatcheet.settings import LogFormat, Settings
from baatcheet.store import SchemaStatus, open_store, schema_status

__all__ = ["build_parser", "main", "settings_markdown"]

log = logging.getLogger("baatcheet")

_STORE_FIELDS = ("database_url", "sqlite_synchronous", "log_level", "log_format")
"""The settings flags of ``migrate`` and ``user``: what opening the database needs."""

_SECRET_FIELDS = frozenset({"jwt_secret"})
_URL_FIELDS = frozenset({"database_url", "redis_url"})
_SECRET_QUERY_WORDS = ("pass", "secret", "token")
_MASK = "***"
_CHECK_TIMEOUT_S = 5.0


class _CommandError(Exception):
    """An operator command cannot do what it was asked; its message says why (exit 1)."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(annotation: Any) -> Any:
    """``X | None`` → ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _add_field(parser: argparse.ArgumentParser, name: str, field: FieldInfo) -> None:
    kind = _base_type(field.annotation)
    default = field.get_default(call_default_factory=True)
    help_text = f"{field.description} (default: {default!r}; env BAATCHEET_{name.upper()})"
    if kind is bool:
        parser.add_argument(
            _flag(name), action=argparse.BooleanOptionalAction, default=None, help=help_text
        )
    elif typing.get_origin(kind) is list:
        parser.add_argument(
            _flag(name),
            type=lambda text: [item for item in text.split(",") if item],
            default=None,
            help=help_text + "; comma-separated",
        )
    elif isinstance(kind, type) and issubclass(kind, Enum):
        parser.add_argument(
            _flag(name), choices=[member.value for member in kind], default=None, help=help_text
        )
    elif kind in (int, float, str, Path):
        parser.add_argument(_flag(name), type=kind, default=None, help=help_text)
    else:
        raise TypeError(f"settings field {name} has a type the CLI cannot express: {kind}")


def _add_settings(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """One flag per settings field (only ``names`` when given)."""
    for name, field in Settings.model_fields.items():
        if names is None or name in names:
            _add_field(parser, name, field)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one flag per settings field."""
    parser = argparse.ArgumentParser(prog="baatcheet", description="Baatcheet real-time server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server with the chat app and web client")
    _add_settings(serve)
    commands.add_parser("settings", help="print the settings reference as Markdown")
    commands.add_parser(
        "bench",
        add_help=False,
        help="load a Socket.IO server and compare servers (baatcheet bench --help)",
    )
    check = commands.add_parser(
        "check",
        help=(
            "validate the settings, reach the database and Redis, load the TLS files and"
            " print the effective configuration with secrets masked; exit 1 if anything fails"
        ),
    )
    _add_settings(check)
    migrate = commands.add_parser(
        "migrate", help="bring the database schema to the newest revision, without serving"
    )
    migrate.add_argument(
        "--status",
        action="store_true",
        help="only print the database's revision and the newest one; change nothing",
    )
    _add_settings(migrate, _STORE_FIELDS)
    user = commands.add_parser("user", help="create, re-password, disable or enable an account")
    actions = user.add_subparsers(dest="action", required=True)
    for action, text in (
        ("create", "create an account"),
        ("set-password", "give an account a new password and sign out all its logins"),
        ("disable", "refuse the account's logins, refreshes and connections; sign it out"),
        ("enable", "let a disabled account log in again"),
    ):
        command = actions.add_parser(action, help=text)
        command.add_argument("username")
        if action in ("create", "set-password"):
            command.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from the first line of standard input, not a prompt",
            )
        _add_settings(command, _STORE_FIELDS)
    return parser


def settings_markdown() -> str:
    """``docs/reference/settings.md``, generated from the settings object."""
    lines = [
        "# Settings reference",
        "",
        "Generated by `baatcheet settings`. Every option is a `baatcheet serve` flag and a",
        "`BAATCHEET_*` environment variable (lists: comma-separated).",
        "",
        "| flag | environment | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = default.value if isinstance(default, Enum) else default
        lines.append(
            f"| `{_flag(name)}` | `BAATCHEET_{name.upper()}` | `{shown!r}` | {field.description} |"
        )
    return "\n".join(lines) + "\n"


def _settings_from(args: argparse.Namespace) -> Settings:
    given = {
        name: getattr(args, name)
        for name in Settings.model_fields
        if getattr(args, name, None) is not None
    }
    return Settings(**given)


async def _serve(settings: Settings) -> None:
    running = await open_app(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await running.server.start()
    banner = (
        f"Baatcheet listening on {running.url}  (web client at /, Socket.IO at"
        f" {settings.socketio_path}/, plain WebSocket at {settings.ws_path})"
    )
    if settings.log_format is LogFormat.JSON:
        log.info("%s", banner)  # every line of a JSON-logging server is a JSON object
    else:
        print(banner, flush=True)
    await stop.wait()
    log.info("shutting down (grace %.1fs)", settings.shutdown_grace_s)
    await running.close()


# -- operators' commands ----------------------------------------------------------------


def _mask_url(url: str) -> str:
    """``url`` with its password, and query values that look secret, replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{_MASK}@{hostport}" if colon else netloc
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(word in key.lower() for key, _ in pairs for word in _SECRET_QUERY_WORDS):
        masked = [
            (key, _MASK if any(word in key.lower() for word in _SECRET_QUERY_WORDS) else value)
            for key, value in pairs
        ]
        query = urlencode(masked, safe="*/:")
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret; urlunsplit would also drop sqlite's empty "//" host
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.scheme}://{netloc}{parts.path}{'?' if query else ''}{query}{fragment}"


def _shown(name: str, value: Any) -> str:
    """A settings value as ``check`` prints it: secrets masked, enums by value."""
    if name in _SECRET_FIELDS:
        return repr(_MASK) if value else "'' (generated, kept beside the SQLite file)"
    if name in _URL_FIELDS and isinstance(value, str):
        return repr(_mask_url(value))
    if isinstance(value, Enum):
        return repr(value.value)
    if isinstance(value, Path):
        return repr(str(value))
    return repr(value)


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _new_sqlite_verdict(settings: Settings) -> tuple[bool, str]:
    """A SQLite file that is not there yet: can ``serve`` create it?"""
    url = _mask_url(settings.database_url)
    database = make_url(settings.database_url).database or ":memory:"
    if database == ":memory:":
        return True, f"database {url}: in memory (for tests only; nothing is kept)"
    path = Path(database).expanduser().absolute()
    existing = _first_existing(path.parent)
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return False, f"database {url}: cannot create {path}: {existing} is not writable"
    return True, f"database {url}: no file yet; serve or migrate creates {path}"


async def _check_database(settings: Settings) -> tuple[bool, str]:
    url = _mask_url(settings.database_url)
    try:
        status = await schema_status(settings)
    except (StoreError, ConfigurationError) as exc:
        return False, f"database: {exc}"
    if not status.exists:
        return await asyncio.to_thread(_new_sqlite_verdict, settings)
    if not status.known:
        return False, (
            f"database {url}: schema revision {status.current} is unknown to this release"
            " (a newer release migrated it)"
        )
    if status.up_to_date:
        return True, f"database {url} answers; schema at {status.current}, the newest"
    return True, (
        f"database {url} answers; schema at {status.current or 'none'}, newest {status.head}:"
        " serve (or baatcheet migrate) applies the rest"
    )


async def _check_redis(redis_url: str) -> tuple[bool, str]:
    url = _mask_url(redis_url)
    try:
        client = Redis.from_url(
            redis_url, socket_connect_timeout=_CHECK_TIMEOUT_S, socket_timeout=_CHECK_TIMEOUT_S
        )
    except ValueError as exc:
        return False, f"redis {url}: not a Redis URL: {exc}"
    try:
        await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return False, f"redis {url}: no answer to PING: {exc}"
    finally:
        await client.aclose()
    return True, f"redis {url} answers PING"


def _check_tls(settings: Settings) -> tuple[bool, str]:
    cert, key = settings.tls_certfile, settings.tls_keyfile
    if cert is None or key is None:
        return False, "tls: tls_certfile and tls_keyfile must be set together"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        return False, f"tls: cannot load {cert} with {key}: {exc}"
    return True, f"tls: {cert} and {key} load"


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    """``baatcheet check``: print the configuration, then each check; 1 if any failed."""
    del args
    print("Effective configuration (secrets masked):")
    for name in Settings.model_fields:
        print(f"  {name} = {_shown(name, getattr(settings, name))}")
    verdicts = [(True, "settings are valid"), await _check_database(settings)]
    if settings.redis_url:
        verdicts.append(await _check_redis(settings.redis_url))
    if settings.tls_certfile is not None or settings.tls_keyfile is not None:
        verdicts.append(await asyncio.to_thread(_check_tls, settings))
    print("Checks:")
    for passed, text in verdicts:
        print(f"  {'ok  ' if passed else 'FAIL'}  {text}")
    failed = sum(not passed for passed, _ in verdicts)
    print("All checks passed." if not failed else f"{failed} check(s) failed.")
    return 1 if failed else 0


def _schema_line(status: SchemaStatus) -> str:
    if not status.exists:
        return "none (the database does not exist yet)"
    if status.current is None:
        return "none (an empty database)"
    if not status.known:
        return f"{status.current} (unknown to this release: a newer release migrated it)"
    return status.current


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    """``baatcheet migrate [--status]``."""
    where = _mask_url(settings.database_url)
    before = await schema_status(settings)
    if args.status:
        print(f"database: {where}")
        print(f"current revision: {_schema_line(before)}")
        print(f"newest revision: {before.head}")
        if not before.known:
            raise _CommandError(
                f"the database is at revision {before.current}, which this release does not"
                " know; run the release that migrated it"
            )
        print("up to date" if before.up_to_date else "behind: run baatcheet migrate")
        return 0
    store = await open_store(settings)  # applies the migrations, as serve does on start
    await store.close()
    after = await schema_status(settings)
    if before.current == after.current:
        print(f"{where}: already at the newest revision, {after.current}")
    else:
        print(f"{where}: migrated from {_schema_line(before)} to {after.current}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """The new password: stdin's first line, or typed twice at a prompt without echo."""
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise _CommandError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _CommandError(
            "standard input is not a terminal to prompt on: pipe the password in with"
            " --password-stdin"
        )
    password = getpass.getpass(f"New password for {args.username}: ")
    if getpass.getpass("Repeat it: ") != password:
        raise _CommandError("the two passwords differ; nothing was changed")
    return password


def _validated(username: str, password: str) -> None:
    """Hold operators to the rules the registration form enforces."""
    try:
        Credentials.model_validate({"username": username, "password": password})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise _CommandError(f"refused: {problems}") from None


async def _user(settings: Settings, args: argparse.Namespace) -> int:
    """``baatcheet user create | set-password | disable | enable <username>``."""
    name: str = args.username
    password = ""
    if args.action in ("create", "set-password"):
        password = _read_password(args)
        _validated(name, password)
    store = await open_store(settings)
    try:
        accounts = await Accounts.open(store, settings)
        try:
            if args.action == "create":
                user = await accounts.create_user(name, password)
                print(f"created user {user.username} (id {user.id})")
                return 0
            if args.action == "set-password":
                found = await accounts.set_password(name, password)
                done = "new password set; every login of the account was signed out"
            else:
                disable = args.action == "disable"
                found = await accounts.set_disabled(name, disable)
                done = (
                    "disabled: no login, refresh or new connection; open connections end"
                    f" within access_token_ttl_s ({settings.access_token_ttl_s} s)"
                    if disable
                    else "enabled: the user can log in again"
                )
        finally:
            accounts.passwords.close()
    finally:
        await store.close()
    if found is None:
        raise _CommandError(f"there is no user named {name!r}")
    print(f"{found.username}: {done}")
    return 0


async def _serve_command(settings: Settings, args: argparse.Namespace) -> int:
    del args
    await _serve(settings)
    return 0


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "serve": _serve_command,
    "check": _check,
    "migrate": _migrate,
    "user": _user,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``baatcheet`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The load tool has its own parser (baatcheet.loadtest.command) and no settings.
        from baatcheet.loadtest import main as bench_main  # noqa: PLC0415

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        sys.stdout.write(settings_markdown())
        return 0
    try:
        settings = _settings_from(args)
        configure_logging(settings.log_level, settings.log_format)
    except (ValidationError, ValueError) as exc:
        print(f"baatcheet: invalid settings:\n{exc}", file=sys.stderr)
        # check's verdict on settings is its own: they are part of what it checks.
        return 1 if args.command == "check" else 2
    try:
        return uvloop.run(_COMMANDS[args.command](settings, args))
    except (BaatcheetError, _CommandError) as exc:
        print(f"baatcheet: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
