"""The catalogue as one person sees it during one turn: the items of each list, the seats taken
(read once per turn), the occurrence a card is about and the person's own sign-ups. Reads
through :class:`~db.repositories.EventRepository`; writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from bot.catalogue.recommend import recommender_for
from bot.catalogue.schedule import Occurrence, next_joinable, next_occurrences, run_of
from bot.catalogue.schema import Catalogue, Item
from db.repositories import EventRepository, SignupInfo

from . import callbacks as cb
from .callbacks import View
from .views import Entry, occurrence_at

#: how many suggestions "for you" shows
FOR_YOU_SIZE: Final = 5
#: "this week" is the next seven days
WEEK_DAYS: Final = 7
#: at most this many runs of a course, or one-to-one times, to choose from at sign-up
MAX_CHOICES: Final = 4

#: the person's "not for me" choices (item id → reason), read when needed
Dismissed = Callable[[], Awaitable[Mapping[str, str]]]


class Shelf:
    def __init__(
        self, repo: EventRepository, catalogue: Catalogue | None, *, person_id: int, now: datetime
    ) -> None:
        self.repo = repo
        self.catalogue = catalogue
        self.person_id = person_id
        self.now = now
        self._seats: dict[tuple[str, datetime], int] | None = None

    def item(self, item_id: str) -> Item | None:
        return self.catalogue.get(item_id) if self.catalogue is not None else None

    async def seats(self) -> dict[tuple[str, datetime], int]:
        """Seats taken at every upcoming occurrence (once per turn)."""
        if self._seats is None:
            self._seats = await self.repo.taken_since(self.now)
        return self._seats

    def seats_changed(self) -> None:
        """A seat was taken or given up: count again for what is shown next."""
        self._seats = None

    async def seats_by_item(self) -> dict[str, int]:
        """Seats taken at each item's next joinable occurrence (what the recommender needs);
        for one-to-one slots, at the freest of the next times (one free time is enough)."""
        seats = await self.seats()
        found: dict[str, int] = {}
        for item_id, start in seats:
            item = self.item(item_id)
            if item is None or item_id in found:
                continue
            if item.is_slot:
                times = self.choices(item)
                found[item_id] = min((seats.get((item_id, o.start), 0) for o in times), default=0)
                continue
            upcoming = next_joinable(item, self.now)
            if upcoming is not None and upcoming.start == start:
                found[item_id] = seats[(item_id, start)]
        return found

    def choices(self, item: Item) -> list[Occurrence]:
        """What a sign-up may choose from: the first meeting of each course run still open
        to join, the next one-to-one times, or else the next joinable occurrence alone."""
        if item.schedule.range is not None:
            found: list[Occurrence] = []
            after = self.now
            while len(found) < MAX_CHOICES:
                occurrence = next_joinable(item, after)
                if occurrence is None:
                    break
                found.append(occurrence)
                after = run_of(item, occurrence)[-1].start + timedelta(minutes=1)
            return found
        if item.is_slot:
            return next_occurrences(item, self.now, MAX_CHOICES)
        upcoming = next_joinable(item, self.now)
        return [upcoming] if upcoming is not None else []

    async def free(self, item: Item, occurrence: Occurrence) -> int | None:
        """Free seats at an occurrence of an item signed up for here; None without a limit."""
        if item.capacity is None or item.signup.mode != "bot":
            return None
        taken = (await self.seats()).get((item.id, occurrence.start), 0)
        return max(0, item.capacity - taken)

    async def focus(self, item: Item) -> tuple[Occurrence | None, SignupInfo | None]:
        """The occurrence a card is about: the person's own upcoming sign-up for the item,
        else its next joinable occurrence."""
        for signup in await self.repo.upcoming(self.person_id, self.now, item_id=item.id):
            occurrence = occurrence_at(item, signup.starts_at)
            if occurrence is not None:
                return occurrence, signup
        return next_joinable(item, self.now), None

    async def position(self, signup: SignupInfo) -> int:
        """The person's place in line (1: next)."""
        return await self.repo.position(signup)

    async def entries(
        self, view: View, *, profile: Mapping[str, Any], dismissed: Dismissed
    ) -> list[Entry]:
        """The lines of a list; ``profile`` (the person's answers and language) and their
        ``dismissed`` items shape the suggestions "for you"."""
        catalogue = self.catalogue
        if catalogue is None:
            return []
        recommender = recommender_for(catalogue)
        if view.code == cb.FOR_YOU:
            found = recommender.recommend(
                profile,
                now=self.now,
                limit=FOR_YOU_SIZE,
                seats_taken=await self.seats_by_item(),
                dismissed=await dismissed(),
            )
            return [Entry(r.item, r.occurrence, r.reasons) for r in found]
        if view.code == cb.MINE:
            return await self._mine(catalogue)
        seats = await self.seats_by_item()
        if view.code == cb.BY_KIND:
            listed = recommender.browse(now=self.now, kind=view.value, seats_taken=seats)
        elif view.code == cb.BY_PLACE:
            listed = recommender.browse(
                now=self.now, municipality=view.value, include_online=False, seats_taken=seats
            )
        elif view.code == cb.THIS_WEEK:
            listed = recommender.browse(now=self.now, horizon_days=WEEK_DAYS, seats_taken=seats)
        else:  # online
            listed = [
                (item, occ)
                for item, occ in recommender.browse(now=self.now, seats_taken=seats)
                if item.online
            ]
        return [Entry(item, occurrence) for item, occurrence in listed]

    async def _mine(self, catalogue: Catalogue) -> list[Entry]:
        entries = []
        for signup in await self.repo.upcoming(self.person_id, self.now):
            item = catalogue.get(signup.item_id)
            occurrence = occurrence_at(item, signup.starts_at) if item else None
            if item is None or occurrence is None:
                continue  # gone from the catalogue: nothing to show or open
            position = await self.repo.position(signup) if signup.waiting else None
            entries.append(Entry(item, occurrence, signup=signup, position=position))
        return entries
