"""The anonymous counters the reports read that the recommendation step records: a career
plan completed, and each suggested item (no person id in either)."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Event
from tests.features.events.test_events import YK, sent
from tests.support import Harness, buttons_of, onboard, walk_career_plan


async def test_a_completed_career_plan_and_its_suggestions_are_counted(h: Harness) -> None:
    person = await onboard(h, 1001)
    calls = await walk_career_plan(person)
    # the suggestions' buttons, then the dialog's own ("s:…") below them
    buttons = buttons_of(sent(calls)[1])
    suggested = [data.split(":")[2] for _, data in buttons if data and data.startswith("e:")]
    assert suggested[0] == YK
    async with h.app.db.read() as session:
        rows = (await session.execute(select(Event.name, Event.dims).order_by(Event.id))).all()
    base = {"dialog": "career_plan", "language": "fi", "municipality": "karkkila",
            "age_group": "50_plus"}  # fmt: skip
    assert rows[0] == ("career_plan_completed", base)
    assert [(name, dims["item"]) for name, dims in rows[1:]] == [
        ("recommendation_shown", item) for item in suggested
    ]
    assert rows[1][1] == {**base, "item": YK, "kind": "entrepreneurship_coaching"}
    assert all("person" not in str(dims) for _, dims in rows)
