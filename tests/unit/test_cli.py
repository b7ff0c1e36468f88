"""The CLI and the settings reference are derived from the one Settings object."""

from __future__ import annotations

from pathlib import Path

import pytest

from baatcheet.cli import _settings_from, build_parser, main, settings_markdown
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
