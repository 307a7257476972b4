"""Fuzzing the real Dispatcher (offline Bot API session, bundled dialogs and content).

Two parts:

* hypothesis ``@given`` tests for single inputs: any text in a private chat, any callback data
  (random, oversized, or forged in the bot's own formats) — derandomized, bounded examples;
* one seeded stream of :data:`UPDATES` random updates: several people interleaved, texts up to
  5,000 characters with markup, emoji and right-to-left text, stickers, photos, voice,
  documents, edited messages, blocking and unblocking, strangers pressing old buttons, a
  strangers' group and the coach group (cards, replies, forged card buttons), with the
  background jobs (outbox, event notices, handoff timers) run now and then.

After every update: nothing reached the error boundary (no ERROR log record at all), every
private message got an answer (unless it went to the person's coach), every button press was
answered. At the end: the database is consistent (see :func:`check_database`) and replayed
updates cause nothing (exactly once). ``FUZZ_SEED`` and ``FUZZ_UPDATES`` override the stream.
"""

from __future__ import annotations

import logging
import os
import random
import string
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, EditMessageText, TelegramMethod
from aiogram.types import (
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    Location,
    Message,
    Update,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App
from bot.engine.runner import question_tag
from bot.engine.state import ConversationState
from bot.factory import create_bot, create_dispatcher
from bot.features import build_registry
from bot.features.events.jobs import send_notices
from bot.features.handoff.jobs import handoff_timers
from bot.features.handoff.outbox import deliver_outbox
from bot.telegram.limits.local import SENDS
from bot.telegram.offline import BOT_USER, ChatClient, OfflineSession, deprecated_parameters
from db.models import (
    Answer,
    ConversationStateRow,
    EventSignup,
    HandoffRequest,
    Person,
    ProcessedUpdate,
)
from db.repositories import (
    CLAIMED,
    HandoffRepository,
    PersonRepository,
    RelayRepository,
    StateRepository,
)
from tests.support import TEST_TOKEN, Clock, Harness, make_app, make_settings

SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
UPDATES = int(os.environ.get("FUZZ_UPDATES", "5000"))

COACHES = -1_001_234_500_000
STRANGERS = -1_009_876_500_000
ADMIN = 3001  # a coach (admins are coaches), in the coach group only
GROUP_STRANGER = 5001  # writes in the strangers' group and presses card buttons
#: people in private chats and the language their Telegram app reports
PEOPLE: dict[int, str | None] = {
    2001: "fi",
    2002: "sv",
    2003: "en",
    2004: None,
    2005: "ar",
    2006: "fi",
    2007: "en",
    2008: "de",
}
#: people who never started the bot and press buttons they got from somewhere
NEWCOMERS = range(6001, 6041)

MARKUP = [
    "<b>",
    "</b>",
    "<i>x</i>",
    '<a href="javascript:alert(1)">',
    "</a>",
    "<code>",
    "<pre>",
    "<tg-spoiler>",
    "<script>",
    "&amp;",
    "&lt;",
    "&#0;",
    "<<>>",
    "*bold*",
    "_it_",
    "`",
    "[x](http://x)",
    "{first_name}",
    "{",
    "}",
    "%s",
    "\\",
    "$(rm -rf /)",
    "'; drop table persons; --",
]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇮", "❤️", "🫠", "🧑🏿‍🔧"]
RTL = ["مرحبا بالعالم", "שלום עולם", "\u202e", "\u200f", "\u200b", "\u2066", "\ufeff"]
WORDS = [
    "hei",
    "kyllä",
    "ei",
    "apua",
    "ihminen",
    "valmentaja",
    "coach",
    "help",
    "menu",
    "työ",
    "Lohja",
    "Espoo",
    "Vihti",
    "30",
    "-1",
    "0",
    "999999999999999999999",
    "1e308",
    "NaN",
    "ÅÄÖ åäö",
    "matti@example.com",
    "+358401234567",
    "040 123 4567",
    "Straße",
    "İı",
]
SPACE = [" ", " ", " ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u3000"]
PIECES = MARKUP + EMOJI + RTL + WORDS + SPACE
COMMANDS = [
    "/start",
    "/menu",
    "/help",
    "/language",
    "/restart",
    "/mysignups",
    "/mydata",
    "/delete",
    "/coach",
    "/queue",
    "/start ev_",
    "/start ev_nonexistent",
    "/start ev_" + "x" * 200,
    "/start " + "ä" * 64,
    "/START",
    "/menu@urapolku_bot",
    "/menu@someone_else_bot",
    "/nonexistent",
    "/",
]


def random_text(rng: random.Random) -> str:
    """Up to 5,000 characters of words, markup, emoji, right-to-left and odd whitespace."""
    roll = rng.random()
    length = (
        rng.randint(1, 20)
        if roll < 0.6
        else rng.randint(20, 500)
        if roll < 0.9
        else rng.randint(500, 5000)
    )
    parts: list[str] = []
    size = 0
    while size < length:
        piece = rng.choice(PIECES) if rng.random() < 0.85 else chr(rng.randint(0x20, 0x2FFF))
        parts.append(piece)
        size += len(piece)
    text = "".join(parts)[:length].strip()
    return text or "?"


class Forger:
    """Callback data in the bot's own formats, with real and wrong values."""

    def __init__(self, app: App) -> None:
        self.options = sorted(
            {
                o.id
                for dialog in app.content.dialogs.dialogs.values()
                for step in dialog.steps
                for o in getattr(step, "options", None) or ()
            }
        )
        self.tags = sorted(
            question_tag(dialog.id, step.id)
            for dialog in app.content.dialogs.dialogs.values()
            for step in dialog.steps
        )
        catalogue = app.content.catalogue
        self.items = [item.id for item in catalogue] if catalogue is not None else []

    def data(self, rng: random.Random) -> str:
        kind = rng.randrange(8)
        seq = rng.choice([0, 1, -1, rng.randint(100_000, 999_999), 10**12, rng.randint(2, 60)])
        item = rng.choice([*self.items, "", "x" * 40, "../etc", "ev_1"]) if self.items else "x"
        if kind == 0:  # the engine: q:<question tag>:<option>, or earlier s:<seq>:<option>
            option = rng.choice([*self.options, "<", ">", "~", "", "ZZ", "a" * 40])
            if rng.random() < 0.5:
                return f"s:{seq}:{option}"
            tag = rng.choice([*self.tags, "0" * 8, "abc", "G" * 8, ""])
            return f"q:{tag}:{option}"
        if kind == 1:  # the events browser: e:<action>:<item>:<list>:<page>:<start>:<choice>
            fields = [
                rng.choice("hkmlcswxyfndgbtq?"),
                item,
                rng.choice(["r", "w", "o", "s", "k0", "k99", "m1", "m-1", "", "zz"]),
                str(rng.choice([0, 1, 40, -5, 10**9])),
                str(rng.choice([0, 29_000_000, -1, 10**15])),
                str(rng.choice([0, 1, 9, -1])),
            ]
            return ":".join(["e", *fields[: rng.randint(0, 6)]])
        if kind == 2:  # coach card buttons: h:<op>:<request>:<arg>
            return f"h:{rng.choice('crmslxobq')}:{rng.choice([1, 2, 3, 0, -1, 10**9])}:" + (
                rng.choice(["", "employed", "0", "x" * 30])
            )
        if kind == 3:  # "did this help?" and the admin's "send again"
            return rng.choice(
                [
                    f"hf:{rng.randint(-1, 5)}:{rng.randint(-3, 9)}",
                    f"ha:{rng.randint(-1, 50)}",
                ]
            )
        if kind == 4:  # oversized (Telegram allows 64 bytes; a forger need not care)
            return rng.choice(["s:", "e:", "h:", "hf:", ""]) + "9" * rng.randint(60, 400)
        if kind == 5:
            return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 64)))
        if kind == 6:
            return random_text(rng)[:200]
        return rng.choice(["", ":", "::::::", "s", "e", "h", "s:1", "e:c", "h:c", "null"])


