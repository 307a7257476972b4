"""What the tests share: settings and an App on a fresh SQLite file, the real Dispatcher with an
offline Bot API session (:class:`Harness`), people who talk to it, one clock that tests move
by hand, one way to onboard a person, and the test databases."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy import event, text

from bot.app import App
from bot.catalogue import HELSINKI
from bot.config import Settings
from bot.content.snapshot import Content, load_content
from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply
from bot.factory import create_bot, create_dispatcher
from bot.features import build_registry, content_sections
from bot.telegram.offline import ChatClient, OfflineSession
from db import Database
from db.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


#: each pytest-xdist worker its own Redis database (tests empty theirs with FLUSHDB); 14 is
#: bench/throughput.py's
_WORKER = int("0" + "".join(c for c in os.environ.get("PYTEST_XDIST_WORKER", "") if c.isdigit()))


#: TEST_REDIS_SERVER lets two test runs on one machine use two Redis servers
_REDIS_SERVER = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379")


REDIS_URL = os.environ.get(
    "TEST_REDIS_URL", f"{_REDIS_SERVER}/{(15, 13, 12, 11, 10, 9, 8, 7)[_WORKER % 8]}"
)


ROOT = Path(__file__).resolve().parents[1]


FIXTURES = Path(__file__).resolve().parent / "fixtures"


TEST_TOKEN = "42:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz"


#: the tests' data key (db.types): no DATA_KEY is needed in the environment to run them
TEST_DATA_KEY = "hLRmK5giwMZPK0BXn24OZ-_Zd8iqDiKq6l6oOmGl-XY="


async def echo_action(ctx: ActionContext) -> ActionResult:
    """A test action: shows how many answers it was given and reports an outcome."""
    return ActionResult(
        replies=[Reply(f"ECHO {len(ctx.answers)} {ctx.language}")],
        outcome="many" if len(ctx.answers) > 3 else None,
    )


def make_settings(tmp_path: Path, *, bundled: bool = False, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": None,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}",
        "dialogs_dir": ROOT / "dialogs" if bundled else FIXTURES / "dialogs",
        "content_dir": ROOT / "content" if bundled else FIXTURES / "content",
        "admin_ids": [],
        "coach_chat_id": None,
        # tests type much faster than people; flood control has its own test
        "flood_limit": 10_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def registry_with_echo() -> ActionRegistry:
    """The bot's actions plus the test-only 'echo' used by the fixture dialogs."""
    registry = build_registry()
    registry.register("echo", echo_action)
    return registry


def app_on(settings: Settings, database: Database, registry: ActionRegistry | None = None) -> App:
    """An App with the content of ``settings`` on an already migrated ``database``."""
    registry = registry or registry_with_echo()
    content = _load_content(
        settings.dialogs_dir,
        settings.content_dir,
        settings.default_language,
        frozenset(registry),
    )
    return App(settings=settings, db=database, content=content, actions=registry)


_READ_ONLY = (ROOT / "dialogs", ROOT / "content", FIXTURES / "dialogs", FIXTURES / "content")
_loaded: dict[tuple[Path, Path, str, frozenset[str]], Content] = {}


def _load_content(
    dialogs_dir: Path, content_dir: Path, language: str, actions: frozenset[str]
) -> Content:
    """Content is loaded and checked once per test process for the repository's own files
    (the bundled content and the fixtures, which no test edits): a snapshot is immutable, and
    loading it takes most of a test's set-up. Content in a test's own folder is loaded fresh."""
    key = (dialogs_dir, content_dir, language, actions)
    cached = _loaded.get(key)
    if cached is None:
        cached = load_content(
            dialogs_dir,
            content_dir,
            default_language=language,
            actions=actions,
            sections=content_sections(),
        )
        if dialogs_dir in _READ_ONLY and content_dir in _READ_ONLY:
            _loaded[key] = cached
    return cached


async def make_app(settings: Settings, registry: ActionRegistry | None = None) -> App:
    database = Database(settings.database_url)
    await upgrade(database)
    return app_on(settings, database, registry)


@dataclass
class Harness:
    app: App
    dispatcher: Dispatcher
    bot: Bot
    session: OfflineSession
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def person(self, user_id: int = 1001, **kwargs: Any) -> ChatClient:
        kwargs.setdefault("update_ids", self.update_ids)
        return ChatClient(self.dispatcher, self.bot, self.session, user_id=user_id, **kwargs)


def make_harness(app: App) -> Harness:
    session = OfflineSession()
    bot = create_bot(app.settings, session=session, token=TEST_TOKEN)
    return Harness(app=app, dispatcher=create_dispatcher(app), bot=bot, session=session)


