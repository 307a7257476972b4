"""The ``followup_record`` action: at the end of the follow-up dialog, the answers become an
anonymous counter for the reports (kept when the person erases their data) and the follow-up
is marked answered. The answers themselves are saved like any dialog's (``dialog: followup``).
"""

from __future__ import annotations

from typing import Any

from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from db.repositories import AnswerRepository, FollowupRepository, StatsRepository

#: answer keys of dialogs/followup.yaml (read by the reports: keep them)
OUTCOME_KEY = "followup_outcome"
HELPED_KEY = "followup_helped"
#: the stat_events name of an answered follow-up
ANSWERED_EVENT = "followup_answered"


def _score(value: Any) -> int | None:
    try:
        score = int(value)
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


async def followup_record(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    now = services.app.clock()
    answers = dict(ctx.answers)
    if services.consent:
        stored = await AnswerRepository(services.session).for_person(services.person.id)
        answers = {**stored, **answers}
    answered = await FollowupRepository(services.session).answer_latest(services.person.id, now=now)
    dims = {
        "outcome": answers.get(OUTCOME_KEY),
        "helped": _score(answers.get(HELPED_KEY)),
        "source": answered.source_kind if answered else None,
        "days": answered.days if answered else None,
        "language": ctx.language,
        "municipality": answers.get("municipality"),
        "age_group": answers.get("age_group"),
    }
    await StatsRepository(services.session).record(ANSWERED_EVENT, dims, at=now)
    return ActionResult(final=True)  # counted once: "back" after this leads to the menu


def register(registry: ActionRegistry) -> None:
    registry.register("followup_record", followup_record, quiet=True)
