"""Callback data of the events browser: ``e:<action>:<item>:<list>:<page>:<start>:<choice>``.

Everything a button needs travels in its data (the browser keeps no state of its own), so
every field is checked on arrival: an unknown action, item, list, page or choice is answered
with "that has moved on" and the browser — never a crash, never a sign-up for something the
person did not see. Data that does not even have the browser's shape is left to the private
router's handler of unknown buttons (the dialog's "moved on"). The occurrence a sign-up button was shown for
travels with it (minutes since the epoch): if the item's next date has changed meanwhile, the
press signs up for nothing and shows the card again.

Lists are coded short so the data stays far below Telegram's 64 bytes with a 32-character
item id: ``r`` suggested for you, ``w`` this week, ``o`` online, ``s`` my sign-ups,
``k<n>`` the n-th kind, ``m<n>`` the n-th municipality of the catalogue's vocabularies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from aiogram.filters.callback_data import CallbackData

from bot.catalogue.schema import ITEM_ID
from bot.catalogue.tags import DISMISS_REASONS, KINDS, MUNICIPALITIES
from bot.telegram.callbacks import DatabaseInts

PREFIX: Final = "e"

# actions (one letter each)
HOME: Final = "h"  # the browser's menu
KINDS_MENU: Final = "k"  # choose a kind
PLACES_MENU: Final = "m"  # choose a municipality
LIST: Final = "l"  # a list, one page
CARD: Final = "c"  # an item's card
SIGNUP: Final = "s"  # take a seat
WAIT: Final = "w"  # join the waiting list
ASK_CANCEL: Final = "x"  # "cancel your place?"
CANCEL: Final = "y"  # cancel it
CALENDAR: Final = "f"  # the calendar file
NOT_FOR_ME: Final = "n"  # "why not?"
DISMISS: Final = "d"  # the answer to that
CONSENT: Final = "g"  # give consent, then sign up
MAIN_MENU: Final = "b"  # leave the browser for the main menu
TALK_TO_COACH: Final = "t"  # leave the browser for the handoff dialog
CHOOSE: Final = "u"  # which run of a course, or which one-to-one time
ACTIONS: Final = frozenset(
    {
        HOME,
        KINDS_MENU,
        PLACES_MENU,
        LIST,
        CARD,
        SIGNUP,
        WAIT,
        ASK_CANCEL,
        CANCEL,
        CALENDAR,
        NOT_FOR_ME,
        DISMISS,
        CONSENT,
        MAIN_MENU,
        TALK_TO_COACH,
        CHOOSE,
    }
)
#: actions that name an item
ITEM_ACTIONS: Final = frozenset(
    {CARD, SIGNUP, WAIT, ASK_CANCEL, CANCEL, CALENDAR, NOT_FOR_ME, DISMISS, CONSENT, CHOOSE}
)

#: ``r`` of a sign-up the person confirmed although the item is meant for others
CONFIRMED: Final = 1

# lists
FOR_YOU: Final = "r"
THIS_WEEK: Final = "w"
ONLINE: Final = "o"
MINE: Final = "s"
BY_KIND: Final = "k"
BY_PLACE: Final = "m"

_ITEM_RE: Final = re.compile(ITEM_ID)
_VIEW_RE: Final = re.compile(r"^(?:[rwos]|[km][0-9]{1,2})$")
MAX_PAGE: Final = 999


class EventsData(CallbackData, DatabaseInts, prefix=PREFIX):
    #: what to do (one of :data:`ACTIONS`)
    a: str
    #: the item, for actions on one item
    i: str = ""
    #: the list to show, or to go back to from a card ("" = the browser's menu)
    v: str = ""
    #: its page, from 0
    p: int = 0
    #: the occurrence a sign-up or cancel button was shown for, in minutes since the epoch
    t: int = 0
    #: a choice: the reason of "not for me" (an index into ``DISMISS_REASONS``); for a
    #: sign-up, :data:`CONFIRMED` once the person said yes to an item meant for others
    r: int = 0


@dataclass(frozen=True, slots=True)
class View:
    """A list of the browser: its code and, for a kind or a municipality, which one."""

    code: str
    value: str | None = None

    @property
    def key(self) -> str:
        if self.code == BY_KIND and self.value is not None:
            return f"{BY_KIND}{KINDS.index(self.value)}"
        if self.code == BY_PLACE and self.value is not None:
            return f"{BY_PLACE}{MUNICIPALITIES.index(self.value)}"
        return self.code


def view_of(key: str) -> View | None:
    """The list a callback names, or None for anything unknown."""
    if not _VIEW_RE.match(key):
        return None
    if key[0] in (BY_KIND, BY_PLACE):
        vocabulary: tuple[str, ...] = KINDS if key[0] == BY_KIND else MUNICIPALITIES
        index = int(key[1:])
        if index >= len(vocabulary):
            return None
        return View(key[0], vocabulary[index])
    return View(key)


def minutes(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def at_minutes(value: int) -> datetime:
    return datetime.fromtimestamp(value * 60, UTC)


def pack(
    action: str,
    item: str = "",
    view: View | None = None,
    page: int = 0,
    start: datetime | None = None,
    choice: int = 0,
) -> str:
    return EventsData(
        a=action,
        i=item,
        v=view.key if view is not None else "",
        p=page,
        t=minutes(start) if start is not None else 0,
        r=choice,
    ).pack()


def unpack(data: str) -> EventsData | None:
    """The fields of browser callback data, unchecked; None if it is not of that shape at all
    (then it is not ours: someone else's or forged beyond repair)."""
    try:
        return EventsData.unpack(data)
    except (ValueError, TypeError):
        return None


def parse(data: str) -> EventsData | None:
    """Callback data of the browser, checked field by field; None if anything is off."""
    parsed = unpack(data)
    if parsed is None:
        return None
    if parsed.a not in ACTIONS or not 0 <= parsed.p <= MAX_PAGE or parsed.t < 0:
        return None
    if not 0 <= parsed.r < len(DISMISS_REASONS):
        return None
    if parsed.a in ITEM_ACTIONS and not _ITEM_RE.match(parsed.i):
        return None
    if parsed.v and view_of(parsed.v) is None:
        return None
    if parsed.a == LIST and not parsed.v:
        return None
    return parsed
