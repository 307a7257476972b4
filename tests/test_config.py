"""Bad settings: one line naming the variable and what is expected, exit code 2, no traceback."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.config import DEFAULT_DATABASE_URL, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "BOT_TOKEN",
        "TELEGRAM_API_URL",
        "DATABASE_URL",
        "COACH_CHAT_ID",
        "ADMIN_IDS",
        "DEFAULT_LANGUAGE",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COACH_CHAT_ID", "coaches", "COACH_CHAT_ID: expected a Telegram chat id (a number)"),
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS: must be numbers separated by commas"),
        (
            "TELEGRAM_API_URL",
            "ftp://example",
            "TELEGRAM_API_URL: must start with http:// or https://",
        ),
        ("DEFAULT_LANGUAGE", "de", "DEFAULT_LANGUAGE: expected fi, sv or en"),
        (
            "DATABASE_POOL_SIZE",
            "0",
            "DATABASE_POOL_SIZE: Input should be greater than or equal to 1 "
            "(expected a number from 1 to 100)",
        ),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR"),
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN: does not look like a token from @BotFather"),
    ],
)
def test_bad_value_gives_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"urapolku: configuration error: {expected}")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert value not in err or name != "BOT_TOKEN"  # a secret is never echoed back


def test_defaults_and_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "11, 22;33")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("BOT_TOKEN", "123456:ABCdefGHIjklMNOpqrSTUvwx")
    settings = load_settings()
    assert settings.admin_ids == [11, 22, 33]
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert "ABCdef" not in repr(settings)  # the token is a secret


def test_run_without_token_and_without_terminal_explains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--no-chat-fallback"]) == 2
    assert "BOT_TOKEN is not set" in capsys.readouterr().err


def test_the_pool_size_reaches_the_postgresql_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from db import Database

    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    settings = load_settings()
    assert settings.database_pool_size == 4
    # creating the engine does not connect: no server is needed
    database = Database("postgresql://u@127.0.0.1:1/x", pool_size=settings.database_pool_size)
    pool = database.engine.pool
    assert (pool.size(), pool._max_overflow) == (4, 8)  # type: ignore[attr-defined]
