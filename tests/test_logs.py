"""Logs never hold what people wrote, their names, phone numbers, or the bot token: a whole
conversation runs with everything logged at DEBUG, and the captured log is searched."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logsetup
from bot.app import App
from bot.logsetup import JsonFormatter, Redactor, setup_logging
from tests.db.test_crypto import TYPED, WORK_YEARS, whole_conversation
from tests.support import TEST_DATA_KEY, TEST_TOKEN, make_harness

#: a token as @BotFather gives them (the test token is shorter than real ones)
REAL_LOOKING_TOKEN = "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def logging_as_configured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The bot's own logging setup at DEBUG, with pytest's capture on the root logger; the
    process's logging is put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    levels = {
        name: logging.getLogger(name).level
        for name in ("aiogram.event", "alembic", *logsetup.QUIET_ALWAYS)
    }
    saved_factory = logging.getLogRecordFactory()
    saved_base = logsetup._base_factory
    setup_logging("DEBUG", "text", [TEST_TOKEN, TEST_DATA_KEY])
    root.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        logging.setLogRecordFactory(saved_factory)
        logsetup._base_factory = saved_base


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Messages, tracebacks and the formatted lines, as a handler would write them."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


async def test_a_whole_conversation_logged_at_debug_holds_nothing_personal(
    happ: App, logging_as_configured: pytest.LogCaptureFixture
) -> None:
    caplog = logging_as_configured
    h = make_harness(happ)
    await whole_conversation(h)
    logged = everything_logged(caplog)
    assert len(caplog.records) >= 15  # aiogram reports every update it handled
    assert "aiogram.event" in {r.name for r in caplog.records}
    for secret in (*TYPED, TEST_TOKEN, TEST_DATA_KEY):
        assert secret not in logged, secret
    # the typed number only as part of other numbers, never as what was typed
    assert f"'{WORK_YEARS}'" not in logged
    assert f'"{WORK_YEARS}"' not in logged


async def test_the_token_is_masked_wherever_a_library_logs_it(
    logging_as_configured: pytest.LogCaptureFixture,
) -> None:
    caplog = logging_as_configured
    url = f"https://api.telegram.org/bot{TEST_TOKEN}/getUpdates"
    # as aiogram's polling loop reports a network failure (the URL inside aiohttp's message)
    logging.getLogger("aiogram.dispatcher").error(
        "Failed to fetch updates - %s: %s", "TelegramNetworkError", f"HTTP Client says - {url}"
    )
    logging.getLogger("aiohttp.client").debug("GET %s", url.replace(TEST_TOKEN, REAL_LOOKING_TOKEN))
    try:
        raise ConnectionError(f"Cannot connect to {url}")
    except ConnectionError:
        logging.getLogger("bot.runtime.polling").exception("update %s could not be handled", 7)
    logged = everything_logged(caplog)
    assert TEST_TOKEN not in logged
    assert REAL_LOOKING_TOKEN not in logged
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in logged
    assert "https://api.telegram.org/bot***/getUpdates" in logged
    assert "ConnectionError: Cannot connect to https://api.telegram.org/bot***/getUpdates" in logged


def test_database_libraries_stay_quiet_at_debug(
    logging_as_configured: pytest.LogCaptureFixture,
) -> None:
    for name in ("sqlalchemy.engine.Engine", "aiosqlite"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    assert logging.getLogger("aiogram.event").isEnabledFor(logging.DEBUG)


def test_json_format_is_one_object_a_line_and_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(logsetup.RedactingFilter([TEST_TOKEN]))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("update %s: %s", 5, f"/bot{TEST_TOKEN}/sendMessage")
        try:
            raise RuntimeError(f"token {TEST_TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"], first["message"]) == (
        "WARNING",
        "test.json",
        "update 5: /bot***/sendMessage",
    )
    assert second["exception"].endswith("RuntimeError: token ***")


def test_log_format_json_from_the_settings(tmp_path: Path) -> None:
    from tests.support import make_settings

    assert make_settings(tmp_path, log_format="json").log_format == "json"
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_factory, saved_base = logging.getLogRecordFactory(), logsetup._base_factory
    try:
        setup_logging("INFO", "json", [TEST_TOKEN])
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logging.setLogRecordFactory(saved_factory)
        logsetup._base_factory = saved_base


def test_redactor_masks_longest_secrets_first() -> None:
    redactor = Redactor(["abcdef", "abcdefghij", ""])
    assert redactor.clean("x abcdefghij y abcdef") == "x *** y ***"
