"""The buttons of the events browser: rows of :class:`~bot.engine.output.Button` whose data is
packed by :mod:`.callbacks`. Pure functions of what is shown and a text lookup ``t``; the texts
are in :mod:`.views`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.catalogue.schedule import Occurrence
from bot.catalogue.schema import Item
from bot.catalogue.tags import DISMISS_REASONS, text_key
from bot.engine.output import Button
from db.repositories import SignupInfo

from . import callbacks as cb
from .callbacks import View
from .views import Texts, label, map_url

Rows = list[list[Button]]


def _go(t: Texts, key: str, action: str, view: str | None = None) -> Button:
    return Button(t(f"events.menu.{key}"), cb.pack(action, view=View(view) if view else None))


def home(t: Texts) -> Button:
    """Back to the browser's menu."""
    return Button(t("events.button.back"), cb.pack(cb.HOME))


def back(t: Texts, view: View | None, page: int) -> Button:
    """Back from a card: to its list (and page), or to the menu."""
    if view is None:
        return home(t)
    return Button(t("events.button.back"), cb.pack(cb.LIST, "", view, page))


def to_card(t: Texts, item: Item, view: View | None, page: int, text: str) -> Button:
    return Button(t(text), cb.pack(cb.CARD, item.id, view, page))


def menu(t: Texts) -> Rows:
    return [
        [_go(t, "for_you", cb.LIST, cb.FOR_YOU)],
        [_go(t, "by_kind", cb.KINDS_MENU), _go(t, "by_place", cb.PLACES_MENU)],
        [_go(t, "this_week", cb.LIST, cb.THIS_WEEK), _go(t, "online", cb.LIST, cb.ONLINE)],
        [_go(t, "my_signups", cb.LIST, cb.MINE)],
        [_go(t, "main_menu", cb.MAIN_MENU)],
    ]


def choose(t: Texts, code: str, group: str, values: Iterable[str]) -> Rows:
    """A list for each kind (``code`` ``BY_KIND``, ``group`` ``kind``) or municipality."""
    rows = [
        [Button(label(t(text_key(group, value))), cb.pack(cb.LIST, view=View(code, value)))]
        for value in values
    ]
    rows.append([home(t)])
    return rows


def list_rows(
    t: Texts,
    view: View,
    page: int,
    pages: int,
    titles: Sequence[tuple[int, str, str]],
    *,
    in_dialog: bool,
) -> Rows:
    """A button per line (``titles``: number, item id, title); inside a dialog nothing more,
    else the pages and the way back."""
    rows: Rows = [
        [Button(label(f"{number}. {title}"), cb.pack(cb.CARD, item_id, view, page))]
        for number, item_id, title in titles
    ]
    if in_dialog:
        return rows
    nav = []
    if page > 0:
        nav.append(Button(t("events.button.previous"), cb.pack(cb.LIST, "", view, page - 1)))
    if page < pages - 1:
        nav.append(Button(t("events.button.next"), cb.pack(cb.LIST, "", view, page + 1)))
    rows.append(nav)
    up = {cb.BY_KIND: cb.KINDS_MENU, cb.BY_PLACE: cb.PLACES_MENU}.get(view.code, cb.HOME)
    rows.append([Button(t("events.button.back"), cb.pack(up))])
    return rows


def card(
    t: Texts,
    item: Item,
    language: str,
    view: View | None,
    page: int,
    occurrence: Occurrence | None,
    signup: SignupInfo | None,
    *,
    full: bool,
    choices: int = 1,
) -> Rows:
    """The card's buttons; with several ``choices`` (runs of a course, one-to-one times) the
    sign-up button first asks which one."""
    start = occurrence.start if occurrence is not None else None
    rows: Rows = []
    if item.signup.mode == "bot" and occurrence is not None:
        if signup is not None and signup.active:
            action, text = cb.ASK_CANCEL, "events.button.cancel"
        elif signup is not None:
            action, text = cb.CANCEL, "events.button.leave_waitlist"
        elif choices > 1:
            action, text, start = cb.CHOOSE, "events.button.signup", None
        elif full:
            action, text = cb.WAIT, "events.button.waitlist"
        else:
            action, text = cb.SIGNUP, "events.button.signup"
        rows.append([Button(t(text), cb.pack(action, item.id, view, page, start))])
    if item.signup.url and signup is None:
        rows.append([Button(label(t("catalogue.signup.link")), url=item.signup.url)])
    if item.place is not None:
        url = map_url(item.place, language)
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
    rows.append([back(t, view, page)])
    return rows


def choices(
    t: Texts,
    item: Item,
    view: View | None,
    page: int,
    choices: Sequence[tuple[Occurrence, str, bool]],
) -> Rows:
    """A button per choice (occurrence, its label, whether it is full): a seat, or a place
    in line when it is full; then back to the card."""
    rows = [
        [
            Button(
                label(t("events.button.choice_full", when=text) if full else text),
                cb.pack(cb.WAIT if full else cb.SIGNUP, item.id, view, page, occurrence.start),
            )
        ]
        for occurrence, text, full in choices
    ]
    rows.append([to_card(t, item, view, page, "events.button.back")])
    return rows


def confirm_audience(
    t: Texts, item: Item, view: View | None, page: int, start: datetime, *, wait: bool
) -> Rows:
    """Sign up although the item is meant for others (asked once), or back to the card."""
    action = cb.WAIT if wait else cb.SIGNUP
    return [
        [
            Button(
                t("events.button.signup_anyway"),
                cb.pack(action, item.id, view, page, start, choice=cb.CONFIRMED),
            )
        ],
        [to_card(t, item, view, page, "events.button.back")],
    ]


def consent(t: Texts, item: Item, view: View | None, page: int, occurrence: Occurrence) -> Rows:
    """Agree and sign up (for the occurrence shown), the organiser's site, or back."""
    rows = [
        [
            Button(
                t("events.button.consent"),
                cb.pack(cb.CONSENT, item.id, view, page, occurrence.start),
            )
        ]
    ]
    if item.signup.url:
        rows.append([Button(label(t("catalogue.signup.link")), url=item.signup.url)])
    rows.append([to_card(t, item, view, page, "events.button.back")])
    return rows


def cancel(t: Texts, item: Item, view: View | None, page: int, start: datetime) -> Rows:
    return [
        [Button(t("events.button.confirm_cancel"), cb.pack(cb.CANCEL, item.id, view, page, start))],
        [to_card(t, item, view, page, "events.button.keep")],
    ]


def dismiss(t: Texts, item: Item, view: View | None, page: int) -> Rows:
    """A button for each reason of "not for me"."""
    rows = [
        [
            Button(
                label(t(text_key("dismiss", reason))),
                cb.pack(cb.DISMISS, item.id, view, page, choice=index),
            )
        ]
        for index, reason in enumerate(DISMISS_REASONS)
    ]
    rows.append([to_card(t, item, view, page, "events.button.back")])
    return rows