def texts_of(calls: list[Any]) -> list[str]:
    """The texts of messages sent and edited, in order."""
    return [
        c.text for c in calls if hasattr(c, "text") and isinstance(getattr(c, "text", None), str)
    ]


def buttons_of(call: Any) -> list[tuple[str, str | None]]:
    markup = getattr(call, "reply_markup", None)
    if markup is None:
        return []
    return [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]


CallFilter = Callable[[Any], bool]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database runs meanwhile (BEGIN included)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def while_another_writer_holds_the_lock(
    path: Path, turn: Callable[[], Awaitable[None]]
) -> int:
    """Run ``turn`` while another connection (another process, in effect) holds SQLite's
    write lock; the lock is released once the event loop has ticked 20 times with ``turn``
    still waiting, then ``turn`` must finish. Returns the ticks (20: the loop was free)."""
    import asyncio
    import sqlite3

    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0
    try:
        task = asyncio.create_task(turn())
        for _ in range(20):  # the loop is free while the BEGIN waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not task.done()
        other.execute("COMMIT")
        await asyncio.wait_for(task, 10)
    finally:
        other.close()
    return ticks


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


_worker_database: str | None = None


async def _worker_postgres_url() -> str:
    """A database of this test process's own (created once from ``TEST_POSTGRES_URL``), so that
    several test runs on one machine never empty each other's tables."""
    global _worker_database
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    name = f"{base.database}_w{os.getpid()}"
    if _worker_database is None:
        admin = Database(POSTGRES_URL)
        try:
            async with admin.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(f'drop database if exists "{name}"'))
                await connection.execute(text(f'create database "{name}"'))
        finally:
            await admin.dispose()
        _worker_database = name
    return base.set(database=name).render_as_string(hide_password=False)


async def fresh_postgres() -> Database:
    """This process's PostgreSQL test database, emptied and migrated (skips the test if
    PostgreSQL is unreachable)."""
    if not reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    from sqlalchemy import text

    database = Database(await _worker_postgres_url())
    async with database.engine.begin() as connection:
        await connection.execute(text("drop schema public cascade"))
        await connection.execute(text("create schema public"))
    await upgrade(database)
    return database


#: a whole career plan in Finnish, the one walk that ends with suggestions for Karkkila
CAREER_PLAN_ANSWERS = (
    "Olen työtön",
    "Yli vuoden",
    "50 vuotta tai yli",
    "Karkkila",
    "Ammatillinen tutkinto",
    "Rakentaminen",
    "Valmis ✅",
    "Oma yritys",
    "Valmis ✅",
    "Minulla on idea",
    "Ryhmässä muiden kanssa",
    "Valmis ✅",
    "Hyvin",
)


async def walk_career_plan(person: ChatClient) -> list[Any]:
    """From the main menu through the career plan; returns the calls of the last ("Ohita")."""
    await person.click("Suunnittele polkuni")
    for answer in CAREER_PLAN_ANSWERS:
        await person.click(answer)
    return await person.click("Ohita")


def drop_worker_postgres() -> None:
    """Drop this process's PostgreSQL test database, if it made one."""
    if _worker_database is None:
        return

    async def drop() -> None:
        admin = Database(POSTGRES_URL)
        try:
            async with admin.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(
                    text(f'drop database if exists "{_worker_database}" with (force)')
                )
        finally:
            await admin.dispose()

    asyncio.run(drop())


class Clock:
    """``app.clock`` that tests move by hand (aware UTC datetimes)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set_local(self, *parts: int) -> None:
        """Set the clock to a wall-clock time in Finland: ``set_local(2026, 3, 2, 9, 0)``."""
        self.now = datetime(*parts, tzinfo=HELSINKI).astimezone(UTC)  # type: ignore[misc]


#: the consent button's words per first-screen language button
YES = {"Suomi": "Kyllä", "Svenska": "Ja", "English": "Yes"}
NO = {"Suomi": "Jatka tallentamatta"}


async def onboard(
    h: Harness,
    user_id: int = 1001,
    *,
    consent: bool | str = True,
    language: str = "Suomi",
    first_name: str | None = None,
) -> ChatClient:
    """A new person: /start, a language, and consent (True, False, or a button's own words)."""
    person = h.person(user_id) if first_name is None else h.person(user_id, first_name=first_name)
    await person.send("/start")
    await person.click(language)
    if isinstance(consent, str):
        await person.click(consent)
    else:
        await person.click(YES[language] if consent else NO[language])
    return person
