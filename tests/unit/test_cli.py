"""The CLI and the settings reference are derived from the one Settings object."""

from __future__ import annotations

from pathlib import Path

import pytest

from baatcheet.cli import _mask_url, _settings_from, build_parser, main, settings_markdown
from baatcheet.settings import Settings, SlowConsumerPolicy

REPO = Path(__file__).resolve().parents[2]


def test_settings_reference_doc_matches_the_settings_object() -> None:
    committed = (REPO / "docs/reference/settings.md").read_text()
    assert committed == settings_markdown(), (
        "run: uv run baatcheet settings > docs/reference/settings.md"
    )


def test_every_settings_field_has_a_serve_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in help_text


def test_flags_override_defaults_and_keep_their_types() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "4100",
            "--cors-origins",
            "http://a.test,http://b.test",
            "--slow-consumer-policy",
            "disconnect",
            "--no-tune-gc",
        ]
    )
    settings = _settings_from(args)
    assert settings.port == 4100
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    assert settings.slow_consumer_policy is SlowConsumerPolicy.DISCONNECT
    assert settings.tune_gc is False


def test_environment_applies_where_no_flag_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAATCHEET_PING_INTERVAL_MS", "1234")
    monkeypatch.setenv("BAATCHEET_CORS_ORIGINS", "http://x.test")
    settings = _settings_from(build_parser().parse_args(["serve", "--port", "5"]))
    assert settings.ping_interval_ms == 1234
    assert settings.cors_origins == ["http://x.test"]
    assert settings.port == 5


def test_invalid_flag_value_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "port" in capsys.readouterr().err


def test_check_takes_every_flag_serve_takes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["check", "--help"])
    help_text = capsys.readouterr().out
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in help_text


def test_migrate_and_user_commands_take_the_database_flags() -> None:
    args = build_parser().parse_args(
        ["user", "disable", "ada", "--database-url", "sqlite:///x.db", "--log-format", "json"]
    )
    settings = _settings_from(args)
    assert (args.action, args.username) == ("disable", "ada")
    assert settings.database_url == "sqlite:///x.db"
    assert settings.log_format == "json"
    assert build_parser().parse_args(["migrate", "--status"]).status is True


def test_a_user_command_without_a_username_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["user", "create"])
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite+aiosqlite:///data/baatcheet.db", "sqlite+aiosqlite:///data/baatcheet.db"),
        ("postgresql+asyncpg://chat:pw@db:5432/chat", "postgresql+asyncpg://chat:***@db:5432/chat"),
        ("postgresql://chat:p@ss@db/chat?ssl=require", "postgresql://chat:***@db/chat?ssl=require"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("unix:///run/redis.sock?db=0&password=pw", "unix:///run/redis.sock?db=0&password=***"),
    ],
)
def test_urls_are_shown_without_their_passwords(url: str, shown: str) -> None:
    assert _mask_url(url) == shown
