"""Encryption at rest: what people write is ciphertext in the database (seen below the column
types, and in the SQLite file itself), the key comes from outside the database, a wrong key
fails clearly, keys rotate, and the migration encrypts what was stored before."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from bot.app import App
from bot.config import ConfigError, load_settings
from bot.factory import configure_data_key, dev_key_path
from bot.telegram.offline import ChatClient
from db import Database
from db import types as crypto
from db.migrate import upgrade
from db.rekey import rekey
from db.repositories import (
    AnswerRepository,
    HandoffRepository,
    NewRequest,
    OutboxRepository,
    PersonRepository,
    RelayRepository,
    StateRepository,
)
from tests.features.handoff.support import (
    ANNA,
    card_message,
    coach,
    deliver,
    latest_request,
    onboard,
    press,
)
from tests.support import TEST_DATA_KEY, Harness, fresh_postgres, make_harness, make_settings

OTHER_KEY = "EZgatCBZGFmhRvqv2fxzTUm_Pgz4Xebv-xh69OY_gV8="

# what the person and the coach type in the whole conversation
FIRST_NAME = "Zelmiina"
WORK_YEARS = "37"
FREE_TEXT = "Haaveilen puutarhasta Oulussa"
DETAILS = "Tarvitsen apua hakemuksen kanssa"
PHONE = "040 765 4321"
PHONE_NORMALISED = "+358407654321"
PERSON_WROTE = "Kiitos, lähetän todistukset huomenna"
COACH_WROTE = "Hei! Soitan sinulle torstaina"
#: long enough to be found by grepping a binary file without false alarms
TYPED = (FIRST_NAME, FREE_TEXT, DETAILS, PHONE, PHONE_NORMALISED, PERSON_WROTE, COACH_WROTE)


async def whole_conversation(h: Harness) -> ChatClient:
    """Onboarding, the demo dialog with a typed number and free text, a handoff by phone, a
    coach's reply and the person's answer, all through the real dispatcher."""
    from tests.features.handoff.support import ask_for_coach

    anna = coach(h, ANNA, "Anna")
    person = await onboard(h, first_name=FIRST_NAME)
    await person.click("Demo")
    await person.click("Yli 50")
    await person.send(WORK_YEARS)
    await person.click("Logistiikka")
    await person.click("Valmis")
    await person.send(FREE_TEXT)
    await ask_for_coach(person, details=DETAILS, contact="Puhelimella", phone=PHONE)
    await deliver(h)
    req = await latest_request(h)
    await press(anna, card_message(h, req), "🙋 Otan tämän")
    await anna.send(COACH_WROTE, reply_to=card_message(h, req))
    await person.send(PERSON_WROTE)
    await deliver(h)
    return person


def sqlite_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as they lie on the disk."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


# -- what the person typed is not in the database --------------------------------------------


async def test_the_database_file_holds_nothing_the_person_typed(happ: App, tmp_path: Path) -> None:
    h = make_harness(happ)
    await whole_conversation(h)
    # the bot still reads everything back (through the column types)
    req = await latest_request(h)
    assert (req.first_name, req.details, req.phone) == (FIRST_NAME, DETAILS, PHONE_NORMALISED)
    async with happ.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(1001)
        assert person is not None
        answers = await AnswerRepository(session).for_person(person.id)
        relayed = await RelayRepository(session).for_request(req.id)
    assert answers["free_text"] == FREE_TEXT
    assert answers["work_years"] == 37
    assert answers["age_group"] == "50_plus"
    assert [m["text"] for m in relayed] == [COACH_WROTE, PERSON_WROTE]

    # below the column types: ciphertext, and choices plain for the reports
    path = tmp_path / "test.sqlite3"
    with sqlite3.connect(path) as raw:
        rows = dict(raw.execute("select key, coalesce(value, private_value) from answers"))
        plain = dict(raw.execute("select key, value from answers where value is not null"))
        request_row = raw.execute(
            "select first_name, details, phone, shared_answers from handoff_requests"
        ).fetchone()
        relay_texts = [r[0] for r in raw.execute("select text from relay_messages")]
        payloads = [r[0] for r in raw.execute("select payload from outbox")]
        states = [r[0] for r in raw.execute("select data from conversation_states")]
    for key in ("free_text", "work_years", "handoff_details", "phone"):
        assert rows[key].startswith(crypto.TOKEN_PREFIX), key
    assert plain["age_group"] == '"50_plus"'
    assert plain["interests"] == '["logistics"]'
    assert "free_text" not in plain
    assert "phone" not in plain
    for value in (*request_row[:3], *relay_texts, *payloads, *states):
        assert str(value).startswith(crypto.TOKEN_PREFIX), value
    assert request_row[3] is None or request_row[3].startswith(crypto.TOKEN_PREFIX)

    # and in the file on the disk, before and after the write-ahead log is folded in
    for _ in range(2):
        content = sqlite_bytes(path)
        for typed in TYPED:
            assert typed.encode() not in content, typed
        await happ.db.dispose()  # the last connection checkpoints the WAL into the file


# -- every encrypted column, on SQLite and PostgreSQL ----------------------------------------


async def _store_everything(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(1001, "fi")
        answers = AnswerRepository(session)
        await answers.save(person.id, "demo", "free_text", FREE_TEXT)
        await answers.save(person.id, "demo", "age_group", "50_plus", plain=True)
        handoff = HandoffRepository(session)
        request_id = await handoff.create(
            NewRequest(
                person_id=person.id,
                language="fi",
                first_name=FIRST_NAME,
                topic="job_search",
                contact_method="phone",
                details=DETAILS,
                phone=PHONE_NORMALISED,
                meeting_preference=None,
                share_answers=True,
                municipality="oulu",
                age_group="50_plus",
                shared_answers={"free_text": FREE_TEXT},
            )
        )
        assert request_id is not None
        await RelayRepository(session).log(request_id, "to_coach", "text", text=PERSON_WROTE)
        await OutboxRepository(session).enqueue(
            "relay:1:0", "relay_in", payload={"text": PERSON_WROTE}, request_id=request_id
        )
        await StateRepository(session).put("42:1001:1001:0:default", 1001, data={"a": FREE_TEXT})
    return person.id, request_id


RAW_SELECTS = (
    "select coalesce(value, private_value) from answers where key = 'free_text'",
    "select first_name from handoff_requests",
    "select details from handoff_requests",
    "select phone from handoff_requests",
    "select shared_answers from handoff_requests",
    "select text from relay_messages",
    "select payload from outbox",
    "select data from conversation_states",
)


async def test_every_encrypted_column_is_ciphertext_below_the_types(database: Database) -> None:
    person_id, request_id = await _store_everything(database)
    async with database.read() as session:
        for query in RAW_SELECTS:
            [value] = (await session.execute(text(query))).scalars().all()
            assert str(value).startswith(crypto.TOKEN_PREFIX), query
            assert all(t not in value for t in TYPED)
        plain = await session.scalar(text("select value from answers where key = 'age_group'"))
        assert plain == '"50_plus"'
        # through the repositories it reads as written
        assert await AnswerRepository(session).for_person(person_id) == {
            "free_text": FREE_TEXT,
            "age_group": "50_plus",
        }
        req = await HandoffRepository(session).get(request_id)
        assert req is not None
        assert (req.first_name, req.details, req.phone) == (FIRST_NAME, DETAILS, PHONE_NORMALISED)
        assert req.shared_answers == {"free_text": FREE_TEXT}
        [relay] = await RelayRepository(session).for_request(request_id)
        assert relay["text"] == PERSON_WROTE
        item = await OutboxRepository(session).by_key("relay:1:0")
        assert item is not None
        assert item.payload == {"text": PERSON_WROTE}
        state = await StateRepository(session).get("42:1001:1001:0:default")
        assert state == (None, {"a": FREE_TEXT})


async def test_an_answer_changes_column_when_its_kind_changes(database: Database) -> None:
    async with database.transaction() as session:
        person, _ = await PersonRepository(session).ensure(1001, "fi")
        answers = AnswerRepository(session)
        await answers.save(person.id, "demo", "k", "typed")
        await answers.save(person.id, "demo", "k", "chosen", plain=True)
    async with database.read() as session:
        row = (await session.execute(text("select value, private_value from answers"))).one()
        assert tuple(row) == ('"chosen"', None)


# -- the key -------------------------------------------------------------------------------


async def test_a_wrong_key_fails_clearly(database: Database) -> None:
    await _store_everything(database)
    crypto.configure(OTHER_KEY)
    with pytest.raises(crypto.DataKeyError) as caught:
        async with database.read() as session:
            await HandoffRepository(session).get(1)
    message = str(caught.value)
    assert message == (
        "a stored value cannot be decrypted with DATA_KEY: wrong key, or the key it was "
        "written with is missing from the list"
    )
    assert OTHER_KEY not in message
    assert TEST_DATA_KEY not in message
    crypto.configure(None)
    with pytest.raises(StatementError) as refused:
        async with database.transaction() as session:
            await RelayRepository(session).log(1, "to_coach", "text", text="x")
    assert isinstance(refused.value.orig, crypto.DataKeyError)
    assert str(refused.value.orig).startswith("no data key is configured (DATA_KEY)")
    assert "'x'" not in str(refused.value)  # the engine hides statement parameters


def test_a_malformed_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(crypto.DataKeyError, match="not a valid key"):
        crypto.Keyring.parse("not-a-key")
    monkeypatch.setenv("DATA_KEY", f"{TEST_DATA_KEY},short-secret-value")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value).startswith("DATA_KEY: is not a valid key (key 2 of 2)")
    assert "short-secret-value" not in str(caught.value)


async def test_keys_rotate_and_rekey_moves_everything_to_the_newest(database: Database) -> None:
    person_id, request_id = await _store_everything(database)  # written with the test key
    crypto.configure(f"{OTHER_KEY},{TEST_DATA_KEY}")  # a new key first, the old one still read
    async with database.read() as session:
        req = await HandoffRepository(session).get(request_id)
    assert req is not None
    assert req.phone == PHONE_NORMALISED
    async with database.transaction() as session:  # written now: with the new key
        await AnswerRepository(session).save(person_id, "demo", "note", "uusi")

    async with database.transaction() as session:
        count = await rekey(session)
    assert (count.values, count.reencrypted) == (9, 8)
    async with database.transaction() as session:
        again = await rekey(session)
    assert (again.values, again.reencrypted) == (9, 0)

    crypto.configure(OTHER_KEY)  # the old key can go
    async with database.read() as session:
        req = await HandoffRepository(session).get(request_id)
        answers = await AnswerRepository(session).for_person(person_id)
    assert req is not None
    assert (req.first_name, req.details) == (FIRST_NAME, DETAILS)
    assert answers == {"free_text": FREE_TEXT, "age_group": "50_plus", "note": "uusi"}
    crypto.configure(TEST_DATA_KEY)  # and the old key alone no longer opens anything
    with pytest.raises(crypto.DataKeyError):
        async with database.read() as session:
            await HandoffRepository(session).get(request_id)


async def test_rekey_stores_answers_as_the_dialogs_say(database: Database) -> None:
    async with database.transaction() as session:
        person, _ = await PersonRepository(session).ensure(1001, "fi")
        answers = AnswerRepository(session)
        await answers.save(person.id, "demo", "age_group", "50_plus")  # as the migration left it
        await answers.save(person.id, "demo", "free_text", FREE_TEXT, plain=True)  # wrongly plain
    async with database.transaction() as session:
        count = await rekey(session, plain_answer_keys={"age_group"})
    assert (count.made_plain, count.made_private) == (1, 1)
    async with database.read() as session:
        rows = dict((await session.execute(text("select key, value from answers"))).all())
        secret = await session.scalar(
            text("select private_value from answers where key = 'free_text'")
        )
        assert await AnswerRepository(session).for_person(person.id) == {
            "age_group": "50_plus",
            "free_text": FREE_TEXT,
        }
    assert rows == {"age_group": '"50_plus"', "free_text": None}
    assert secret is not None
    assert secret.startswith(crypto.TOKEN_PREFIX)


def test_development_key_is_kept_beside_the_database_and_reused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, environment="development")
    path = dev_key_path(settings.database_url)
    assert path == tmp_path / "dev-data.key"
    configure_data_key(settings)
    first = crypto.keyring()
    token = first.encrypt("x")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    configure_data_key(settings)
    assert crypto.keyring() is not first
    assert crypto.decrypt(token) == "x"  # the same key, read from the file
    assert dev_key_path("postgresql://u@h/db") == Path("data/dev-data.key")


@pytest.mark.parametrize(
    "env",
    [
        {"BOT_TOKEN": "123456:ABCdefGHIjklMNOpqrSTUvwx"},
        {"ENVIRONMENT": "production"},
    ],
)
def test_production_without_data_key_refuses_to_start(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("DATA_KEY", "ENVIRONMENT", "BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("urapolku: configuration error: DATA_KEY is not set; production")
    assert err.count("\n") == 1
    assert not (tmp_path / "dev-data.key").exists()
    assert not (tmp_path / "data").exists()


def test_migrate_and_rekey_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from tests.support import ROOT

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    monkeypatch.setenv("DIALOGS_DIR", str(ROOT / "dialogs"))
    monkeypatch.setenv("CONTENT_DIR", str(ROOT / "content"))
    assert main(["rekey", "--new-key"]) == 0
    new_key = capsys.readouterr().out.strip()
    crypto.Keyring.parse(new_key)  # a valid key
    monkeypatch.setenv("DATA_KEY", f"{new_key},{TEST_DATA_KEY}")
    assert main(["rekey"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("0 of 0 encrypted value(s) re-encrypted with the newest key")
    assert "DATA_KEY may now be the newest key alone (it lists 2)" in out


# -- the migration encrypts what was stored before -------------------------------------------


async def _database_at_0003(kind: str, tmp_path: Path) -> Database:
    if kind == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    else:
        db = await fresh_postgres()
        async with db.engine.begin() as connection:
            await connection.execute(text("drop schema public cascade"))
            await connection.execute(text("create schema public"))
    await upgrade(db, "0003")
    return db


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_migration_encrypts_rows_stored_in_plain_text(kind: str, tmp_path: Path) -> None:
    db = await _database_at_0003(kind, tmp_path)
    try:
        now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        statements: list[tuple[str, dict[str, Any]]] = [
            (
                "insert into persons (id, telegram_id, language, first_seen, last_seen) "
                "values (1, 1001, 'fi', :now, :now)",
                {},
            ),
            (
                "insert into answers (person_id, dialog, key, value, answered_at) "
                "values (1, 'demo', 'free_text', :v, :now)",
                {"v": f'"{FREE_TEXT}"'},
            ),
            (
                "insert into conversation_states (key, subject, data, updated_at) "
                "values ('k', 1001, :v, :now)",
                {"v": f'{{"answers":{{"free_text":"{FREE_TEXT}"}}}}'},
            ),
            (
                "insert into handoff_requests (id, person_id, status, language, first_name, "
                "topic, details, contact_method, phone, share_answers, shared_answers, "
                "created_at, announced_at, reannouncements, last_activity_at) values (1, 1, "
                "'new', 'fi', :name, 'other', :details, 'phone', :phone, true, :shared, :now, "
                ":now, 0, :now)",
                {
                    "name": FIRST_NAME,
                    "details": DETAILS,
                    "phone": PHONE_NORMALISED,
                    "shared": f'{{"free_text": "{FREE_TEXT}"}}',
                },
            ),
            (
                "insert into relay_messages (request_id, direction, kind, text, at, status) "
                "values (1, 'to_coach', 'text', :t, :now, 'sent')",
                {"t": PERSON_WROTE},
            ),
            (
                "insert into outbox (key, kind, request_id, payload, status, attempts, "
                "next_attempt_at, created_at) values ('relay:1:0', 'relay_in', 1, :p, "
                "'pending', 0, :now, :now)",
                {"p": f'{{"text": "{PERSON_WROTE}"}}'},
            ),
        ]
        async with db.engine.begin() as connection:
            for sql, params in statements:
                await connection.execute(text(sql), {"now": now, **params})
        await upgrade(db)
        async with db.read() as session:
            for query in RAW_SELECTS:
                [value] = (await session.execute(text(query))).scalars().all()
                assert str(value).startswith(crypto.TOKEN_PREFIX), query
            req = await HandoffRepository(session).get(1)
            assert req is not None
            assert (req.first_name, req.details, req.phone) == (
                FIRST_NAME,
                DETAILS,
                PHONE_NORMALISED,
            )
            assert req.shared_answers == {"free_text": FREE_TEXT}
            assert await AnswerRepository(session).for_person(1) == {"free_text": FREE_TEXT}
            [relay] = await RelayRepository(session).for_request(1)
            assert relay["text"] == PERSON_WROTE
            item = await OutboxRepository(session).by_key("relay:1:0")
            assert item is not None
            assert item.payload == {"text": PERSON_WROTE}
            assert await StateRepository(session).get("k") == (
                None,
                {"answers": {"free_text": FREE_TEXT}},
            )
    finally:
        await db.dispose()


async def test_migration_of_personal_rows_without_a_key_is_refused(tmp_path: Path) -> None:
    db = await _database_at_0003("sqlite", tmp_path)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "insert into conversation_states (key, subject, data, updated_at) "
                    "values ('k', 1, 'x', '2026-03-02 10:00:00')"
                )
            )
        crypto.configure(None)
        with pytest.raises(crypto.DataKeyError, match="no data key is configured"):
            await upgrade(db)
        async with db.engine.connect() as connection:  # rolled back as a whole
            version = await connection.scalar(text("select version_num from alembic_version"))
            stored = await connection.scalar(text("select data from conversation_states"))
        assert (version, stored) == ("0003", "x")
    finally:
        await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_downgrade_of_0004_gives_back_plain_text(kind: str, tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy.engine import Connection

    from db.migrate import alembic_config

    db = await _database_at_0003(kind, tmp_path)
    try:
        await upgrade(db, "0004")
        # raw rows as 0004 stores them (the models may be ahead of 0004)
        now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        enc = crypto.encrypt
        async with db.engine.begin() as connection:
            for sql, params in (
                (
                    "insert into persons (id, telegram_id, language, first_seen, last_seen) "
                    "values (1, 1001, 'fi', :now, :now)",
                    {},
                ),
                (
                    "insert into answers (person_id, dialog, key, value, private_value, "
                    "answered_at) values (1, 'demo', 'free_text', null, :secret, :now), "
                    "(1, 'demo', 'age_group', '\"50_plus\"', null, :now)",
                    {"secret": enc(f'"{FREE_TEXT}"')},
                ),
                (
                    "insert into handoff_requests (id, person_id, status, language, "
                    "first_name, topic, details, contact_method, phone, share_answers, "
                    "created_at, announced_at, reannouncements, last_activity_at) values "
                    "(1, 1, 'new', 'fi', :name, 'other', :details, 'phone', :phone, false, "
                    ":now, :now, 0, :now)",
                    {
                        "name": enc(FIRST_NAME),
                        "details": enc(DETAILS),
                        "phone": enc(PHONE_NORMALISED),
                    },
                ),
                (
                    "insert into relay_messages (request_id, direction, kind, text, at, status) "
                    "values (1, 'to_coach', 'text', :t, :now, 'sent')",
                    {"t": enc(PERSON_WROTE)},
                ),
            ):
                await connection.execute(text(sql), {"now": now, **params})

        def downgrade(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")

        async with db.engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with db.engine.connect() as connection:
            answers = dict((await connection.execute(text("select key, value from answers"))).all())
            request_row = (
                await connection.execute(
                    text("select first_name, details, phone from handoff_requests")
                )
            ).one()
            relay = await connection.scalar(text("select text from relay_messages"))
        assert answers == {"free_text": f'"{FREE_TEXT}"', "age_group": '"50_plus"'}
        assert tuple(request_row) == (FIRST_NAME, DETAILS, PHONE_NORMALISED)
        assert relay == PERSON_WROTE
    finally:
        await db.dispose()
