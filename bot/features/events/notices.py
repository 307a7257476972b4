"""What is queued in ``event_notices`` about a sign-up, and when: the notice kinds, the jobs
that send them (:mod:`bot.features.events.jobs`), reminder times, and the rule for someone
who got a seat from the waiting list. Rows are queued in the caller's transaction.

Use :func:`schedule_reminders` after a seat is taken, :func:`schedule_promoted` with the
people a cancellation (or an erasure) moved from the line to a seat.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Final

from bot.catalogue.schema import HELSINKI
from db.repositories import EventRepository, SignupInfo

#: notices about a sign-up (``event_notices.kind``); ``moved``: its date is no longer on
DAY_BEFORE, HOUR_BEFORE, PROMOTED, COACH = "day_before", "hour_before", "promoted", "coach"
MOVED: Final = "moved"
#: the day-before reminder goes out at this Finnish time: awake, and time to plan the day
REMINDER_TIME: Final = time(10, 0)
#: the job that sends notices (see :mod:`bot.features.events.jobs`)
NOTICES_JOB: Final = "events.notices"
#: the job that finds sign-ups whose date an editor moved or removed
MOVED_JOB: Final = "events.moved"


def reminder_times(start: datetime) -> dict[str, datetime]:
    """When to remind of an occurrence starting at ``start``: the day before at 10:00
    Finnish time, and one hour before it starts."""
    local_start = start.astimezone(HELSINKI)
    day_before = datetime.combine(
        local_start.date() - timedelta(days=1), REMINDER_TIME, tzinfo=HELSINKI
    )
    return {
        DAY_BEFORE: day_before.astimezone(UTC),
        HOUR_BEFORE: start.astimezone(UTC) - timedelta(hours=1),
    }


async def schedule_reminders(repo: EventRepository, signup: SignupInfo, now: datetime) -> None:
    """The reminders of a seat that are still ahead."""
    for kind, due in reminder_times(signup.starts_at).items():
        if due > now:
            await repo.schedule_notice(signup.id, kind, due)


async def schedule_promoted(
    repo: EventRepository, promoted: Sequence[SignupInfo], now: datetime
) -> bool:
    """People who got a seat from the waiting list are told, and reminded like anyone.
    True if there was anyone (then wake the notices job after the commit)."""
    for signup in promoted:
        await repo.schedule_notice(signup.id, PROMOTED, now, again=True)
        await schedule_reminders(repo, signup, now)
    return bool(promoted)
