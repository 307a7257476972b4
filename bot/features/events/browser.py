"""The events browser, one person and one turn at a time: what each of its buttons does —
lists, cards, calendar files, sign-ups, the waiting list, cancelling, "not for me".

A :class:`Browser` works inside the turn's transaction (see
:class:`bot.telegram.conversation.Conversation`) and returns a :class:`~bot.engine.output.Turn`
whose replies are sent only after the commit; it never talks to Telegram. Its parts:

* :mod:`.shelf` — the catalogue as the person sees it (lists, seats taken, their sign-ups);
* :mod:`.pages` — the replies (texts from :mod:`.views`, buttons from :mod:`.keyboards`);
* :mod:`.signup` — seats and the waiting list (``event_signups``, only with consent) and the
  counters; the reminders and other notices they queue are in :mod:`.notices`;
* :mod:`.dismissals` — "not for me";
* consent asked before a sign-up is recorded by :mod:`bot.features.consent.api`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.app import App
from bot.catalogue.schedule import Occurrence
from bot.catalogue.schema import Catalogue, Item
from bot.catalogue.tags import DISMISS_REASONS
from bot.engine.output import Reply, Turn
from bot.engine.state import ConversationState
from bot.features.consent.api import ConsentService, confirmation
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
from . import dismissals
from .callbacks import View
from .notices import (
    COACH,
    DAY_BEFORE,
    HOUR_BEFORE,
    MOVED,
    MOVED_JOB,
    NOTICES_JOB,
    PROMOTED,
    reminder_times,
)
from .pages import Pages
from .shelf import Shelf
from .signup import Signups, person_dims

#: names other modules import from here
__all__ = [
    "COACH",
    "DAY_BEFORE",
    "HOUR_BEFORE",
    "MOVED",
    "MOVED_JOB",
    "NOTICES_JOB",
    "PROMOTED",
    "Browser",
    "reminder_times",
]

#: the dialog name of answers kept when someone consents while signing up outside a dialog
DIALOG = "events"


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
        self.now = self.app.clock()
        self.repo = repo = EventRepository(self.session)
        catalogue = self.app.content.catalogue
        if not isinstance(catalogue, Catalogue):
            catalogue = None
        self.shelf = Shelf(repo, catalogue, person_id=self.person.id, now=self.now)
        profile = {**self.answers, "language": language}
        self.pages = Pages(
            self.shelf,
            self.t,
            language,
            can_edit=can_edit,
            profile=profile,
            dismissed=self.dismissed,
        )
        self.signups = Signups(
            repo,
            StatsRepository(self.session),
            person_id=self.person.id,
            now=self.now,
            coach_group=self.app.settings.coach_chat_id is not None,
            who=person_dims(language, self.answers),
            wake=self._wake,
        )

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

    # -- basics (also used by the dialog actions) --

    @property
    def catalogue(self) -> Catalogue | None:
        return self.shelf.catalogue

    def item(self, item_id: str) -> Item | None:
        return self.shelf.item(item_id)

    def t(self, key: str, **params: Any) -> str:
        return self.app.t(key, self.language, **params)

    def menu_reply(self, *, edit: bool) -> Reply:
        return self.pages.menu(edit=edit)

    async def list_reply(
        self, view: View, page: int, *, edit: bool, clamp: bool = False, in_dialog: bool = False
    ) -> Reply | None:
        return await self.pages.list(view, page, edit=edit, clamp=clamp, in_dialog=in_dialog)

    async def card_reply(
        self, item: Item, view: View | None, page: int, *, edit: bool, note: str | None = None
    ) -> Reply:
        return await self.pages.card(item, view, page, edit=edit, note=note)

    async def suggestions(self) -> list[Item]:
        """The items of "⭐ For you" as the person sees them now (the list and its order)."""
        entries = await self.shelf.entries(
            View(cb.FOR_YOU), profile=self.pages.profile, dismissed=self.dismissed
        )
        return [entry.item for entry in entries]

    async def dismissed(self) -> dict[str, str]:
        return await dismissals.dismissed(
            self.repo, self.person.id, consent=self.services.consent, state=self.state
        )

    async def _shown(self, item: Item, shown: int) -> tuple[Occurrence | None, SignupInfo | None]:
        """The card's occurrence (and the person's sign-up there); the occurrence is None
        unless it is still the one the pressed button was ``shown`` for."""
        occurrence, signup = await self.shelf.focus(item)
        if occurrence is None or cb.minutes(occurrence.start) != shown:
            return None, signup
        return occurrence, signup

    # -- what the buttons do --

    async def moved_on(self, item: Item | None, view: View | None, page: int) -> Turn:
        """The button was out of date: say so, and show the card (or the browser) as it is."""
        turn = Turn(notice=self.t("events.moved_on"))
        if item is None:
            turn.replies.append(self.pages.menu(edit=True))
        else:
            turn.replies.append(await self.pages.card(item, view, page, edit=True))
        return turn

    async def calendar(self, item: Item, view: View | None, page: int) -> Turn:
        occurrence, _ = await self.shelf.focus(item)
        if occurrence is None:
            return await self.moved_on(item, view, page)
        return Turn(replies=[self.pages.calendar(item, occurrence, self.t("events.calendar"))])

    def _chosen(self, item: Item, shown: int) -> Occurrence | None:
        """The occurrence a sign-up button was shown for, if it can still be chosen (the
        next joinable one, another run of a course, another one-to-one time)."""
        for occurrence in self.shelf.choices(item):
            if cb.minutes(occurrence.start) == shown:
                return occurrence
        return None

    async def choose(self, item: Item, view: View | None, page: int) -> Turn:
        if item.signup.mode != "bot" or len(self.shelf.choices(item)) < 2:
            return await self.moved_on(item, view, page)  # the card now signs up directly
        return Turn(replies=[await self.pages.choose(item, view, page)])

    async def sign_up(
        self,
        item: Item,
        view: View | None,
        page: int,
        shown: int,
        *,
        wait: bool,
        confirmed: bool = False,
    ) -> Turn:
        """A seat (or a place in line) at the occurrence the button was shown for; first,
        once, "this is for people over 50: sign up anyway?" when the person said something
        that excludes them, and consent when they have not given it."""
        occurrence = self._chosen(item, shown)
        if item.signup.mode != "bot" or occurrence is None:
            return await self.moved_on(item, view, page)
        if not confirmed:
            question = self.pages.confirm_audience(item, view, page, occurrence, wait=wait)
            if question is not None:
                return Turn(replies=[question])
        if not self.services.consent:
            return Turn(replies=[self.pages.consent(item, view, page, occurrence)])
        return await self._take(item, occurrence, view, page, wait=wait)

    async def consent_and_sign_up(
        self, item: Item, view: View | None, page: int, shown: int
    ) -> Turn:
        """The person agreed to have their data stored: record it as the onboarding does,
        keeping what they already said in this conversation, then sign them up."""
        occurrence = self._chosen(item, shown)
        if item.signup.mode != "bot" or occurrence is None:
            return await self.moved_on(item, view, page)
        before: list[Reply] = []
        if not self.services.consent:
            state = self.state
            said = dict(state.answers) if state is not None else {}
            dialog = (state.dialog if state is not None else None) or DIALOG
            consent = ConsentService.of(self.session, self.app, now=self.now)
            await consent.grant(self.person.id, dialog=dialog, answers=said)
            await dismissals.keep(self.repo, self.person.id, state, now=self.now)
            self.services.consent = True
            before.append(Reply(self.t(confirmation(True))))
        turn = await self._take(item, occurrence, view, page, wait=False)
        # the card first (an edit), then "thank you", then the calendar file
        turn.replies[1:1] = before
        return turn

    async def _take(
        self, item: Item, occurrence: Occurrence, view: View | None, page: int, *, wait: bool
    ) -> Turn:
        result = await self.signups.take(item, occurrence.start, wait=wait)
        self.shelf.seats_changed()
        turn = Turn()
        note = None
        if result.outcome == SEATED:
            turn.replies.append(await self.pages.card(item, view, page, edit=True))
            done = self.t("events.signup.done")
            turn.replies.append(self.pages.calendar(item, occurrence, done))
            return turn
        if result.outcome == ALREADY:
            turn.notice = self.t("events.signup.already")
        elif result.outcome == FULL:
            turn.notice = self.t("events.signup.full")
            note = self.t("events.card.just_full")
        else:
            assert result.outcome == QUEUED
            turn.notice = self.t("events.signup.queued", position=result.position)
        turn.replies.append(await self.pages.card(item, view, page, edit=True, note=note))
        return turn

    async def ask_cancel(self, item: Item, view: View | None, page: int, shown: int) -> Turn:
        occurrence, signup = await self._shown(item, shown)
        if signup is None or occurrence is None:
            return await self.moved_on(item, view, page)
        return Turn(replies=[self.pages.cancel(item, view, page, cb.at_minutes(shown))])

    async def cancel(self, item: Item, view: View | None, page: int, shown: int) -> Turn:
        occurrence, signup = await self._shown(item, shown)
        if signup is None or occurrence is None:
            return await self.moved_on(item, view, page)
        cancelled = await self.signups.cancel(item, signup.starts_at)
        self.shelf.seats_changed()
        if cancelled is None:
            return await self.moved_on(item, view, page)
        notice = "events.signup.cancelled" if cancelled.active else "events.signup.left_waitlist"
        turn = Turn(notice=self.t(notice))
        turn.replies.append(await self.pages.card(item, view, page, edit=True))
        return turn

    async def dismiss(self, item: Item, choice: int, view: View | None, page: int) -> Turn:
        if not 0 <= choice < len(DISMISS_REASONS):
            return await self.moved_on(item, view, page)
        reason = DISMISS_REASONS[choice]
        await self.signups.count("event_dismissed", item, reason=reason)
        await dismissals.dismiss(
            self.repo,
            self.person.id,
            item.id,
            reason,
            consent=self.services.consent,
            state=self.state,
            now=self.now,
        )
        turn = Turn(notice=self.t("events.dismiss.thanks"))
        reply = (
            await self.pages.list(view, page, edit=True, clamp=True) if view is not None else None
        )
        turn.replies.append(reply or self.pages.menu(edit=True))
        return turn

    def _wake(self) -> None:
        """Run the notices job once this turn has committed."""
        app = self.app

        def wake() -> None:
            if app.scheduler is not None:
                app.scheduler.wake(NOTICES_JOB)

        self.services.after_commit.append(wake)