# -- the harness ---------------------------------------------------------------------------

#: a Tuesday in office hours, before the bundled catalogue's January dates; the stream moves
#: the clock on by :data:`TICK` an update (5,000 updates: about two days), so reminders,
#: office hours and the handoff timers all come into play, the same way on every run
START = datetime(2027, 1, 5, 8, 0, tzinfo=UTC)
TICK = timedelta(seconds=30)


class FuzzSession(OfflineSession):
    """The offline session, counting the "message is not modified" the bot provoked: in
    private chats (must never happen) and on the coach group's cards (bot/handoff redraws a
    card without knowing what it shows; harmless there, only counted)."""

    def __init__(self) -> None:
        super().__init__()
        self.not_modified = 0
        self.not_modified_in_groups = 0

    async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        try:
            return await super().make_request(bot, method, timeout)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                if int(getattr(method, "chat_id", 0) or 0) > 0:
                    self.not_modified += 1
                else:
                    self.not_modified_in_groups += 1
            raise


class Failures(logging.Handler):
    """Every ERROR record: the error boundary's and anyone else's."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def failures() -> Iterator[Failures]:
    handler = Failures()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


async def fuzz_harness(tmp_path: Path) -> Harness:
    settings = make_settings(
        tmp_path,
        bundled=True,
        coach_chat_id=COACHES,
        admin_ids=[ADMIN],
        # in memory (one connection): no file I/O, the fuzz is about the bot, not SQLite
        database_url=os.environ.get("FUZZ_DATABASE_URL", "sqlite+aiosqlite://"),
    )
    app = await make_app(settings, build_registry())
    app.clock = Clock(START)
    session = FuzzSession()
    bot = create_bot(settings, session=session, token=TEST_TOKEN)
    return Harness(app=app, dispatcher=create_dispatcher(app), bot=bot, session=session)


@pytest.fixture
async def fh(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await fuzz_harness(tmp_path)
    yield harness
    await harness.app.db.dispose()


def answered_privately(calls: list[TelegramMethod[Any]], chat_id: int) -> bool:
    return any(isinstance(c, (*SENDS, EditMessageText)) and c.chat_id == chat_id for c in calls)


def callback_answered(calls: list[TelegramMethod[Any]], callback_id: str) -> bool:
    return any(
        isinstance(c, AnswerCallbackQuery) and c.callback_query_id == callback_id for c in calls
    )


async def relayed_to_coach(app: App, telegram_id: int) -> bool:
    """A person with an open request: what the bot does not take as an answer goes to the
    coaches, unanswered once a coach has it (and while it waits, "sent" once per burst)."""
    async with app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(telegram_id)
        if person is None:
            return False
        req = await HandoffRepository(session).open_for_person(person.id)
        if req is None:
            return False
        if req.status == CLAIMED:
            return True
        since = datetime(2000, 1, 1, tzinfo=UTC)
        return await RelayRepository(session).count_since(req.id, "to_coach", since) > 0


def explain(failures: Failures) -> str:
    return "\n".join(f"{r.name}: {r.getMessage()}" for r in failures.records)


# -- hypothesis: one input at a time -------------------------------------------------------

texts = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=80).map("".join),
    st.builds(lambda p, n: (p * n)[:5000], st.sampled_from(PIECES), st.integers(1, 5000)),
    st.sampled_from(COMMANDS),
).map(lambda t: t.strip() or "?")

callback_data = st.one_of(
    st.text(max_size=100),
    st.from_regex(r"\As:-?\d{1,13}:[a-z0-9_<>~]{0,40}\Z"),
    st.from_regex(r"\Ae(:[a-z0-9_\-]{0,34}){0,7}\Z"),
    st.from_regex(r"\Ah[fa]?(:-?\d{1,10}){0,3}(:[a-z_]{0,20})?\Z"),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)

FEW = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FEW
@given(text=texts, who=st.sampled_from(sorted(PEOPLE)))
async def test_any_text_in_a_private_chat_is_answered(
    fh: Harness, failures: Failures, text: str, who: int
) -> None:
    person = fh.person(who, language_code=PEOPLE[who])
    calls = await person.send(text)
    assert failures.records == [], explain(failures)
    assert answered_privately(calls, who) or await relayed_to_coach(fh.app, who), text


@FEW
@given(data=callback_data, who=st.sampled_from([*sorted(PEOPLE), 6001]))
async def test_any_button_data_is_answered_and_harmless(
    fh: Harness, failures: Failures, data: str, who: int
) -> None:
    person = fh.person(who, language_code=PEOPLE.get(who, "fi"))
    if who in PEOPLE and person.keyboard_message() is None:
        await person.send("/start")
    before = len(fh.session.calls)
    await person.press(data)
    calls = fh.session.calls[before:]
    assert failures.records == [], explain(failures)
    query_ids = [c.callback_query_id for c in calls if isinstance(c, AnswerCallbackQuery)]
    assert len(query_ids) >= 1, data
    async with fh.app.db.read() as session:
        people = await session.scalar(select(func.count()).select_from(Person))
    assert people is not None
    assert people <= len(PEOPLE) + 1


# -- the seeded stream ---------------------------------------------------------------------


class Stream:
    """Random updates from many directions, fed one at a time, checked one at a time."""

    def __init__(self, h: Harness, failures: Failures, rng: random.Random) -> None:
        self.h = h
        self.app = h.app
        self.session: FuzzSession = h.session  # type: ignore[assignment]
        self.failures = failures
        self.rng = rng
        self.forger = Forger(h.app)
        self.people = {
            uid: h.person(uid, language_code=lang, first_name=rng.choice(["Aino", "علي", "Ö"]))
            for uid, lang in PEOPLE.items()
        }
        self.coach = h.person(ADMIN, chat_id=COACHES, first_name="Coach")
        self.group_stranger = h.person(GROUP_STRANGER, chat_id=COACHES)
        self.in_strangers_group = h.person(GROUP_STRANGER, chat_id=STRANGERS)
        self.fed: list[Update] = []
        self.counts: dict[str, int] = {}
        #: the ids of the messages in each chat, oldest first (the session keeps them unordered)
        self.by_chat: dict[int, dict[int, None]] = {}
        self.session.listeners.append(self._seen)

    def _seen(self, method: TelegramMethod[Any], result: Any) -> None:
        if isinstance(result, Message):
            self.by_chat.setdefault(result.chat.id, {})[result.message_id] = None

    # what happened, for the failure message
    def where(self, i: int, kind: str, detail: str) -> str:
        return f"update #{i} ({kind}: {detail[:120]!r}), seed {SEED}\n{explain(self.failures)}"

    def in_chat(self, chat_id: int) -> list[Message]:
        """The messages of a chat as they are now (not those deleted since), oldest first."""
        messages = self.session.messages
        ids = self.by_chat.get(chat_id, ())
        return [messages[(chat_id, m)] for m in ids if (chat_id, m) in messages]

    def keyboards(self, chat_id: int) -> list[Message]:
        return [
            m
            for m in self.in_chat(chat_id)
            if isinstance(m.reply_markup, InlineKeyboardMarkup) and m.reply_markup.inline_keyboard
        ]

    def newest_keyboard(self, chat_id: int) -> Message | None:
        messages = self.session.messages
        for message_id in reversed(self.by_chat.get(chat_id, {})):
            message = messages[(chat_id, message_id)]
            if isinstance(message.reply_markup, InlineKeyboardMarkup) and (
                message.reply_markup.inline_keyboard
            ):
                return message
        return None

    async def step(self, i: int) -> None:
        rng = self.rng
        assert isinstance(self.app.clock, Clock)
        self.app.clock.now += TICK
        roll = rng.random()
        if roll < 0.70:
            await self.private(i, self.people[rng.choice(sorted(self.people))])
        elif roll < 0.78:
            await self.newcomer(i)
        elif roll < 0.92:
            await self.coach_group(i)
        else:
            await self.strangers_group(i)

    async def run(
        self, client: ChatClient, kind: str, detail: str, i: int, update: Update
    ) -> list[Any]:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.fed.append(update)
        calls = await client.feed(update)
        assert self.failures.records == [], self.where(i, kind, detail)
        # Telegram would have answered 400 "message is not modified"
        assert self.session.not_modified == 0, self.where(i, kind, detail) + f"\n{calls}"
        if update.callback_query is not None:
            assert callback_answered(calls, update.callback_query.id), self.where(i, kind, detail)
        return calls

    # -- updates -------------------------------------------------------------------------

    def _message(self, client: ChatClient, **fields: Any) -> Update:
        message = Message(
            message_id=10_000 + next(client.update_ids),
            date=datetime.now(UTC),
            chat=client.chat,
            from_user=client.user,
            **fields,
        )
        return Update(update_id=next(client.update_ids), message=message)

    def _press(self, client: ChatClient, data: str, message: Message | None) -> Update:
        from aiogram.types import CallbackQuery

        if message is None:
            message = self.session.new_message(client.chat.id, text="?")
        query = CallbackQuery(
            id=f"cb{next(client.update_ids)}",
            from_user=client.user,
            chat_instance="ci",
            message=message,
            data=data,
        )
        return Update(update_id=next(client.update_ids), callback_query=query)

    def _member(self, client: ChatClient, chat: Chat, blocked: bool) -> Update:
        new = (
            ChatMemberBanned(user=BOT_USER, until_date=0)
            if blocked
            else ChatMemberMember(user=BOT_USER)
        )
        old = (
            ChatMemberMember(user=BOT_USER)
            if blocked
            else ChatMemberBanned(user=BOT_USER, until_date=0)
        )
        event = ChatMemberUpdated(
            chat=chat,
            from_user=client.user,
            date=datetime.now(UTC),
            old_chat_member=old,
            new_chat_member=new,
        )
        return Update(update_id=next(client.update_ids), my_chat_member=event)

    def _media(self, client: ChatClient) -> tuple[str, Update]:
        from aiogram.types import Document, PhotoSize, Sticker, Voice

        rng = self.rng
        kind = rng.choice(["sticker", "photo", "voice", "document", "location"])
        fields: dict[str, Any] = {
            "sticker": {
                "sticker": Sticker(
                    file_id="st",
                    file_unique_id="st",
                    type="regular",
                    width=512,
                    height=512,
                    is_animated=False,
                    is_video=False,
                )
            },
            "photo": {
                "photo": [PhotoSize(file_id="ph", file_unique_id="ph", width=9, height=9)],
                "caption": random_text(rng)[:1024] if rng.random() < 0.5 else None,
            },
            "voice": {"voice": Voice(file_id="v", file_unique_id="v", duration=3)},
            "document": {
                "document": Document(file_id="d", file_unique_id="d", file_name="cv.pdf"),
                "caption": random_text(rng)[:1024] if rng.random() < 0.5 else None,
            },
            "location": {"location": Location(latitude=60.25, longitude=24.07)},
        }[kind]
        return kind, self._message(client, **fields)

    def _text(self, client: ChatClient, text: str, **extra: Any) -> Update:
        from aiogram.types import MessageEntity

        entities = None
        if text.startswith("/"):
            length = len(text.split()[0]) if text.split() else 1
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        return self._message(client, text=text, entities=entities, **extra)

    async def private(self, i: int, person: ChatClient) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.40:  # press a button of the newest keyboard (this is how people move on)
            message = self.newest_keyboard(person.chat.id)
            if message is not None:
                assert isinstance(message.reply_markup, InlineKeyboardMarkup)
                buttons = [
                    b
                    for row in message.reply_markup.inline_keyboard
                    for b in row
                    if b.callback_data
                ]
                if buttons:
                    data = rng.choice(buttons).callback_data or ""
                    update = self._press(person, data, message)
                    await self.run(person, "press", data, i, update)
                    return
            roll = 0.8  # no keyboard yet: say something instead
        if roll < 0.46:  # an old keyboard, as it is now
            old = self.keyboards(person.chat.id)
            if old:
                message = rng.choice(old)
                assert isinstance(message.reply_markup, InlineKeyboardMarkup)
                buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
                data = rng.choice(buttons).callback_data or ""
                await self.run(person, "old press", data, i, self._press(person, data, message))
                return
        if roll < 0.54:
            data = self.forger.data(rng)
            message = self.newest_keyboard(person.chat.id)
            await self.run(person, "forged press", data, i, self._press(person, data, message))
            return
        if roll < 0.60:
            kind, update = self._media(person)
            await self.private_message(i, person, kind, kind, update)
            return
        if roll < 0.64:
            message = Message(
                message_id=10_000 + rng.randint(1, 500),
                date=datetime.now(UTC),
                edit_date=int(datetime.now(UTC).timestamp()),
                chat=person.chat,
                from_user=person.user,
                text=random_text(rng),
            )
            update = Update(update_id=next(person.update_ids), edited_message=message)
            await self.private_message(i, person, "edited", message.text or "", update)
            return
        if roll < 0.66:
            blocked = rng.random() < 0.5
            update = self._member(person, person.chat, blocked)
            calls = await self.run(person, "my_chat_member", str(blocked), i, update)
            assert calls == [], self.where(i, "my_chat_member", str(blocked))
            return
        if roll < 0.76:
            text = rng.choice(COMMANDS)
            if text == "/start ev_" and self.forger.items:
                text += rng.choice(self.forger.items)
            await self.private_message(i, person, "command", text, self._text(person, text))
            return
        text = random_text(rng)
        await self.private_message(i, person, "text", text, self._text(person, text))

    async def private_message(
        self, i: int, person: ChatClient, kind: str, detail: str, update: Update
    ) -> None:
        calls = await self.run(person, kind, detail, i, update)
        if not answered_privately(calls, person.user_id):
            assert await relayed_to_coach(self.app, person.user_id), self.where(i, kind, detail)
            self.counts["relayed"] = self.counts.get("relayed", 0) + 1

    async def newcomer(self, i: int) -> None:
        """Someone who never started the bot presses a button they saw somewhere."""
        rng = self.rng
        stranger = self.h.person(rng.choice(NEWCOMERS), language_code=rng.choice(["fi", None]))
        source = self.keyboards(rng.choice(sorted(PEOPLE)))
        if source and rng.random() < 0.7:
            message = rng.choice(source)
            assert isinstance(message.reply_markup, InlineKeyboardMarkup)
            buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
            data = rng.choice(buttons).callback_data or ""
        else:
            data = self.forger.data(rng)
        await self.run(stranger, "newcomer press", data, i, self._press(stranger, data, None))

    async def coach_group(self, i: int) -> None:
        rng = self.rng
        roll = rng.random()
        cards = self.keyboards(COACHES)
        if roll < 0.45 and cards:  # a coach presses a real card button
            message = rng.choice(cards)
            assert isinstance(message.reply_markup, InlineKeyboardMarkup)
            buttons = [
                b for row in message.reply_markup.inline_keyboard for b in row if b.callback_data
            ]
            if buttons:
                data = rng.choice(buttons).callback_data or ""
                who = self.coach if rng.random() < 0.85 else self.group_stranger
                await self.run(who, "card press", data, i, self._press(who, data, message))
                return
        if roll < 0.65:  # a coach replies to a card or another message
            targets = self.in_chat(COACHES)
            if targets:
                target = rng.choice(targets)
                text = random_text(rng)
                update = self._text(self.coach, text, reply_to_message=target)
                await self.run(self.coach, "coach reply", text, i, update)
                return
        if roll < 0.75:
            data = self.forger.data(rng)
            who = self.coach if rng.random() < 0.5 else self.group_stranger
            message = rng.choice(cards) if cards else None
            await self.run(who, "forged card press", data, i, self._press(who, data, message))
            return
        text = rng.choice(["/queue", "/mine", "/start", "/menu", random_text(rng), "// note"])
        await self.run(self.coach, "coach text", text, i, self._text(self.coach, text))

    async def strangers_group(self, i: int) -> None:
        rng = self.rng
        client = self.in_strangers_group
        roll = rng.random()
        if roll < 0.15:
            update = self._member(client, client.chat, rng.random() < 0.5)
            calls = await self.run(client, "group my_chat_member", "", i, update)
        elif roll < 0.55:
            data = self.forger.data(rng)
            calls = await self.run(client, "group press", data, i, self._press(client, data, None))
            assert [type(c) for c in calls] == [AnswerCallbackQuery], self.where(i, "group", data)
            return
        else:
            text = rng.choice([*COMMANDS, random_text(rng)])
            calls = await self.run(client, "group text", text, i, self._text(client, text))
        assert calls == [], self.where(i, "strangers' group", "")

    async def jobs(self) -> None:
        await deliver_outbox(self.app, self.h.bot)
        await send_notices(self.app, self.h.bot)
        await handoff_timers(self.app, self.h.bot)
        assert self.failures.records == [], explain(self.failures)


async def check_database(app: App, fed: list[Update]) -> None:
    """The database after the stream: nothing dangling, nothing twice, every state loadable."""
    async with app.db.read() as session:
        orphans = await session.scalar(
            select(func.count())
            .select_from(Answer)
            .where(Answer.person_id.not_in(select(Person.id)))
        )
        assert orphans == 0
        telegram_ids = set((await session.scalars(select(Person.telegram_id))).all())
        assert telegram_ids <= set(PEOPLE) | set(NEWCOMERS), telegram_ids - set(PEOPLE)
        processed = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
        assert processed == len({u.update_id for u in fed})
        states = StateRepository(session)
        for key in (await session.scalars(select(ConversationStateRow.key))).all():
            found = await states.get(key)
            assert found is not None
            state = ConversationState.model_validate(found[1])
            if state.position is not None:
                assert app.engine.dialogs.step(*state.position) is not None, state.position
        open_requests = (
            await session.scalars(
                select(HandoffRequest.open_person_id).where(
                    HandoffRequest.open_person_id.is_not(None)
                )
            )
        ).all()
        assert len(open_requests) == len(set(open_requests))
        catalogue = app.content.catalogue
        taken = await session.execute(
            select(EventSignup.item_id, EventSignup.starts_at, func.count())
            .where(EventSignup.status == "active")
            .group_by(EventSignup.item_id, EventSignup.starts_at)
        )
        for item_id, _, count in taken:
            item = catalogue.get(item_id) if catalogue is not None else None
            assert item is not None
            assert item.capacity is None or count <= item.capacity, item_id


async def test_five_thousand_random_updates(
    tmp_path: Path, failures: Failures, capsys: pytest.CaptureFixture[str]
) -> None:
    h = await fuzz_harness(tmp_path)
    stream = Stream(h, failures, random.Random(SEED))
    try:
        for person in stream.people.values():  # everyone has talked to the bot once
            await stream.run(person, "command", "/start", -1, stream._text(person, "/start"))
        for i in range(UPDATES):
            await stream.step(i)
            if i % 250 == 249:
                await stream.jobs()
        await stream.jobs()
        await check_database(h.app, stream.fed)
        assert h.session.not_modified == 0  # type: ignore[attr-defined]
        # the current Bot API only, whatever happened
        outdated = [
            (type(c).__name__, d) for c in h.session.calls if (d := deprecated_parameters(h.bot, c))
        ]
        assert outdated == []

        # exactly once: updates delivered again cause nothing
        replayed = stream.rng.sample(stream.fed, 50)
        client = stream.people[2001]
        for update in replayed:
            assert await client.feed(update) == []
        assert failures.records == [], explain(failures)
        with capsys.disabled():
            cards = h.session.not_modified_in_groups  # type: ignore[attr-defined]
            counts = sorted(stream.counts.items())
            print(f"\nfuzz: {len(stream.fed)} updates, seed {SEED}: {counts}")
            print(f"fuzz: 'message is not modified' on coach cards: {cards}")
    finally:
        await h.app.db.dispose()
