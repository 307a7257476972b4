"""Shared pieces of the handoff tests: an app with the handoff dialog and a coach group, a
controllable clock, and people and coaches who talk to the real dispatcher."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.methods import CopyMessage, SendMessage
from aiogram.types import InlineKeyboardMarkup, Message
from sqlalchemy import select

from bot.app import App
from bot.features.handoff.outbox import deliver_outbox
from bot.telegram.offline import ChatClient
from db.models import HandoffRequest
from db.repositories import CoachRepository, HandoffRepository, PersonRepository, RequestInfo
from tests import support
from tests.support import FIXTURES, ROOT, Clock, Harness, make_app, make_settings

HELSINKI = ZoneInfo("Europe/Helsinki")
GROUP = -1001234567890
ADMIN = 9001
ANNA, BEN, OUTSIDER = 501, 502, 503
PERSON = 1001
#: a Monday in office hours (08-16)
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=HELSINKI).astimezone(UTC)


def handoff_content(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture dialogs plus a stable handoff dialog, and the real handoff content files."""
    dialogs = tmp_path / "dialogs"
    texts = tmp_path / "content" / "texts"
    dialogs.mkdir()
    texts.mkdir(parents=True)
    for path in (FIXTURES / "dialogs").glob("*.yaml"):
        shutil.copy(path, dialogs)
    shutil.copy(FIXTURES / "handoff" / "handoff.yaml", dialogs)
    for path in (FIXTURES / "content" / "texts").glob("*.yaml"):
        shutil.copy(path, texts)
    for path in (ROOT / "content" / "texts").glob("handoff.*.yaml"):
        shutil.copy(path, texts)
    for path in (FIXTURES / "handoff").glob("dialog_texts.*.yaml"):
        shutil.copy(path, texts)
    for name in ("office_hours.yaml", "saved_replies.yaml"):
        shutil.copy(ROOT / "content" / name, tmp_path / "content" / name)
    return dialogs, tmp_path / "content"


async def make_handoff_app(tmp_path: Path, **overrides: Any) -> App:
    dialogs, content = handoff_content(tmp_path)
    values: dict[str, Any] = {
        "dialogs_dir": dialogs,
        "content_dir": content,
        "coach_chat_id": GROUP,
        "admin_ids": [ADMIN],
    }
    values.update(overrides)
    app = await make_app(make_settings(tmp_path, **values))
    app.clock = Clock(MONDAY_10)
    async with app.db.transaction() as session:
        await CoachRepository(session).add(ANNA, "Anna")
        await CoachRepository(session).add(BEN, "Ben")
    return app


def clock(h: Harness) -> Clock:
    assert isinstance(h.app.clock, Clock)
    return h.app.clock


async def onboard(h: Harness, user_id: int = PERSON, first_name: str = "Matti") -> ChatClient:
    return await support.onboard(h, user_id, first_name=first_name)


async def ask_for_coach(
    person: ChatClient,
    *,
    topic: str = "Työnhaku",
    details: str | None = "Tarvitsen apua CV:n kanssa",
    contact: str = "Chatissa",
    phone: str = "040 123 4567",
    meeting: str = "Verkossa",
    share: str = "Saa nähdä",
) -> list[Any]:
    """The whole handoff dialog; returns the Bot API calls of its last turn."""
    await person.send("ihminen")
    await person.click(topic)
    if details is None:
        await person.click("Ohita")
    else:
        await person.send(details)
    await person.click(contact)
    if contact == "Puhelimella":
        await person.click("Saa")
        await person.send(phone)
    elif contact == "Tapaamisessa":
        await person.click(meeting)
    return await person.click(share)


def coach(h: Harness, user_id: int, name: str) -> ChatClient:
    return h.person(user_id, chat_id=GROUP, first_name=name)


async def deliver(h: Harness) -> int:
    """One pass of the outbox job."""
    return await deliver_outbox(h.app, h.bot)


async def latest_request(h: Harness, telegram_id: int = PERSON) -> RequestInfo:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        assert person is not None
        request_id = await session.scalar(
            select(HandoffRequest.id)
            .where(HandoffRequest.person_id == person.id)
            .order_by(HandoffRequest.id.desc())
        )
        assert request_id is not None
        found = await HandoffRepository(session).get(request_id)
    assert found is not None
    return found


async def request(h: Harness, request_id: int) -> RequestInfo:
    async with h.app.db.read() as session:
        found = await HandoffRepository(session).get(request_id)
    assert found is not None
    return found


def card_message(h: Harness, req: RequestInfo) -> Message:
    assert req.card_message_id is not None
    return h.session.messages[(GROUP, req.card_message_id)]


def buttons(message: Message) -> list[str]:
    markup = message.reply_markup
    if not isinstance(markup, InlineKeyboardMarkup):
        return []
    return [b.text for row in markup.inline_keyboard for b in row]


async def press(client: ChatClient, message: Message, label: str) -> list[Any]:
    """Press the button ``label`` on ``message`` (as the message is now)."""
    current = client.session.messages.get((message.chat.id, message.message_id), message)
    markup = current.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup), f"no buttons on {current.text!r}"
    found = [b for row in markup.inline_keyboard for b in row if b.text == label]
    assert len(found) == 1, f"no button {label!r} in {buttons(current)}"
    return await client.press(found[0].callback_data or "", current)


def sends_to(calls: Iterable[Any], chat_id: int) -> list[Any]:
    return [
        c for c in calls if isinstance(c, SendMessage | CopyMessage) and int(c.chat_id) == chat_id
    ]


def texts_to(calls: Iterable[Any], chat_id: int) -> list[str]:
    return [c.text for c in sends_to(calls, chat_id) if isinstance(c, SendMessage)]


def toasts(calls: Iterable[Any]) -> list[str | None]:
    from aiogram.methods import AnswerCallbackQuery

    return [c.text for c in calls if isinstance(c, AnswerCallbackQuery)]


_ALLOWED_TAGS = re.compile(r'</?b>|</?i>|<a href="[^"<>]*">|</a>')


def assert_safe_html(text: str) -> None:
    """Only the bot's own tags; everything a person typed is escaped."""
    rest = _ALLOWED_TAGS.sub("", text)
    assert "<" not in rest, rest
    assert ">" not in rest, rest
