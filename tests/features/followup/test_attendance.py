"""``/event <item id>`` in the coach group: the sign-ups of the item's recent and upcoming
dates with a button each that toggles "attended"; coaches only; marking schedules the
person's follow-ups, unmarking skips them (and marking again restores them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import Message

from bot.catalogue import HELSINKI
from bot.features import build_registry
from bot.features.followup.attendance import AttendanceAction
from db.repositories import CoachRepository, EventRepository, FollowupRepository, PersonRepository
from tests.features.handoff.support import ADMIN, ANNA, GROUP, OUTSIDER, Clock
from tests.support import Harness, buttons_of, make_app, make_harness, make_settings

YK = "yrittajakaverit-karkkila"
YK_START = datetime(2027, 1, 19, 9, 0, tzinfo=HELSINKI).astimezone(UTC)
#: a later run of the same item: three months away, not on the list
YK_LATER = datetime(2027, 4, 13, 9, 0, tzinfo=HELSINKI).astimezone(UTC)
#: the list is asked for during the first meeting
NOW = YK_START + timedelta(hours=2)
TITLE = "🎟 YrittäjäKaverit Karkkila\n\nKuka tuli paikalle? Paina ilmoittautumisen numeroa. ✅ = paikalla."
WHEN = "🗓 tiistai 19.1.2027 klo 9.00–13.00 (kerta 1/6)"


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, bundled=True, coach_chat_id=GROUP, admin_ids=[ADMIN])
    app = await make_app(settings, build_registry())
    app.clock = Clock(NOW)
    async with app.db.transaction() as session:
        await CoachRepository(session).add(ANNA, "Anna")
    yield make_harness(app)
    await app.db.dispose()


async def seat(h: Harness, telegram_id: int, start: datetime) -> int:
    """A person with a seat; returns the sign-up id."""
    async with h.app.db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(telegram_id, "fi")
        await PersonRepository(session).set_consent(person.id, 1)
        result = await EventRepository(session).take_seat(
            person.id, YK, start, 12, now=start - timedelta(days=7)
        )
        assert result.signup is not None
        return result.signup.id


def replies(calls: list[Any]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage) and int(c.chat_id) == GROUP]


def last_group_message(h: Harness) -> Message:
    key = max(k for k in h.session.messages if k[0] == GROUP)
    return h.session.messages[key]


async def rounds(h: Harness, signup_id: int) -> list[tuple[int, datetime, str]]:
    async with h.app.db.read() as session:
        repo = FollowupRepository(session)
        found = []
        for telegram_id in (7001, 7002, 7003):
            person = await PersonRepository(session).by_telegram_id(telegram_id)
            assert person is not None
            found += [
                (f.days, f.due_at, f.status)
                for f in await repo.for_person(person.id)
                if f.source_id == signup_id
            ]
        return found


async def test_coaches_mark_who_came_and_follow_ups_follow(h: Harness) -> None:
    first = await seat(h, 7001, YK_START)
    second = await seat(h, 7002, YK_START)
    third = await seat(h, 7003, YK_START)
    await seat(h, 7004, YK_LATER)
    anna = h.person(ANNA, chat_id=GROUP, first_name="Anna")
    outsider = h.person(OUTSIDER, chat_id=GROUP, first_name="Olli")

    calls = await outsider.send(f"/event {YK}")
    assert [c.text for c in replies(calls)] == ["Vain valmentajat voivat tehdä tämän."]
    calls = await anna.send("/event")
    assert [c.text for c in replies(calls)] == [
        "Kirjoita /event ja tapahtuman tunnus, esimerkiksi /event yrittajakaverit-karkkila."
    ]
    calls = await anna.send("/event no-such-item")
    assert [c.text for c in replies(calls)] == ["En löydä tapahtumaa tunnuksella no-such-item."]

    calls = await anna.send(f"/event {YK}")
    [listing] = replies(calls)
    assert listing.text == f"{TITLE}\n\n{WHEN}: 3 ilmoittautunutta, 0 paikalla"
    assert buttons_of(listing) == [
        (f"⬜ #{first}", f"att:{first}"),
        (f"⬜ #{second}", f"att:{second}"),
        (f"⬜ #{third}", f"att:{third}"),
    ]

    # a coach marks the second person: the list shows it, their follow-ups are scheduled
    calls = await anna.press(f"att:{second}", last_group_message(h))
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == [
        f"✅ #{second} paikalla"
    ]
    [edit] = [c for c in calls if isinstance(c, EditMessageText)]
    assert edit.text == f"{TITLE}\n\n{WHEN}: 3 ilmoittautunutta, 1 paikalla"
    assert buttons_of(edit)[1] == (f"✅ #{second}", f"att:{second}")
    assert await rounds(h, second) == [
        (14, YK_START + timedelta(days=14), "pending"),
        (90, YK_START + timedelta(days=90), "pending"),
    ]

    # someone who is not a coach cannot change it
    calls = await outsider.press(f"att:{second}", last_group_message(h))
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == [
        "Vain valmentajat voivat tehdä tämän."
    ]
    assert not [c for c in calls if isinstance(c, EditMessageText)]

    # unmarked by mistake: the rounds are skipped; marked again: restored
    calls = await anna.press(f"att:{second}", last_group_message(h))
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == [
        f"#{second}: merkintä poistettu"
    ]
    assert [s for _, _, s in await rounds(h, second)] == ["skipped", "skipped"]
    await anna.press(f"att:{second}", last_group_message(h))
    assert [s for _, _, s in await rounds(h, second)] == ["pending", "pending"]
    assert await rounds(h, first) == []


async def test_an_item_without_recent_sign_ups(h: Harness) -> None:
    await seat(h, 7004, YK_LATER)
    anna = h.person(ANNA, chat_id=GROUP, first_name="Anna")
    calls = await anna.send(f"/event {YK}")
    assert [c.text for c in replies(calls)] == [
        "🎟 YrittäjäKaverit Karkkila\n\n"
        "Ei ilmoittautuneita viimeisen kahden viikon tai seuraavan viikon ajalta."
    ]


def test_callback_data_is_short() -> None:
    assert len(AttendanceAction(s=2_147_483_647).pack()) <= 64
