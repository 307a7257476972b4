"""What the events browser shows, as replies: its menu, a page of a list, an item's card, a
calendar file, and its questions (consent before a sign-up, "cancel your place?", "why not?").
Texts come from :mod:`.views`, buttons from :mod:`.keyboards`, what the database says from
:class:`~.shelf.Shelf`. A reply is an edit in place when a button of the message was pressed
and the message can still be edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from bot.catalogue.ics import events_ics
from bot.catalogue.ics import filename as ics_filename
from bot.catalogue.recommend import Profile
from bot.catalogue.schedule import Occurrence, run_of
from bot.catalogue.schema import Item
from bot.catalogue.tags import MUNICIPALITIES
from bot.engine.output import Button, Document, Reply

from . import callbacks as cb
from . import keyboards, views
from .callbacks import View
from .shelf import Dismissed, Shelf
from .views import Texts

#: items on one page of a list
PAGE_SIZE: Final = 5


class Pages:
    def __init__(
        self,
        shelf: Shelf,
        t: Texts,
        language: str,
        *,
        can_edit: bool,
        profile: Mapping[str, Any],
        dismissed: Dismissed,
    ) -> None:
        self.shelf = shelf
        self.t = t
        self.language = language
        #: whether the message whose button was pressed can be edited
        self.can_edit = can_edit
        #: the person's answers and language (what "for you" is chosen by)
        self.profile = profile
        #: the same, read as the recommender reads it (for markings such as "for people
        #: over 50")
        self.person = Profile.from_answers(profile)
        self.dismissed = dismissed

    def reply(self, text: str, rows: Sequence[Sequence[Button]], *, edit: bool) -> Reply:
        return Reply(text, tuple(tuple(row) for row in rows if row), edit=edit and self.can_edit)

    def title(self, item: Item) -> str:
        return item.title.get(self.language)

    # -- menus --

    def menu(self, *, edit: bool) -> Reply:
        return self.reply(self.t("events.menu.text"), keyboards.menu(self.t), edit=edit)

    def kinds(self, *, edit: bool) -> Reply:
        catalogue = self.shelf.catalogue
        kinds = catalogue.kinds() if catalogue is not None else ()
        rows = keyboards.choose(self.t, cb.BY_KIND, "kind", kinds)
        return self.reply(self.t("events.list.choose_kind"), rows, edit=edit)

    def places(self, *, edit: bool) -> Reply:
        present = {m for item in self.shelf.catalogue or () for m in item.municipalities}
        places = [m for m in MUNICIPALITIES if m in present]
        rows = keyboards.choose(self.t, cb.BY_PLACE, "municipality", places)
        return self.reply(self.t("events.list.choose_place"), rows, edit=edit)

    # -- lists and cards --

    async def list(
        self,
        view: View,
        page: int,
        *,
        edit: bool,
        clamp: bool = False,
        in_dialog: bool = False,
    ) -> Reply | None:
        """One page of a list; None when the page no longer exists (unless ``clamp``)."""
        shelf = self.shelf
        entries = await shelf.entries(view, profile=self.profile, dismissed=self.dismissed)
        pages = max(1, -(-len(entries) // PAGE_SIZE))
        if page >= pages:
            if not clamp:
                return None
            page = pages - 1
        first = page * PAGE_SIZE + 1
        shown = list(enumerate(entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], start=first))
        lines = []
        for number, entry in shown:
            free = await shelf.free(entry.item, entry.occurrence) if entry.signup is None else None
            lines.append(
                views.entry_text(
                    number, entry, self.language, self.t, free=free, person=self.person
                )
            )
        text = views.list_text(view, lines, page, pages, self.t)
        titles = [(number, entry.item.id, self.title(entry.item)) for number, entry in shown]
        rows = keyboards.list_rows(self.t, view, page, pages, titles, in_dialog=in_dialog)
        if in_dialog:  # the dialog's next question joins the list, its buttons below these
            return replace(self.reply(text, rows, edit=False), question_below=True)
        return self.reply(text, rows, edit=edit)

    async def card(
        self, item: Item, view: View | None, page: int, *, edit: bool, note: str | None = None
    ) -> Reply:
        shelf = self.shelf
        occurrence, signup = await shelf.focus(item)
        free = await shelf.free(item, occurrence) if occurrence is not None else None
        waiting = signup is not None and not signup.active
        position = await shelf.position(signup) if signup is not None and waiting else None
        text = views.card_text(
            item,
            self.language,
            self.t,
            occurrence=occurrence,
            signup=signup,
            free=free,
            position=position,
            note=note,
            person=self.person,
        )
        choices = len(shelf.choices(item)) if signup is None else 1
        rows = keyboards.card(
            self.t,
            item,
            self.language,
            view,
            page,
            occurrence,
            signup,
            full=free == 0,
            choices=choices,
        )
        return self.reply(text, rows, edit=edit)

    async def choose(self, item: Item, view: View | None, page: int) -> Reply:
        """Which run of the course, or which one-to-one time (full ones lead to the line)."""
        options = []
        for occurrence in self.shelf.choices(item):
            free = await self.shelf.free(item, occurrence)
            text = views.short_start(occurrence.start, self.t)
            options.append((occurrence, text, free == 0))
        question = "events.signup.choose_slot" if item.is_slot else "events.signup.choose_run"
        text = f"{self.title(item)}\n\n{self.t(question)}"
        return self.reply(text, keyboards.choices(self.t, item, view, page, options), edit=True)

    def confirm_audience(
        self, item: Item, view: View | None, page: int, occurrence: Occurrence, *, wait: bool
    ) -> Reply | None:
        """ "For people over 50. Do you want to sign up anyway?" when something the person
        said excludes them; None when nothing does."""
        marking = views.audience_marking(item, self.person, self.t)
        if marking is None:
            return None
        text = f"{self.title(item)}\n\n{self.t('events.signup.audience', marking=marking)}"
        rows = keyboards.confirm_audience(self.t, item, view, page, occurrence.start, wait=wait)
        return self.reply(text, rows, edit=True)

    def calendar(self, item: Item, occurrence: Occurrence, caption: str) -> Reply:
        """A calendar file: the occurrence, or every meeting of its course run."""
        meetings = run_of(item, occurrence) if item.schedule.range is not None else [occurrence]
        content = events_ics(item, meetings, self.language, now=self.shelf.now)
        document = Document(ics_filename(item, occurrence), content, "text/calendar")
        return Reply(caption, document=document)

    # -- questions --

    def consent(self, item: Item, view: View | None, page: int, occurrence: Occurrence) -> Reply:
        """Signing up stores personal data: ask first (or point to the organiser's site)."""
        text = self.t("events.signup.consent")
        if item.signup.url:
            text += "\n\n" + self.t("events.signup.consent_link")
        rows = keyboards.consent(self.t, item, view, page, occurrence)
        return self.reply(text, rows, edit=True)

    def cancel(self, item: Item, view: View | None, page: int, start: datetime) -> Reply:
        text = self.t("events.signup.confirm_cancel", title=self.title(item))
        return self.reply(text, keyboards.cancel(self.t, item, view, page, start), edit=True)

    def dismiss(self, item: Item, view: View | None, page: int) -> Reply:
        question = f"{self.title(item)}\n\n{self.t('events.dismiss.question')}"
        return self.reply(question, keyboards.dismiss(self.t, item, view, page), edit=True)
