"""Anonymous counters the ``recommend`` action records for the reports: each suggestion shown
at the end of a dialog, and the career plan completed (no person id; kept when people erase
their data, like every ``stat_events`` row; :mod:`db.reports` reads them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.catalogue.schema import Item
from bot.engine.actions import ActionContext
from bot.engine.output import Reply
from db.repositories import StatsRepository

from . import callbacks as cb

CAREER_PLAN = "career_plan"


def _items(reply: Reply) -> list[str]:
    found = []
    for row in reply.buttons:
        for button in row:
            data = cb.parse(button.data) if button.data else None
            if data is not None and data.a == cb.CARD and data.i:
                found.append(data.i)
    return found


async def count_recommendations(
    ctx: ActionContext,
    reply: Reply,
    item: Callable[[str], Item | None],
    answers: Mapping[str, Any],
) -> None:
    """The ``recommend`` action showed ``reply``: one counter per item it suggested, and, at
    the end of the career plan, one for the completed plan."""
    services = ctx.services
    stats = StatsRepository(services.session)
    now = services.app.clock()
    base = {
        "dialog": ctx.dialog,
        "language": ctx.language,
        "municipality": answers.get("municipality"),
        "age_group": answers.get("age_group"),
    }
    if ctx.dialog == CAREER_PLAN:
        await stats.record("career_plan_completed", base, at=now)
    for item_id in _items(reply):
        found = item(item_id)
        dims = {**base, "item": item_id, "kind": found.kind if found is not None else None}
        await stats.record("recommendation_shown", dims, at=now)
