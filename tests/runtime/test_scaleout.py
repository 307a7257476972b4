"""The same conversation on PostgreSQL with the conversation state in Redis (when reachable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import SendMessage

from bot.app import App
from bot.telegram.fsm.redis import redis_storage, rekey_redis
from db import types as crypto
from db.repositories import AnswerRepository, PersonRepository
from tests.support import (
    REDIS_URL,
    TEST_DATA_KEY,
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
    # what Redis holds is ciphertext (DATA_KEY), not the answers
    raw = await _raw_data(harness.dispatcher.storage, person.user_id)
    assert raw.startswith(crypto.TOKEN_PREFIX.encode())
    assert b"50_plus" not in raw
    assert crypto.decrypt_json(raw.decode())["answers"]["age_group"] == "50_plus"
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


async def _raw_data(storage: BaseStorage, telegram_id: int, bot_id: int = 42) -> bytes:
    assert isinstance(storage, RedisStorage)
    key = StorageKey(bot_id=bot_id, chat_id=telegram_id, user_id=telegram_id)
    raw = await storage.redis.get(storage.key_builder.build(key, "data"))
    assert isinstance(raw, bytes)
    return raw


async def test_redis_values_from_before_encryption_are_read_and_rekey_encrypts_all(
    pg_redis_app: App,
) -> None:
    storage = redis_storage(REDIS_URL)
    older, plain = StorageKey(42, 1, 1), StorageKey(42, 2, 2)
    try:
        await storage.set_data(older, {"answers": {"details": "velkaa"}})  # the test key
        await storage.redis.set(storage.key_builder.build(plain, "data"), '{"step": "age"}')
        assert await storage.get_data(plain) == {"step": "age"}  # written before encryption

        other = crypto.generate_key()
        crypto.configure(f"{other},{TEST_DATA_KEY}")  # a new key first, the old one still read
        count = await rekey_redis(REDIS_URL)
        assert (count.values, count.changed) == (2, 2)
        assert (await rekey_redis(REDIS_URL)).changed == 0

        crypto.configure(other)  # the old key can go
        assert await storage.get_data(older) == {"answers": {"details": "velkaa"}}
        assert await storage.get_data(plain) == {"step": "age"}
        for telegram_id in (1, 2):
            raw = await _raw_data(storage, telegram_id)
            assert crypto.keyring().is_newest(raw.decode())
    finally:
        await storage.close()


def test_rekey_from_the_command_line_covers_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    import asyncio

    from bot.cli import main
    from tests.support import ROOT

    async def one_plain_value() -> None:
        storage = redis_storage(REDIS_URL)
        try:
            await storage.redis.flushdb()
            await storage.redis.set(
                storage.key_builder.build(StorageKey(42, 3, 3), "data"), '{"step": "age"}'
            )
        finally:
            await storage.close()

    asyncio.run(one_plain_value())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    monkeypatch.setenv("DIALOGS_DIR", str(ROOT / "dialogs"))
    monkeypatch.setenv("CONTENT_DIR", str(ROOT / "content"))
    monkeypatch.setenv("DATA_KEY", TEST_DATA_KEY)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    assert main(["rekey"]) == 0
    assert (
        "1 of 1 conversation(s) in Redis encrypted with the newest key" in capsys.readouterr().out
    )
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    assert main(["rekey"]) == 2
    assert "conversations in Redis not re-encrypted" in capsys.readouterr().err
