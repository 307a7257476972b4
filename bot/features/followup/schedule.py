"""Scheduling follow-ups. Called inside the transaction of the change they follow, so the
rows exist exactly when that change does (and survive restarts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.repositories import SOURCE_ATTENDED, SOURCE_REQUEST, FollowupRepository

#: the job that sends due follow-ups (see :mod:`bot.features.followup.jobs`)
FOLLOWUP_JOB: Final = "followup.send"
#: why the rounds of an unmarked attendance were skipped
UNMARKED: Final = "attendance unmarked"


def rounds(settings: Settings, start: datetime) -> dict[int, datetime]:
    """When each round (``FOLLOWUP_DAYS``) is due, counted from ``start``."""
    return {days: start + timedelta(days=days) for days in settings.followup_days}


async def after_request_closed(
    session: AsyncSession,
    settings: Settings,
    *,
    person_id: int | None,
    request_id: int,
    now: datetime,
) -> int:
    """A coach closed a request: check back with its person (if they still exist)."""
    if person_id is None:
        return 0
    return await FollowupRepository(session).schedule(
        person_id, SOURCE_REQUEST, request_id, rounds(settings, now), now=now
    )


async def after_attended(
    session: AsyncSession,
    settings: Settings,
    *,
    person_id: int,
    signup_id: int,
    starts_at: datetime,
    now: datetime,
) -> int:
    """A coach marked a sign-up attended: rounds counted from the occurrence's start (a
    round unmarked by mistake and marked again is restored)."""
    repo = FollowupRepository(session)
    await repo.restore_source(SOURCE_ATTENDED, signup_id, reason=UNMARKED)
    return await repo.schedule(
        person_id, SOURCE_ATTENDED, signup_id, rounds(settings, starts_at), now=now
    )


async def attendance_unmarked(session: AsyncSession, *, signup_id: int) -> int:
    """Marked by mistake: the rounds not yet sent are skipped."""
    return await FollowupRepository(session).cancel_source(
        SOURCE_ATTENDED, signup_id, reason=UNMARKED
    )
