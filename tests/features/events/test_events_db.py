"""Sign-ups in the database, on SQLite and PostgreSQL: capacity under concurrent sign-ups, the
waiting list, notices claimed exactly once, "not for me" and poster links."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.catalogue import HELSINKI
from db import Database
from db.repositories import (
    ALREADY,
    FULL,
    NOTICE_PENDING,
    NOTICE_SENT,
    QUEUED,
    SEATED,
    EventRepository,
    PersonRepository,
)

START = datetime(2027, 1, 19, 9, 0, tzinfo=HELSINKI)
NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)


async def people(db: Database, count: int) -> list[int]:
    async with db.transaction() as session:
        repo = PersonRepository(session)
        return [(await repo.ensure(5000 + n, "fi", now=NOW))[0].id for n in range(count)]


async def test_capacity_holds_under_concurrent_sign_ups(database: Database) -> None:
    ids = await people(database, 12)

    async def take(person_id: int) -> str:
        async with database.transaction() as session:
            result = await EventRepository(session).take_seat(
                person_id, "kurssi", START, 3, now=NOW
            )
            await asyncio.sleep(0.01)  # hold the transaction open a moment: invite a race
            return result.outcome

    outcomes = await asyncio.gather(*(take(i) for i in ids))
    assert outcomes.count(SEATED) == 3
    assert outcomes.count(FULL) == 9
    async with database.read() as session:
        assert await EventRepository(session).taken("kurssi", START) == 3


async def test_the_last_seat_goes_to_exactly_one_of_two(database: Database) -> None:
    ids = await people(database, 3)
    async with database.transaction() as session:
        await EventRepository(session).take_seat(ids[0], "kurssi", START, 2, now=NOW)

    async def take(person_id: int) -> str:
        async with database.transaction() as session:
            repo = EventRepository(session)
            result = await repo.take_seat(person_id, "kurssi", START, 2, now=NOW)
            await asyncio.sleep(0.05)
            return result.outcome

    assert sorted(await asyncio.gather(take(ids[1]), take(ids[2]))) == [FULL, SEATED]


async def test_waiting_list_order_and_promotion(database: Database) -> None:
    a, b, c, d = await people(database, 4)
    async with database.transaction() as session:
        repo = EventRepository(session)
        assert (await repo.take_seat(a, "kurssi", START, 1, now=NOW)).outcome == SEATED
        assert (await repo.take_seat(a, "kurssi", START, 1, now=NOW)).outcome == ALREADY
        assert (await repo.take_seat(b, "kurssi", START, 1, now=NOW)).outcome == FULL
        queued = await repo.take_seat(b, "kurssi", START, 1, wait=True, now=NOW)
        assert (queued.outcome, queued.position) == (QUEUED, 1)
        later = NOW + timedelta(minutes=1)
        queued = await repo.take_seat(c, "kurssi", START, 1, wait=True, now=later)
        assert (queued.outcome, queued.position) == (QUEUED, 2)
        # pressing "sign up" again keeps the place in line
        again = await repo.take_seat(c, "kurssi", START, 1, now=later)
        assert (again.outcome, again.position) == (QUEUED, 2)

    async with database.transaction() as session:
        repo = EventRepository(session)
        # leaving the line frees no seat and promotes nobody
        left = await repo.cancel(c, "kurssi", START, 1, now=NOW)
        assert left.cancelled is not None
        assert left.cancelled.waiting
        assert left.promoted == ()
        # the seat holder cancels: the first in line gets the seat
        result = await repo.cancel(a, "kurssi", START, 1, now=NOW)
        assert result.cancelled is not None
        assert result.cancelled.active
        assert [s.person_id for s in result.promoted] == [b]
        assert await repo.taken("kurssi", START) == 1
        assert (await repo.cancel(a, "kurssi", START, 1, now=NOW)).cancelled is None

    async with database.transaction() as session:
        repo = EventRepository(session)
        # capacity raised by an editor: the line moves before a newcomer gets a seat
        await repo.take_seat(c, "kurssi", START, 1, wait=True, now=NOW)
        result = await repo.take_seat(d, "kurssi", START, 3, now=NOW)
        assert result.outcome == SEATED
        assert [s.person_id for s in result.promoted] == [c]
        upcoming = await repo.upcoming(d, NOW)
        assert [(s.item_id, s.status) for s in upcoming] == [("kurssi", "active")]
        assert await repo.upcoming(d, START + timedelta(minutes=1)) == []


async def test_a_notice_is_claimed_once(database: Database) -> None:
    [a] = await people(database, 1)
    async with database.transaction() as session:
        repo = EventRepository(session)
        seat = await repo.take_seat(a, "kurssi", START, None, now=NOW)
        assert seat.signup is not None
        await repo.schedule_notice(seat.signup.id, "day_before", NOW)
        await repo.schedule_notice(seat.signup.id, "day_before", NOW)  # once per kind
        [notice] = await repo.due_notices(NOW)

    async def claim() -> bool:
        async with database.transaction() as session:
            claimed = await EventRepository(session).claim_notice(notice.id, now=NOW)
            await asyncio.sleep(0.02)
            return claimed

    assert sorted(await asyncio.gather(*(claim() for _ in range(5)))) == [
        False,
        False,
        False,
        False,
        True,
    ]
    async with database.transaction() as session:
        repo = EventRepository(session)
        assert await repo.due_notices(NOW) == []
        await repo.finish_notice(notice.id, NOTICE_SENT, now=NOW)
        # scheduling it again does not resend what was sent, unless it is news again
        await repo.schedule_notice(seat.signup.id, "day_before", NOW)
        assert await repo.notices_of(seat.signup.id) == {"day_before": NOTICE_SENT}
        await repo.schedule_notice(seat.signup.id, "day_before", NOW, again=True)
        assert await repo.notices_of(seat.signup.id) == {"day_before": NOTICE_PENDING}


async def test_dismissals_and_links(database: Database) -> None:
    [a] = await people(database, 1)
    async with database.transaction() as session:
        repo = EventRepository(session)
        await repo.dismiss(a, "kurssi", "wrong_time", now=NOW)
        await repo.dismiss(a, "kurssi", "wrong_place", now=NOW)
        await repo.remember_link(a, "kurssi", now=NOW)
        await repo.remember_link(a, "toinen", now=NOW)
    async with database.transaction() as session:
        repo = EventRepository(session)
        assert await repo.dismissed(a) == {"kurssi": "wrong_place"}
        assert await repo.take_link(a) == "toinen"
        assert await repo.take_link(a) is None


async def test_erasing_a_person_frees_their_seat(database: Database) -> None:
    a, b = await people(database, 2)
    async with database.transaction() as session:
        repo = EventRepository(session)
        seat = await repo.take_seat(a, "kurssi", START, 1, now=NOW)
        assert seat.signup is not None
        await repo.schedule_notice(seat.signup.id, "day_before", NOW)
        await repo.dismiss(a, "kurssi", "wrong_time", now=NOW)
    async with database.transaction() as session:
        assert await PersonRepository(session).delete_by_telegram_id(5000)
    async with database.transaction() as session:
        repo = EventRepository(session)
        assert await repo.taken("kurssi", START) == 0
        assert await repo.due_notices(NOW) == []
        assert (await repo.take_seat(b, "kurssi", START, 1, now=NOW)).outcome == SEATED
