"""Logging without personal data: no message texts, no names, no phone numbers, no tokens.

Code logs ids and kinds only (never what a person or a coach wrote). As a second line of
defence every log record is cleaned where it is made (a log record factory), so that whatever
handler receives it (the console, a JSON collector, pytest's capture) never sees the bot token
or the data keys: the token appears in Bot API request URLs, which aiohttp puts into some
exception messages, and tracebacks are cleaned too.

In JSON mode each line also carries the fields of where it was made (:func:`log_fields`):
``update_id`` while an update is handled, ``job`` while a scheduled job runs, and ``worker``
(the worker's number under ``--workers``; :func:`set_worker`). Only ids and names go there,
never a text.

The database libraries (SQLAlchemy, aiosqlite) log every statement with its parameters at
DEBUG; they are kept at WARNING whatever LOG_LEVEL says, because those parameters are people's
data (encrypted columns are ciphertext there, but ids and choices are not).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: a Bot API token (``123456:ABC…``) wherever it appears, e.g. in ``/bot<token>/getUpdates``
_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
MASK = "***"
#: loggers that would print SQL parameters or raw updates at DEBUG
QUIET_ALWAYS = ("sqlalchemy", "aiosqlite", "asyncpg")


class Redactor:
    """Masks the given secrets and anything shaped like a bot token."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _TOKEN_RE.sub(MASK, text)

    def clean_record(self, record: logging.LogRecord) -> None:
        """Make the record's message, traceback and stack safe, in place."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it as usual
            return
        cleaned = self.clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)


class RedactingFilter(logging.Filter):
    """The same cleaning as a handler filter (for handlers set up elsewhere)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.redactor = Redactor(secrets or [])

    def filter(self, record: logging.LogRecord) -> bool:
        self.redactor.clean_record(record)
        return True


_redactor = Redactor()
_base_factory: Callable[..., logging.LogRecord] | None = None


def _make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _base_factory is not None
    record = _base_factory(*args, **kwargs)
    _redactor.clean_record(record)
    return record


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """Clean every log record of the process as it is made (idempotent; the latest secrets
    replace earlier ones)."""
    global _base_factory, _redactor
    _redactor = Redactor(secrets)
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_make_record)


#: the fields of the work in progress (an update's id, a job's name), per task
_fields: ContextVar[dict[str, int | str]] = ContextVar("urapolku_log_fields", default={})  # noqa: B039 - never mutated
#: the fields of this process (the worker's number)
_process_fields: dict[str, int | str] = {}


@contextlib.contextmanager
def log_fields(**fields: int | str) -> Iterator[None]:
    """Records made inside (also in tasks started inside) carry ``fields`` in JSON mode.
    Ids and names only: never a text a person or a coach wrote, never a secret."""
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def set_worker(number: int) -> None:
    """This process is worker ``number`` (0, 1, …) of several."""
    _process_fields["worker"] = number


def current_fields() -> dict[str, int | str]:
    return {**_process_fields, **_fields.get()}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``LOG_FORMAT=json``): time, level, logger, message, the
    fields of :func:`log_fields` and :func:`set_worker`, and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **current_fields(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: list[str] | None = None) -> None:
    """Log to stderr as text or JSON, every record cleaned of ``secrets`` and bot tokens."""
    install_redaction(secrets or [])
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiogram logs every handled update at INFO; keep that at DEBUG unless asked for.
    quiet = logging.WARNING if level != "DEBUG" else logging.DEBUG
    logging.getLogger("aiogram.event").setLevel(quiet)
    # Alembic narrates every plugin and migration at INFO; the result is what matters.
    logging.getLogger("alembic").setLevel(quiet)
    for name in QUIET_ALWAYS:
        logging.getLogger(name).setLevel(logging.WARNING)
