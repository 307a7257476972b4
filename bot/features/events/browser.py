"""The events browser: lists, item cards, sign-ups, the waiting list and "not for me".

A :class:`Browser` is one person's view of the catalogue during one turn, inside that turn's
transaction (see :class:`bot.telegram.conversation.Conversation`): it reads and writes through the
repositories and returns replies, which are sent only after the commit. It never talks to
Telegram. Lists and cards are edited in place when a button of theirs was pressed.

What it stores, and where:

* sign-ups and places in line — ``event_signups``, only for people who gave consent (a
  sign-up is personal data); the seat count is kept honest by :class:`EventRepository`;
* reminders and "a place became free" — ``event_notices`` rows written in the same
  transaction as the sign-up, sent later by :mod:`bot.features.events.jobs`;
* "not for me" — ``event_dismissals`` with consent; without it, only in the conversation
  state (``features["events"]``) like the rest of what such a person says: used during the
  conversation, never written to the person's stored answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from bot.app import App
from bot.catalogue.ics import events_ics
from bot.catalogue.ics import filename as ics_filename
from bot.catalogue.recommend import Reason, recommender_for, render_reasons
from bot.catalogue.schedule import (
    Occurrence,
    next_joinable,
    next_occurrences,
    render_occurrence,
    render_schedule,
    run_of,
)
from bot.catalogue.schema import HELSINKI, Catalogue, Item
from bot.catalogue.tags import DISMISS_REASONS, MUNICIPALITIES, text_key
from bot.engine.output import Button, Document, Reply, Turn
from bot.engine.state import ConversationState
from bot.features.consent.service import ConsentService, confirmation
from bot.telegram.conversation import Services
from db.repositories import (
    ALREADY,
    FULL,
    QUEUED,
    SEATED,
    AnswerRepository,
    EventRepository,
    SignupInfo,
    StatsRepository,
)

from . import callbacks as cb
from .callbacks import View
from .views import (
    audience_text,
    label,
    languages_text,
    lookup,
    map_url,
    occurrence_at,
    place_text,
)

#: items on one page of a list
PAGE_SIZE: Final = 5
#: how many suggestions "for you" shows
FOR_YOU_SIZE: Final = 5
#: "this week" is the next seven days
WEEK_DAYS: Final = 7
#: notices about a sign-up (``event_notices.kind``); ``moved``: its date is no longer on
DAY_BEFORE, HOUR_BEFORE, PROMOTED, COACH = "day_before", "hour_before", "promoted", "coach"
MOVED: Final = "moved"
#: the day-before reminder goes out at this Finnish time: awake, and time to plan the day
REMINDER_TIME: Final = time(10, 0)
#: the key of the browser's data in ``ConversationState.features``
FEATURE: Final = "events"
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


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a list."""

    item: Item
    occurrence: Occurrence
    reasons: tuple[Reason, ...] = ()
    signup: SignupInfo | None = None
    position: int | None = None


