"""Taking a seat, joining the waiting list and giving either up, with what follows, in the
caller's transaction (:class:`~db.repositories.EventRepository` keeps the seat count honest):

* a seat: its reminders and, when there is a coach group, a note to it;
* a cancellation: its notices dropped, a freed seat to the first in line, who is told;
* every change, and every "not for me": an anonymous counter for the reports (no person id;
  kept when people erase their data) with the item and the person's language, municipality
  and age group.

Sign-ups are personal data: the caller makes sure the person consented. Notices are sent by
the notices job; ``wake`` is called (once) when one is due now, to run it after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.catalogue.schema import Item
from db.repositories import (
    QUEUED,
    SEATED,
    EventRepository,
    SeatResult,
    SignupInfo,
    StatsRepository,
)

from .notices import COACH, schedule_promoted, schedule_reminders


def person_dims(language: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """What the counters say of the person: language, municipality and age group."""
    return {
        "language": language,
        "municipality": answers.get("municipality"),
        "age_group": answers.get("age_group"),
    }


class Signups:
    def __init__(
        self,
        repo: EventRepository,
        stats: StatsRepository,
        *,
        person_id: int,
        now: datetime,
        coach_group: bool,
        who: Mapping[str, Any],
        wake: Callable[[], None],
    ) -> None:
        self.repo = repo
        self.stats = stats
        self.person_id = person_id
        self.now = now
        #: whether sign-ups are told to the coach group
        self.coach_group = coach_group
        #: what the counters say of the person (:func:`person_dims`)
        self.who = who
        self._wake = wake
        self._woken = False

    async def take(self, item: Item, start: datetime, *, wait: bool) -> SeatResult:
        """A seat at the occurrence starting at ``start``, or (``wait``) a place in line if
        it is full."""
        result = await self.repo.take_seat(
            self.person_id, item.id, start, item.capacity, wait=wait, now=self.now
        )
        await self._promoted(result.promoted)
        if result.outcome in (SEATED, QUEUED) and result.signup is not None:
            await self.count("event_signup" if result.outcome == SEATED else "event_waiting", item)
        if result.outcome == SEATED:
            assert result.signup is not None
            await schedule_reminders(self.repo, result.signup, self.now)
            if self.coach_group:
                await self.repo.schedule_notice(result.signup.id, COACH, self.now)
            self.wake()
        return result

    async def cancel(self, item: Item, starts_at: datetime) -> SignupInfo | None:
        """Give up the seat or the place in line; the sign-up as it was, or None if there
        was nothing to cancel."""
        result = await self.repo.cancel(
            self.person_id, item.id, starts_at, item.capacity, now=self.now
        )
        if result.cancelled is None:
            return None
        await self.repo.drop_notices(result.cancelled.id)
        await self._promoted(result.promoted)
        await self.count("event_cancelled", item, had_seat=result.cancelled.active)
        return result.cancelled

    async def count(self, name: str, item: Item, **extra: Any) -> None:
        """An anonymous counter about ``item`` for the reports."""
        dims = {"item": item.id, "kind": item.kind, **self.who, **extra}
        await self.stats.record(name, dims, at=self.now)

    async def _promoted(self, promoted: Sequence[SignupInfo]) -> None:
        if await schedule_promoted(self.repo, promoted, self.now):
            self.wake()

    def wake(self) -> None:
        """Send notices now rather than at the job's next tick (after the commit)."""
        if not self._woken:
            self._woken = True
            self._wake()
