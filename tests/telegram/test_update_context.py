"""The hot path's reads: one statement before an update's handler, and the
re-delivery check that rides on it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from aiogram.types import Message, Update

from db import Database
from db.repositories import (
    HandoffRepository,
    NewRequest,
    PersonRepository,
    StateRepository,
    UpdateRepository,
)
from tests.features.handoff.support import onboard
from tests.support import Harness, statements


async def test_update_context_reads_mark_person_and_state_in_one_statement(
    database: Database,
) -> None:
    db = database
    async with db.read() as session:
        with statements(db) as seen:
            empty = await UpdateRepository(session).context(7, 4242, "1:4242:4242:0:default")
    assert (empty.processed, empty.person, empty.state) == (False, None, None)
    assert len(seen) == 1

    async with db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(4242, "sv")
        await StateRepository(session).put(
            "1:4242:4242:0:default", 4242, state="s", data={"a": [1, "ö"]}
        )
        await UpdateRepository(session).mark(7)
    async with db.read() as session:
        with statements(db) as seen:
            found = await UpdateRepository(session).context(7, 4242, "1:4242:4242:0:default")
        other = await UpdateRepository(session).context(8)
    assert len(seen) == 1
    assert found.processed
    assert found.person == dataclasses.replace(person, open_request=False)
    assert found.state == ("s", {"a": [1, "ö"]})
    assert (other.processed, other.person, other.state) == (False, None, None)

    # ... and whether a coach request of theirs is open, in the same statement
    async with db.transaction() as session:
        await HandoffRepository(session).create(
            NewRequest(person.id, "sv", None, "studies", "chat")
        )
    async with db.read() as session:
        with statements(db) as seen:
            found = await UpdateRepository(session).context(9, 4242)
    assert len(seen) == 1
    assert found.person is not None
    assert found.person.open_request is True


async def test_a_button_press_reads_once_before_its_transaction(harness: Harness) -> None:
    person = harness.person()
    await person.send("/start")
    with statements(harness.app.db) as seen:
        calls = await person.click("Suomi")
    assert calls  # it was answered
    begin = next(i for i, s in enumerate(seen) if s.startswith("BEGIN"))
    reads = [s for s in seen[:begin] if s.startswith("SELECT")]
    assert len(reads) == 1  # "handled?", the person and the state row together


async def test_a_typed_answer_reads_once_before_its_transaction(harness: Harness) -> None:
    """Typed text could be for a coach: whether a request is open came with that one read."""
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Alle 30")
    with statements(harness.app.db) as seen:
        calls = await person.send("12")  # years in work: a typed answer
    assert calls  # it was answered
    begin = next(i for i, s in enumerate(seen) if s.startswith("BEGIN"))
    reads = [s for s in seen[:begin] if s.startswith("SELECT")]
    assert len(reads) == 1


async def test_a_redelivered_update_is_skipped(harness: Harness) -> None:
    person = harness.person()
    message = Message(
        message_id=1, date=datetime.now(UTC), chat=person.chat, from_user=person.user, text="/start"
    )
    update = Update(update_id=9_999, message=message)
    assert await person.feed(update)  # answered
    assert await person.feed(update) == []  # the same update again: nothing happens
