"""The same conversation on PostgreSQL with the conversation state in Redis (when reachable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.methods import SendMessage

from bot.app import App
from db.repositories import AnswerRepository, PersonRepository

from .conftest import (
    REDIS_URL,
    app_on,
    fresh_postgres,
    make_harness,
    make_settings,
    reachable,
)


@pytest.fixture
async def pg_redis_app(tmp_path: Path) -> AsyncIterator[App]:
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    database = await fresh_postgres()
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    settings = make_settings(tmp_path, database_url=database.url, redis_url=REDIS_URL)
    yield app_on(settings, database)
    await database.dispose()


async def test_conversation_on_postgres_and_redis_survives_a_restart(pg_redis_app: App) -> None:
    harness = make_harness(pg_redis_app)
    person = harness.person()
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä")
    await person.click("Demo")
    await person.click("Yli 50")
    await harness.dispatcher.storage.close()

    fresh = make_harness(pg_redis_app)  # a new worker: new dispatcher, new Redis connection
    again = fresh.person(person.user_id, update_ids=harness.update_ids)
    calls = await again.send("33")
    assert [c.text for c in calls if isinstance(c, SendMessage)] == ["Mitkä alat kiinnostavat?"]
    async with pg_redis_app.db.read() as session:
        info = await PersonRepository(session).by_telegram_id(person.user_id)
        assert info is not None
        stored = await AnswerRepository(session).for_person(info.id)
    assert stored == {"language": "fi", "age_group": "50_plus", "work_years": 33}
    await fresh.dispatcher.storage.close()
