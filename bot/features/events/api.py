"""What the other features may use of events and trainings; they import nothing else from this
package.

* :func:`release_seats` — give up a person's upcoming seats and places in line, as their own
  cancellation would: a freed seat goes to the first in line, who is told;
* :func:`wake_notices` — send the queued notices now rather than at the job's next tick;
* :func:`occurrence_at`, :func:`lookup` — the date of an item, and the catalogue's text lookup.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from db.repositories import EventRepository, PrivacyRepository

from .notices import NOTICES_JOB, schedule_promoted
from .views import lookup, occurrence_at

__all__ = ["lookup", "occurrence_at", "release_seats", "wake_notices"]


async def release_seats(session: AsyncSession, app: App, person_id: int, *, now: datetime) -> bool:
    """Cancel the person's sign-ups from ``now`` on; the people promoted get their notices.
    True if someone was promoted: call :func:`wake_notices` after the commit."""
    events = EventRepository(session)
    catalogue = app.content.catalogue
    promoted_any = False
    for item_id, starts_at in await PrivacyRepository(session).signups_to_release(person_id, now):
        item = catalogue.get(item_id) if catalogue is not None else None
        capacity = item.capacity if item is not None else None
        result = await events.cancel(person_id, item_id, starts_at, capacity, now=now)
        promoted_any |= await schedule_promoted(events, result.promoted, now)
    return promoted_any


def wake_notices(app: App) -> None:
    """Send the queued notices now (call after the commit)."""
    if app.scheduler is not None:
        app.scheduler.wake(NOTICES_JOB)