class Browser:
    def __init__(
        self,
        services: Services,
        *,
        language: str,
        answers: Mapping[str, Any],
        state: ConversationState | None = None,
        can_edit: bool = True,
    ) -> None:
        self.services = services
        self.app: App = services.app
        self.session = services.session
        self.person = services.person
        self.language = language
        self.answers = dict(answers)
        #: the conversation state this turn returns (holds dismissals without consent)
        self.state = state
        self.can_edit = can_edit
        self.now = self.app.clock()
        self.repo = EventRepository(self.session)
        self._seats: dict[tuple[str, datetime], int] | None = None
        self._woken = False

    @classmethod
    async def open(
        cls,
        services: Services,
        *,
        language: str,
        answers: Mapping[str, Any],
        state: ConversationState | None = None,
        can_edit: bool = True,
    ) -> Browser:
        """A browser for this turn; the person's stored answers fill what the conversation
        state lacks (state kept in Redis may be younger than the database)."""
        merged = dict(answers)
        if services.consent:
            stored = await AnswerRepository(services.session).for_person(services.person.id)
            merged = {**stored, **merged}
        return cls(services, language=language, answers=merged, state=state, can_edit=can_edit)

    # -- basics --

    @property
    def catalogue(self) -> Catalogue | None:
        catalogue = self.app.content.catalogue
        return catalogue if isinstance(catalogue, Catalogue) else None

    def item(self, item_id: str) -> Item | None:
        catalogue = self.catalogue
        return catalogue.get(item_id) if catalogue is not None else None

    def t(self, key: str, **params: Any) -> str:
        return self.app.t(key, self.language, **params)

    def _reply(self, text: str, rows: Sequence[Sequence[Button]], *, edit: bool) -> Reply:
        return Reply(text, tuple(tuple(row) for row in rows if row), edit=edit and self.can_edit)

    def _when(self, occurrence: Occurrence) -> str:
        return render_occurrence(occurrence, lookup(self.t))

    def _title(self, item: Item) -> str:
        return item.title.get(self.language)

    async def seats(self) -> dict[tuple[str, datetime], int]:
        """Seats taken at every upcoming occurrence (once per turn)."""
        if self._seats is None:
            self._seats = await self.repo.taken_since(self.now)
        return self._seats

    async def seats_by_item(self) -> dict[str, int]:
        """Seats taken at each item's next joinable occurrence (what the recommender needs)."""
        found: dict[str, int] = {}
        for (item_id, start), taken in (await self.seats()).items():
            item = self.item(item_id)
            if item is None:
                continue
            upcoming = next_joinable(item, self.now)
            if upcoming is not None and upcoming.start == start:
                found[item_id] = taken
        return found

    async def dismissed(self) -> dict[str, str]:
        found = await self.repo.dismissed(self.person.id) if self.services.consent else {}
        feature = self.state.features.get(FEATURE) if self.state is not None else None
        local = feature.get("dismissed") if isinstance(feature, dict) else None
        if isinstance(local, dict):
            found.update({str(k): str(v) for k, v in local.items()})
        return found

    def _profile(self) -> dict[str, Any]:
        return {**self.answers, "language": self.language}

    async def focus(self, item: Item) -> tuple[Occurrence | None, SignupInfo | None]:
        """The occurrence a card is about: the person's own upcoming sign-up for the item,
        else its next joinable occurrence."""
        for signup in await self.repo.upcoming(self.person.id, self.now, item_id=item.id):
            occurrence = occurrence_at(item, signup.starts_at)
            if occurrence is not None:
                return occurrence, signup
        return next_joinable(item, self.now), None

    # -- the menu --

    def menu_reply(self, *, edit: bool) -> Reply:
        t = self.t

        def go(key: str, action: str, view: str | None = None) -> Button:
            return Button(
                t(f"events.menu.{key}"), cb.pack(action, view=View(view) if view else None)
            )

        return self._reply(
            t("events.menu.text"),
            [
                [go("for_you", cb.LIST, cb.FOR_YOU)],
                [go("by_kind", cb.KINDS_MENU), go("by_place", cb.PLACES_MENU)],
                [go("this_week", cb.LIST, cb.THIS_WEEK), go("online", cb.LIST, cb.ONLINE)],
                [go("my_signups", cb.LIST, cb.MINE)],
                [go("main_menu", cb.MAIN_MENU)],
            ],
            edit=edit,
        )

    def kinds_reply(self, *, edit: bool) -> Reply:
        kinds = self.catalogue.kinds() if self.catalogue is not None else ()
        rows = [
            [
                Button(
                    label(self.t(text_key("kind", kind))),
                    cb.pack(cb.LIST, view=View(cb.BY_KIND, kind)),
                )
            ]
            for kind in kinds
        ]
        rows.append([Button(self.t("events.button.back"), cb.pack(cb.HOME))])
        return self._reply(self.t("events.list.choose_kind"), rows, edit=edit)

    def places_reply(self, *, edit: bool) -> Reply:
        present = {m for item in self.catalogue or () for m in item.municipalities}
        rows = [
            [
                Button(
                    label(self.t(text_key("municipality", m))),
                    cb.pack(cb.LIST, view=View(cb.BY_PLACE, m)),
                )
            ]
            for m in MUNICIPALITIES
            if m in present
        ]
        rows.append([Button(self.t("events.button.back"), cb.pack(cb.HOME))])
        return self._reply(self.t("events.list.choose_place"), rows, edit=edit)

    # -- lists --

    async def entries(self, view: View) -> list[Entry]:
        catalogue = self.catalogue
        if catalogue is None:
            return []
        recommender = recommender_for(catalogue)
        if view.code == cb.FOR_YOU:
            found = recommender.recommend(
                self._profile(),
                now=self.now,
                limit=FOR_YOU_SIZE,
                seats_taken=await self.seats_by_item(),
                dismissed=await self.dismissed(),
            )
            return [Entry(r.item, r.occurrence, r.reasons) for r in found]
        if view.code == cb.MINE:
            entries = []
            for signup in await self.repo.upcoming(self.person.id, self.now):
                item = catalogue.get(signup.item_id)
                occurrence = occurrence_at(item, signup.starts_at) if item else None
                if item is None or occurrence is None:
                    continue  # gone from the catalogue: nothing to show or open
                position = await self.repo.position(signup) if signup.waiting else None
                entries.append(Entry(item, occurrence, signup=signup, position=position))
            return entries
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

    def _heading(self, view: View) -> str:
        if view.code == cb.FOR_YOU:
            return self.t("recommend.title")
        if view.code == cb.BY_KIND:
            return self.t("events.list.kind", kind=self.t(text_key("kind", view.value or "")))
        if view.code == cb.BY_PLACE:
            name = self.t(text_key("municipality", view.value or ""))
            return self.t("events.list.place", municipality=name)
        return self.t(
            {cb.THIS_WEEK: "events.list.this_week", cb.ONLINE: "events.list.online"}.get(
                view.code, "events.list.my_signups"
            )
        )

    async def _free(self, item: Item, occurrence: Occurrence) -> int | None:
        """Free seats at an occurrence of an item signed up for here; None without a limit."""
        if item.capacity is None or item.signup.mode != "bot":
            return None
        taken = (await self.seats()).get((item.id, occurrence.start), 0)
        return max(0, item.capacity - taken)

    async def _places(self, item: Item, occurrence: Occurrence) -> str | None:
        """ "Places left: 3" or "Full" for items with a capacity."""
        free = await self._free(item, occurrence)
        if free is None:
            return None
        if free == 0:
            return self.t("catalogue.capacity.full")
        return self.t("catalogue.capacity.free", free=free)

    async def _entry_text(self, number: int, entry: Entry) -> str:
        lines = [f"{number}. {self._title(entry.item)}", self._when(entry.occurrence)]
        if entry.signup is not None:
            lines.append(
                self.t("events.list.waiting", position=entry.position)
                if entry.signup.waiting
                else self.t("events.list.seat")
            )
        else:
            places = await self._places(entry.item, entry.occurrence)
            if places:
                lines.append(places)
        reasons = render_reasons(entry.reasons, lookup(self.t))
        if reasons:
            lines.append(reasons)
        return "\n".join(lines)

    async def list_reply(
        self,
        view: View,
        page: int,
        *,
        edit: bool,
        clamp: bool = False,
        in_dialog: bool = False,
    ) -> Reply | None:
        """One page of a list; None when the page no longer exists (unless ``clamp``)."""
        entries = await self.entries(view)
        pages = max(1, -(-len(entries) // PAGE_SIZE))
        if page >= pages:
            if not clamp:
                return None
            page = pages - 1
        shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        if not shown:
            empty = {cb.FOR_YOU: "recommend.none", cb.MINE: "events.list.no_signups"}
            text = self.t(empty.get(view.code, "events.list.empty"))
        else:
            blocks = [self._heading(view)]
            for number, entry in enumerate(shown, start=page * PAGE_SIZE + 1):
                blocks.append(await self._entry_text(number, entry))
            if pages > 1:
                blocks.append(self.t("events.list.page", page=page + 1, pages=pages))
            text = "\n\n".join(blocks)
        rows: list[list[Button]] = [
            [
                Button(
                    label(f"{number}. {self._title(entry.item)}"),
                    cb.pack(cb.CARD, entry.item.id, view, page),
                )
            ]
            for number, entry in enumerate(shown, start=page * PAGE_SIZE + 1)
        ]
        if in_dialog:
            return self._reply(text, rows, edit=False)
        nav = []
        if page > 0:
            nav.append(
                Button(self.t("events.button.previous"), cb.pack(cb.LIST, "", view, page - 1))
            )
        if page < pages - 1:
            nav.append(Button(self.t("events.button.next"), cb.pack(cb.LIST, "", view, page + 1)))
        rows.append(nav)
        back = {cb.BY_KIND: cb.KINDS_MENU, cb.BY_PLACE: cb.PLACES_MENU}.get(view.code, cb.HOME)
        rows.append([Button(self.t("events.button.back"), cb.pack(back))])
        return self._reply(text, rows, edit=edit)

    # -- the card --

    async def card_reply(
        self,
        item: Item,
        view: View | None,
        page: int,
        *,
        edit: bool,
        note: str | None = None,
    ) -> Reply:
        t = self.t
        occurrence, signup = await self.focus(item)
        lines = [note, ""] if note else []
        kind = t(text_key("kind", item.kind))
        lines += [
            self._title(item),
            f"{kind} · {item.organiser.get(self.language)}",
            "",
            item.summary.get(self.language),
            "",
        ]
        if occurrence is None:
            lines.append(t("events.card.no_dates"))
        else:
            lines.append(t("events.card.when", when=self._when(occurrence)))
            schedule = render_schedule(item.schedule, lookup(t))
            if schedule:
                lines.append(t("events.card.schedule", schedule=schedule))
            elif signup is None:
                later = next_occurrences(item, occurrence.start + timedelta(minutes=1), limit=2)
                if later:
                    dates = ", ".join(self._when(o) for o in later)
                    lines.append(t("events.card.later", dates=dates))
        if item.place is not None or item.municipalities:
            lines.append(t("events.card.where", where=place_text(item, self.language, t)))
        if item.online:
            lines.append(t("events.card.online"))
        lines.append(t("events.card.for_whom", audience=audience_text(item, t)))
        lines.append(t("events.card.languages", languages=languages_text(item, t)))
        free = await self._free(item, occurrence) if occurrence is not None else None
        places = await self._places(item, occurrence) if occurrence is not None else None
        if item.signup.mode == "none":
            places = t("catalogue.signup.none")
        if places and signup is None:
            lines.append(t("events.card.places", places=places))
        if signup is not None and signup.active:
            lines.append(t("events.card.seated"))
        elif signup is not None:
            lines.append(t("events.card.waiting", position=await self.repo.position(signup)))
        rows = self._card_buttons(item, view, page, occurrence, signup, full=free == 0)
        return self._reply("\n".join(lines).strip(), rows, edit=edit)

    def _card_buttons(
        self,
        item: Item,
        view: View | None,
        page: int,
        occurrence: Occurrence | None,
        signup: SignupInfo | None,
        *,
        full: bool,
    ) -> list[list[Button]]:
        t = self.t
        start = occurrence.start if occurrence is not None else None
        rows: list[list[Button]] = []
        if item.signup.mode == "bot" and occurrence is not None:
            if signup is not None and signup.active:
                action, text = cb.ASK_CANCEL, "events.button.cancel"
            elif signup is not None:
                action, text = cb.CANCEL, "events.button.leave_waitlist"
            elif full:
                action, text = cb.WAIT, "events.button.waitlist"
            else:
                action, text = cb.SIGNUP, "events.button.signup"
            rows.append([Button(t(text), cb.pack(action, item.id, view, page, start))])
        if item.signup.url and signup is None:
            rows.append([Button(label(t("catalogue.signup.link")), url=item.signup.url)])
        if item.place is not None:
            url = map_url(item.place, self.language)
            if url:
                rows.append([Button(t("events.button.map"), url=url)])
        if occurrence is not None:
            rows.append(
                [Button(t("events.button.calendar"), cb.pack(cb.CALENDAR, item.id, view, page))]
            )
        rows.append(
            [Button(t("events.button.not_for_me"), cb.pack(cb.NOT_FOR_ME, item.id, view, page))]
        )
        rows.append([Button(t("events.button.coach"), cb.pack(cb.TALK_TO_COACH))])
        rows.append([self._back(view, page)])
        return rows

    def _back(self, view: View | None, page: int) -> Button:
        if view is None:
            return Button(self.t("events.button.back"), cb.pack(cb.HOME))
        return Button(self.t("events.button.back"), cb.pack(cb.LIST, "", view, page))

    def calendar_reply(self, item: Item, occurrence: Occurrence, caption: str) -> Reply:
        """A calendar file: the occurrence, or every meeting of its course run."""
        meetings = run_of(item, occurrence) if item.schedule.range is not None else [occurrence]
        content = events_ics(item, meetings, self.language, now=self.now)
        document = Document(ics_filename(item, occurrence), content, "text/calendar")
        return Reply(caption, document=document)

    # -- what the buttons do --

    async def moved_on(self, item: Item | None, view: View | None, page: int) -> Turn:
        """The button was out of date: say so, and show the card (or the browser) as it is."""
        turn = Turn(notice=self.t("events.moved_on"))
        if item is None:
            turn.replies.append(self.menu_reply(edit=True))
        else:
            turn.replies.append(await self.card_reply(item, view, page, edit=True))
        return turn

    async def calendar(self, item: Item, view: View | None, page: int) -> Turn:
        occurrence, _ = await self.focus(item)
        if occurrence is None:
            return await self.moved_on(item, view, page)
        return Turn(replies=[self.calendar_reply(item, occurrence, self.t("events.calendar"))])

    async def sign_up(
        self, item: Item, view: View | None, page: int, shown: int, *, wait: bool
    ) -> Turn:
        occurrence, _ = await self.focus(item)
        if item.signup.mode != "bot" or occurrence is None or cb.minutes(occurrence.start) != shown:
            return await self.moved_on(item, view, page)
        if not self.services.consent:
            return Turn(replies=[self.consent_reply(item, view, page, occurrence)])
        return await self._take(item, occurrence, view, page, wait=wait)

    def consent_reply(
        self, item: Item, view: View | None, page: int, occurrence: Occurrence
    ) -> Reply:
        """Signing up stores personal data: ask first (or point to the organiser's site)."""
        text = self.t("events.signup.consent")
        rows = [
            [
                Button(
                    self.t("events.button.consent"),
                    cb.pack(cb.CONSENT, item.id, view, page, occurrence.start),
                )
            ]
        ]
        if item.signup.url:
            text += "\n\n" + self.t("events.signup.consent_link")
            rows.append([Button(label(self.t("catalogue.signup.link")), url=item.signup.url)])
        rows.append([Button(self.t("events.button.back"), cb.pack(cb.CARD, item.id, view, page))])
        return self._reply(text, rows, edit=True)

    async def consent_and_sign_up(
        self, item: Item, view: View | None, page: int, shown: int
    ) -> Turn:
        """The person agreed to have their data stored: record it as the consent step of the
        onboarding does (keeping what they already answered), then sign them up."""
        occurrence, _ = await self.focus(item)
        if item.signup.mode != "bot" or occurrence is None or cb.minutes(occurrence.start) != shown:
            return await self.moved_on(item, view, page)
        before: list[Reply] = []
        if not self.services.consent:
            said = dict(self.state.answers) if self.state is not None else {}
            dialog = (self.state.dialog if self.state is not None else None) or "events"
            consent = ConsentService.of(self.session, self.app, now=self.now)
            await consent.grant(self.person.id, dialog=dialog, answers=said)
            # "not for me" said before is kept from now on too
            for item_id, reason in (await self.dismissed()).items():
                await self.repo.dismiss(self.person.id, item_id, reason, now=self.now)
            feature = self.state.features.get(FEATURE) if self.state is not None else None
            if isinstance(feature, dict):
                feature.pop("dismissed", None)
            self.services.consent = True
            before.append(Reply(self.t(confirmation(True))))
        turn = await self._take(item, occurrence, view, page, wait=False)
        # the card first (an edit), then "thank you", then the calendar file
        turn.replies[1:1] = before
        return turn

    async def _take(
        self, item: Item, occurrence: Occurrence, view: View | None, page: int, *, wait: bool
    ) -> Turn:
        result = await self.repo.take_seat(
            self.person.id, item.id, occurrence.start, item.capacity, wait=wait, now=self.now
        )
        self._seats = None  # counted again for what is shown next
        await self._promoted(result.promoted)
        turn = Turn()
        if result.outcome in (SEATED, QUEUED) and result.signup is not None:
            await self._count("event_signup" if result.outcome == SEATED else "event_waiting", item)
        if result.outcome == SEATED:
            assert result.signup is not None
            await self._schedule_reminders(result.signup)
            if self.app.settings.coach_chat_id is not None:
                await self.repo.schedule_notice(result.signup.id, COACH, self.now)
            self._wake()
            turn.replies.append(await self.card_reply(item, view, page, edit=True))
            turn.replies.append(self.calendar_reply(item, occurrence, self.t("events.signup.done")))
            return turn
        if result.outcome == ALREADY:
            turn.notice = self.t("events.signup.already")
            note = None
        elif result.outcome == FULL:
            turn.notice = self.t("events.signup.full")
            note = self.t("events.card.just_full")
        else:
            assert result.outcome == QUEUED
            turn.notice = self.t("events.signup.queued", position=result.position)
            note = None
        turn.replies.append(await self.card_reply(item, view, page, edit=True, note=note))
        return turn

    def cancel_question(self, item: Item, view: View | None, page: int, shown: int) -> Reply:
        start = cb.at_minutes(shown)
        return self._reply(
            self.t("events.signup.confirm_cancel", title=self._title(item)),
            [
                [
                    Button(
                        self.t("events.button.confirm_cancel"),
                        cb.pack(cb.CANCEL, item.id, view, page, start),
                    )
                ],
                [Button(self.t("events.button.keep"), cb.pack(cb.CARD, item.id, view, page))],
            ],
            edit=True,
        )

    async def ask_cancel(self, item: Item, view: View | None, page: int, shown: int) -> Turn:
        occurrence, signup = await self.focus(item)
        if signup is None or occurrence is None or cb.minutes(occurrence.start) != shown:
            return await self.moved_on(item, view, page)
        return Turn(replies=[self.cancel_question(item, view, page, shown)])

    async def cancel(self, item: Item, view: View | None, page: int, shown: int) -> Turn:
        occurrence, signup = await self.focus(item)
        if signup is None or occurrence is None or cb.minutes(occurrence.start) != shown:
            return await self.moved_on(item, view, page)
        result = await self.repo.cancel(
            self.person.id, item.id, signup.starts_at, item.capacity, now=self.now
        )
        self._seats = None
        if result.cancelled is None:
            return await self.moved_on(item, view, page)
        await self.repo.drop_notices(result.cancelled.id)
        await self._promoted(result.promoted)
        await self._count("event_cancelled", item, had_seat=result.cancelled.active)
        notice = (
            "events.signup.cancelled" if result.cancelled.active else "events.signup.left_waitlist"
        )
        turn = Turn(notice=self.t(notice))
        turn.replies.append(await self.card_reply(item, view, page, edit=True))
        return turn

    def dismiss_question(self, item: Item, view: View | None, page: int) -> Reply:
        rows = [
            [
                Button(
                    label(self.t(text_key("dismiss", reason))),
                    cb.pack(cb.DISMISS, item.id, view, page, choice=index),
                )
            ]
            for index, reason in enumerate(DISMISS_REASONS)
        ]
        rows.append([Button(self.t("events.button.back"), cb.pack(cb.CARD, item.id, view, page))])
        question = f"{self._title(item)}\n\n{self.t('events.dismiss.question')}"
        return self._reply(question, rows, edit=True)

    async def dismiss(self, item: Item, choice: int, view: View | None, page: int) -> Turn:
        if not 0 <= choice < len(DISMISS_REASONS):
            return await self.moved_on(item, view, page)
        reason = DISMISS_REASONS[choice]
        await self._count("event_dismissed", item, reason=reason)
        if self.services.consent:
            await self.repo.dismiss(self.person.id, item.id, reason, now=self.now)
        elif self.state is not None:
            feature = self.state.features.get(FEATURE)
            feature = feature if isinstance(feature, dict) else {}
            local = feature.get("dismissed")
            feature["dismissed"] = {**(local if isinstance(local, dict) else {}), item.id: reason}
            self.state.features[FEATURE] = feature
        turn = Turn(notice=self.t("events.dismiss.thanks"))
        reply = (
            await self.list_reply(view, page, edit=True, clamp=True) if view is not None else None
        )
        turn.replies.append(reply or self.menu_reply(edit=True))
        return turn

    async def _count(self, name: str, item: Item, **extra: Any) -> None:
        """An anonymous counter for the reports (no person id; kept when people erase their
        data): which item, and the person's language, municipality and age group."""
        dims = {
            "item": item.id,
            "kind": item.kind,
            "language": self.language,
            "municipality": self.answers.get("municipality"),
            "age_group": self.answers.get("age_group"),
            **extra,
        }
        await StatsRepository(self.session).record(name, dims, at=self.now)

    # -- notices --

    async def _schedule_reminders(self, signup: SignupInfo) -> None:
        for kind, due in reminder_times(signup.starts_at).items():
            if due > self.now:
                await self.repo.schedule_notice(signup.id, kind, due)

    async def _promoted(self, promoted: Sequence[SignupInfo]) -> None:
        """People who got a seat from the waiting list are told, and reminded like anyone."""
        for signup in promoted:
            await self.repo.schedule_notice(signup.id, PROMOTED, self.now, again=True)
            await self._schedule_reminders(signup)
        if promoted:
            self._wake()

    def _wake(self) -> None:
        """Send notices now rather than at the job's next tick (after the commit)."""
        if self._woken:
            return
        self._woken = True
        app = self.app

        def wake() -> None:
            if app.scheduler is not None:
                app.scheduler.wake(NOTICES_JOB)

        self.services.after_commit.append(wake)
