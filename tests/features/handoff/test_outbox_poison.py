"""The outbox survives anything one row does: an exception of any type from
one card is logged with the row's id, the row is tried again with backoff or held for the
admins, and the other cards keep flowing — through the real dispatcher and outbox job."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetChat, SendMessage
from sqlalchemy import select

from bot.features.handoff import cards
from bot.features.handoff.outbox import MAX_UNEXPECTED, backoff
from db.models import OutboxMessage
from tests.support import Harness

from .support import (
    ADMIN,
    GROUP,
    ask_for_coach,
    clock,
    deliver,
    latest_request,
    onboard,
    sends_to,
)

PEOPLE = (1001, 1002, 1003)
NAMES = ("Matti", "Liisa", "Pekka")


async def three_requests(h: Harness) -> list[int]:
    """Three people each ask for a coach; their cards wait in the outbox, in this order."""
    ids = []
    for person_id, name in zip(PEOPLE, NAMES, strict=True):
        person = await onboard(h, person_id, first_name=name)
        await ask_for_coach(person)
        ids.append((await latest_request(h, person_id)).id)
    return ids


async def cards_of(h: Harness) -> dict[int | None, OutboxMessage]:
    async with h.app.db.read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "card").order_by(OutboxMessage.id)
        )
        return {row.request_id: row for row in rows}


def card_sends(h: Harness, start: int = 0) -> list[Any]:
    return [c for c in sends_to(h.session.calls[start:], GROUP) if c.reply_markup is not None]


def admin_alerts(h: Harness, start: int = 0) -> list[str]:
    return [
        c.text for c in h.session.calls[start:] if isinstance(c, SendMessage) and c.chat_id == ADMIN
    ]


async def test_an_unreadable_answer_to_the_first_card_leaves_the_other_cards_flowing(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    first, second, third = await three_requests(h)
    # Telegram's answer to the first card does not parse into aiogram's models (a field it
    # does not know yet): aiogram raises ClientDecodeError, quoting the answer
    secret = "Salainen-vastaus-7c1f"
    h.session.fail_next(
        SendMessage,
        lambda m: ClientDecodeError("Failed to deserialize object", ValueError(secret), secret),
        when=lambda m: m.chat_id == GROUP,
    )
    start = len(h.session.calls)
    with caplog.at_level(logging.INFO):
        delivered = await deliver(h)
    assert delivered == 2
    sent = card_sends(h, start)
    assert len(sent) == 3  # the first was tried, the others went out after it
    assert f"#{second}" in sent[1].text
    assert f"#{third}" in sent[2].text
    rows = await cards_of(h)
    # it may have reached the group: never sent twice behind anyone's back; the admins decide
    assert (rows[first].status, rows[second].status, rows[third].status) == (
        "unknown",
        "sent",
        "sent",
    )
    assert str(first) in admin_alerts(h, start)[0]
    assert f"outbox {rows[first].id} " in caplog.text
    assert secret not in caplog.text


async def test_a_bug_in_the_first_card_is_retried_with_backoff_then_held_for_the_admins(
    h: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = await three_requests(h)
    card_text = cards.card_text

    def broken_for_the_first(labels: Any, req: Any, **kwargs: Any) -> str:
        if req.id == first:
            raise KeyError("a value nobody expected")  # not a Telegram error at all
        return card_text(labels, req, **kwargs)

    monkeypatch.setattr(cards, "card_text", broken_for_the_first)
    with caplog.at_level(logging.ERROR):
        assert await deliver(h) == 2
    rows = await cards_of(h)
    assert (rows[second].status, rows[third].status) == ("sent", "sent")
    row = rows[first]
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "unexpected KeyError")
    assert row.next_attempt_at == clock(h).now + timedelta(seconds=backoff(1))
    assert f"outbox {row.id} (card) failed, try 1: KeyError at" in caplog.text
    assert "a value nobody expected" not in caplog.text

    for attempt in range(2, MAX_UNEXPECTED + 1):
        clock(h).advance(seconds=backoff(attempt - 1))
        start = len(h.session.calls)
        assert await deliver(h) == 0
    row = (await cards_of(h))[first]
    assert (row.status, row.attempts) == ("held", MAX_UNEXPECTED)
    [alert] = admin_alerts(h, start)  # told once, when it was held
    assert str(first) in alert

    monkeypatch.setattr(cards, "card_text", card_text)  # fixed, and an hour later it goes
    clock(h).advance(hours=1)
    assert await deliver(h) == 1
    assert (await cards_of(h))[first].status == "sent"


async def test_an_unreadable_forum_check_does_not_stop_the_cards(h: Harness) -> None:
    await three_requests(h)
    h.session.fail_next(
        GetChat, lambda m: ClientDecodeError("Failed to deserialize object", ValueError(), {})
    )
    assert await deliver(h) == 3
    assert len(card_sends(h)) == 3
    assert {row.status for row in (await cards_of(h)).values()} == {"sent"}


async def test_the_timers_go_on_past_a_request_that_fails(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.features.handoff.jobs import handoff_timers
    from db.repositories import OutboxRepository

    clock(h).set_local(2026, 3, 6, 14, 0)  # Friday 14:00; the office closes at 15
    first, second, third = await three_requests(h)
    await deliver(h)
    status_of_card = OutboxRepository.status_of_card

    async def broken_for_the_first(self: OutboxRepository, request_id: int) -> str | None:
        if request_id == first:
            raise ZeroDivisionError
        return await status_of_card(self, request_id)

    monkeypatch.setattr(OutboxRepository, "status_of_card", broken_for_the_first)
    clock(h).set_local(2026, 3, 9, 9, 1)  # two working hours later: re-announce them all
    assert await handoff_timers(h.app, h.bot) == 3  # the digest and two re-announcements
    assert f"handoff timers: request {first} failed: ZeroDivisionError at" in caplog.text
    async with h.app.db.read() as session:
        rows = await session.scalars(
            select(OutboxMessage.request_id).where(OutboxMessage.kind == "reannounce")
        )
        assert sorted(r for r in rows if r is not None) == [second, third]

    monkeypatch.setattr(OutboxRepository, "status_of_card", status_of_card)
    assert await handoff_timers(h.app, h.bot) == 1  # the next tick catches up
