"""Retention, on SQLite and PostgreSQL: people not seen for RETENTION_DAYS (blocked or not) are
erased like a /delete, relayed texts of requests closed more than RELAY_RETENTION_DAYS ago are
blanked; ``urapolku purge --dry-run`` counts exactly what a real run removes; the daily job.
A conversation kept in Redis is cleared through the aiogram storage API."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select, update

from bot.app import App
from bot.catalogue import HELSINKI
from bot.cli import main
from bot.factory import build_scheduler, create_bot, create_dispatcher
from bot.features import build_registry
from bot.features.privacy.service import PURGE_JOB, purge
from bot.telegram.offline import OfflineSession
from db import Database
from db.models import (
    Answer,
    ConversationStateRow,
    EventSignup,
    HandoffRequest,
    Person,
    RelayMessage,
)
from db.repositories import (
    AnswerRepository,
    ErasureCounts,
    EventRepository,
    HandoffRepository,
    NewRequest,
    PersonRepository,
    RelayRepository,
    StateRepository,
    StatsRepository,
)
from tests.features.handoff.support import Clock
from tests.support import (
    REDIS_URL,
    ROOT,
    TEST_DATA_KEY,
    TEST_TOKEN,
    Harness,
    app_on,
    make_settings,
    reachable,
)

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)
OLD = NOW - timedelta(days=400)
YK = "yrittajakaverit-karkkila"
YK_START = datetime(2027, 1, 19, 9, 0, tzinfo=HELSINKI)
OLD_TG, BLOCKED_TG, RECENT_TG, SEATED_TG = 700_000_001, 700_000_002, 700_000_003, 700_000_004


async def _app(database: Database, tmp_path: Path) -> App:
    settings = make_settings(tmp_path, bundled=True, database_url=database.url)
    app = app_on(settings, database, build_registry())
    app.clock = Clock(NOW)
    return app


async def _request(
    database: Database, person_id: int, *, closed_at: datetime, texts: list[str]
) -> int:
    async with database.transaction() as session:
        handoff = HandoffRepository(session)
        request_id = await handoff.create(
            NewRequest(person_id, "fi", "Maija", "job_search", "chat", details="Apua CV:hen"),
            now=closed_at - timedelta(days=1),
        )
        assert request_id is not None
        relay = RelayRepository(session)
        for text in texts:
            await relay.log(request_id, "to_coach", "text", text=text, now=closed_at)
        await handoff.close(request_id, "helped", now=closed_at)
    return request_id


async def seed(database: Database) -> dict[str, int]:
    """Four people and three requests (two of the recent person's)."""
    ids: dict[str, int] = {}
    async with database.transaction() as session:
        people = PersonRepository(session)
        for name, tg, seen in (
            ("old", OLD_TG, OLD),
            ("blocked", BLOCKED_TG, OLD),
            ("recent", RECENT_TG, NOW - timedelta(days=10)),
            ("seated", SEATED_TG, OLD),
        ):
            person, _ = await people.ensure(tg, "fi", now=seen)
            await people.set_consent(person.id, 1, now=seen)
            ids[name] = person.id
            await AnswerRepository(session).save(person.id, "career_plan", "free_text", f"{name} x")
            await StateRepository(session).put(f"42:{tg}:{tg}:0:default", tg, data={"a": 1})
        await people.mark_blocked(BLOCKED_TG, now=OLD + timedelta(days=1))
        await EventRepository(session).take_seat(ids["seated"], YK, YK_START, 12, now=OLD)
    await _request(database, ids["old"], closed_at=OLD, texts=["vanha 1"])
    ids["old_request"] = await _request(
        database, ids["recent"], closed_at=NOW - timedelta(days=100), texts=["a", "b"]
    )
    ids["new_request"] = await _request(
        database, ids["recent"], closed_at=NOW - timedelta(days=10), texts=["c"]
    )
    return ids


async def _people(database: Database) -> list[int]:
    async with database.read() as session:
        return sorted(int(t) for t in await session.scalars(select(Person.telegram_id)))


async def _texts(database: Database, request_id: int) -> list[str | None]:
    async with database.read() as session:
        return list(
            await session.scalars(
                select(RelayMessage.text)
                .where(RelayMessage.request_id == request_id)
                .order_by(RelayMessage.id)
            )
        )


EXPECTED = ErasureCounts(
    answers=2, requests=1, messages=1, outbox=0, states=2, persons=2, signups=0
)


async def test_purge_removes_inactive_people_and_old_relayed_texts(
    database: Database, tmp_path: Path
) -> None:
    app = await _app(database, tmp_path)
    ids = await seed(database)

    dry = await purge(app, dry_run=True)
    assert (dry.people, dry.counts, dry.relay_texts) == (2, EXPECTED, 2)
    assert await _people(database) == [OLD_TG, BLOCKED_TG, RECENT_TG, SEATED_TG]  # untouched
    assert await _texts(database, ids["old_request"]) == ["a", "b"]

    report = await purge(app)
    assert (report.people, report.counts, report.relay_texts) == (2, EXPECTED, 2)
    # the blocked and the silent are gone; someone with a seat to come stays
    assert await _people(database) == [RECENT_TG, SEATED_TG]
    assert await _texts(database, ids["old_request"]) == [None, None]
    assert await _texts(database, ids["new_request"]) == ["c"]
    async with database.read() as session:
        assert await StatsRepository(session).count("data_erased") == 2
        assert int(await session.scalar(select(func.count()).select_from(Answer)) or 0) == 2
        subjects = set(await session.scalars(select(ConversationStateRow.subject)))
        assert subjects == {RECENT_TG, SEATED_TG}
    # nothing left to do
    again = await purge(app)
    assert (again.people, again.relay_texts) == (0, 0)


async def test_the_daily_job_purges(database: Database, tmp_path: Path) -> None:
    app = await _app(database, tmp_path)
    await seed(database)
    bot = create_bot(app.settings, session=OfflineSession(), token=TEST_TOKEN)
    scheduler = build_scheduler(app, bot)
    [job] = [j for j in scheduler.jobs if j.name == PURGE_JOB]
    assert job.every == 24 * 3600
    assert await scheduler.run_once(PURGE_JOB) == 2 + 2
    assert await _people(database) == [RECENT_TG, SEATED_TG]


async def test_purge_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    database = Database(url)
    from db.migrate import upgrade

    await upgrade(database)
    ids = await seed(database)
    now = datetime.now(HELSINKI)  # the command line runs on the real clock
    async with database.transaction() as session:
        for tg in (OLD_TG, BLOCKED_TG, SEATED_TG, RECENT_TG):
            seen = now if tg == RECENT_TG else now - timedelta(days=400)
            await session.execute(
                update(Person).where(Person.telegram_id == tg).values(last_seen=seen)
            )
        await session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.id == ids["old_request"])
            .values(closed_at=now - timedelta(days=100))
        )
        await session.execute(  # the seat is in the past now
            update(EventSignup).values(starts_at=now - timedelta(days=1))
        )
    await database.dispose()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": url,
        "DIALOGS_DIR": str(ROOT / "dialogs"),
        "CONTENT_DIR": str(ROOT / "content"),
        "DATA_KEY": TEST_DATA_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)

    assert await _run(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "people not seen for 365 days: 3 would remove",
        "  answers: 3",
        "  event sign-ups: 1 (reminders: 0)",
        "  'not for me' choices: 0",
        "  coach requests made anonymous: 1 (messages: 1)",
        "  outbox messages: 0",
        "  conversation states: 3",
        "relayed texts of requests closed over 90 days ago: 2 would remove",
    ]
    assert await _run(["purge"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "people not seen for 365 days: 3 removed"
    database = Database(url)
    try:
        assert await _people(database) == [RECENT_TG]
    finally:
        await database.dispose()


async def _run(argv: list[str]) -> int:
    """``main`` runs its own event loop: give it a thread of its own."""
    import asyncio

    return await asyncio.to_thread(main, argv)


async def test_delete_clears_a_conversation_kept_in_redis(tmp_path: Path) -> None:
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    from aiogram.fsm.storage.redis import RedisStorage

    from db.migrate import upgrade

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'redis.sqlite3'}")
    await upgrade(database)
    app = await _app(database, tmp_path)
    storage = RedisStorage.from_url(REDIS_URL)
    session = OfflineSession()
    bot = create_bot(app.settings, session=session, token=TEST_TOKEN)
    h = Harness(
        app=app, dispatcher=create_dispatcher(app, storage=storage), bot=bot, session=session
    )
    key = StorageKey(bot_id=bot.id, chat_id=OLD_TG, user_id=OLD_TG)
    try:
        await storage.set_data(key, {})
        person = h.person(OLD_TG)
        await person.send("/start")
        await person.click("Suomi")
        await person.click("Kyllä, tallenna vastaukseni")
        assert (await storage.get_data(key))["dialog"] == "onboarding"
        await person.send("/delete")
        await person.click("🗑 Kyllä, poista kaikki")
        assert await storage.get_data(key) == {}
        assert await storage.get_state(key) is None
        assert (
            await storage.redis.exists(
                *(storage.key_builder.build(key, p) for p in ("data", "state"))
            )
            == 0
        )
        assert await _people(database) == []
    finally:
        await storage.set_data(key, {})
        await storage.close()
        await database.dispose()


async def test_one_person_whose_erasure_fails_does_not_keep_the_others(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.features.privacy import service

    app = await _app(database, tmp_path)
    ids = await seed(database)
    erase = service.erase_person

    async def broken_for_the_old(session: object, app: App, subject: Any, **kwargs: Any) -> Any:
        if subject.person_id == ids["old"]:
            raise LookupError("nobody expected this")
        return await erase(session, app, subject, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "erase_person", broken_for_the_old)
    report = await purge(app)
    assert report.people == 1
    # the blocked person is gone; the one whose erasure failed stays for the next run
    assert await _people(database) == [OLD_TG, RECENT_TG, SEATED_TG]
    assert f"retention: person {ids['old']} could not be erased: LookupError at" in caplog.text
    assert "nobody expected this" not in caplog.text

    monkeypatch.setattr(service, "erase_person", erase)
    assert (await purge(app)).people == 1
    assert await _people(database) == [RECENT_TG, SEATED_TG]
