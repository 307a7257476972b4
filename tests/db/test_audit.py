"""The audit log: each coach and admin action on a request writes exactly one entry, with the
actor, the action, the request and the time, and never a text, a name or a person's id."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import App
from bot.cli import main
from db import Database
from db.repositories import AuditInfo, AuditRepository
from tests.features.handoff.support import (
    ADMIN,
    ANNA,
    BEN,
    MONDAY_10,
    PERSON,
    ask_for_coach,
    card_message,
    clock,
    coach,
    deliver,
    latest_request,
    onboard,
    press,
)
from tests.support import Harness, make_harness

FIRST_NAME = "Zelmiina"
DETAILS = "Tarvitsen apua hakemuksen kanssa"
COACH_WROTE = "Hei! Soitan sinulle torstaina"


@pytest.fixture
def h(happ: App) -> Harness:
    return make_harness(happ)


async def entries(h: Harness) -> list[AuditInfo]:
    async with h.app.db.read() as session:
        return await AuditRepository(session).entries()


async def raw_rows(db: Database) -> list[tuple[Any, ...]]:
    async with db.read() as session:
        rows = await session.execute(text("select * from audit_log order by id"))
        return [tuple(r) for r in rows]


async def test_each_coach_action_writes_exactly_one_entry(h: Harness) -> None:
    anna = coach(h, ANNA, "Anna")
    person = await onboard(h, first_name=FIRST_NAME)
    await ask_for_coach(person, details=DETAILS, contact="Puhelimella", phone="040 765 4321")
    await deliver(h)
    assert await entries(h) == []  # the person's own steps are not staff actions
    req = await latest_request(h)

    async def after(action: Any) -> list[tuple[int | None, str, int | None]]:
        before = len(await entries(h))
        clock(h).advance(minutes=1)
        await action()
        return [(e.actor_id, e.action, e.request_id) for e in (await entries(h))[before:]]

    card = card_message(h, req)
    assert await after(lambda: press(anna, card, "🙋 Otan tämän")) == [(ANNA, "claim", req.id)]
    assert await after(lambda: anna.send(COACH_WROTE, reply_to=card_message(h, req))) == [
        (ANNA, "relay", req.id)
    ]
    assert await after(lambda: press(anna, card_message(h, req), "📋 Valmiit vastaukset")) == []
    assert await after(lambda: press(anna, card_message(h, req), "↩ Takaisin")) == [
        (ANNA, "view", req.id)
    ]
    await press(anna, card_message(h, req), "📋 Valmiit vastaukset")
    assert await after(lambda: press(anna, card_message(h, req), "Kiitos, palaan pian")) == [
        (ANNA, "relay", req.id)
    ]
    # the person writing to the coach is not a staff action
    assert await after(lambda: person.send("Kiitos paljon")) == []
    assert await after(lambda: press(anna, card_message(h, req), "🔓 Vapauta")) == [
        (ANNA, "release", req.id)
    ]
    ben = coach(h, BEN, "Ben")
    assert await after(lambda: press(ben, card_message(h, req), "🙋 Otan tämän")) == [
        (BEN, "claim", req.id)
    ]
    # refused: Anna no longer has it; nothing is logged
    assert await after(lambda: press(anna, card_message(h, req), "✅ Sulje")) == []
    assert await after(lambda: press(ben, card_message(h, req), "✅ Sulje")) == []
    assert await after(lambda: press(ben, card_message(h, req), "Työllistyi")) == [
        (BEN, "close", req.id)
    ]
    # times are the actions' own
    logged = await entries(h)
    assert logged[0].at == MONDAY_10 + timedelta(minutes=1)
    assert all(a.at <= b.at for a, b in itertools.pairwise(logged))

    # below the repository: numbers and action names only
    for row in await raw_rows(h.app.db):
        strings = [v for v in row if isinstance(v, str)]
        assert len(strings) <= 2, row  # the action, and the time on SQLite
        assert PERSON not in row
        for typed in (FIRST_NAME, DETAILS, COACH_WROTE, "Kiitos", "0407654321", "+358"):
            assert all(typed not in s for s in strings)


async def test_admins_adding_and_removing_coaches(h: Harness) -> None:
    admin = h.person(ADMIN, first_name="Aino", language_code="fi")
    await admin.send("/start")
    await admin.send("/coach add 777 Liisa Laine")
    await admin.send("/coach remove 777")
    await admin.send("/coach remove 777")  # not a coach any more: nothing happened
    await admin.send("/coach list")
    logged = await entries(h)
    assert [(e.actor_id, e.action, e.request_id, e.target_id) for e in logged] == [
        (ADMIN, "coach_added", None, 777),
        (ADMIN, "coach_removed", None, 777),
    ]
    assert all("Liisa" not in str(row) for row in await raw_rows(h.app.db))


def test_cli_lists_the_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "DATA_KEY", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    assert main(["coach", "add", "501", "Anna", "Virtanen"]) == 0
    assert main(["coach", "remove", "501"]) == 0
    capsys.readouterr()

    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["command", "line", "coach_added", "coach", "501"],
        ["command", "line", "coach_removed", "coach", "501"],
    ]
    assert main(["audit", "--format", "json", "--since", "1h"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["action"], d["actor_id"], d["target_id"]) for d in data] == [
        ("coach_added", None, 501),
        ("coach_removed", None, 501),
    ]
    assert set(data[0]) == {"id", "at", "actor_id", "action", "request_id", "target_id"}
    assert main(["audit", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == "no audit entries\n"
    assert main(["audit", "--actor", "42"]) == 0
    assert capsys.readouterr().out == "no audit entries\n"
    assert main(["audit", "--since", "yesterday"]) == 2
    assert capsys.readouterr().err.startswith("urapolku: --since 'yesterday': give a date")


async def test_unknown_actions_are_refused(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(ValueError, match="unknown audit action"):
            await AuditRepository(session).record("read_messages", actor_id=1)
        await AuditRepository(session).record("claim", actor_id=1, request_id=7)
    async with database.read() as session:
        [entry] = await AuditRepository(session).entries(request_id=7)
        assert await AuditRepository(session).entries(actor_id=2) == []
    assert (entry.actor_id, entry.action, entry.request_id) == (1, "claim", 7)
