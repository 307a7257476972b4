"""Robustness through the real Dispatcher: the error boundary, incoming flood control, the
outgoing limiter, 429 and "message is not modified". Assertions are on the exact Bot API calls
and on database rows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from sqlalchemy import func, select

from bot.app import App
from bot.engine.actions import ActionContext, ActionResult
from bot.engine.output import Reply, Turn
from bot.engine.state import ConversationState
from bot.factory import create_bot
from bot.telegram import session as telegram_session
from bot.telegram.arrival import ArrivalGate
from bot.telegram.limits import local as ratelimit
from bot.telegram.limits.local import (
    SENDS,
    FloodControl,
    OutgoingLimiter,
    RateLimitMiddleware,
)
from bot.telegram.offline import OfflineSession
from bot.telegram.poison import RETRY_PAUSES_S
from bot.telegram.render import Delivery
from db.models import Answer, Person, ProcessedUpdate
from db.repositories import AnswerRepository, PersonRepository, StateRepository
from tests.support import TEST_TOKEN, Harness, make_app, make_harness, make_settings, onboard

SECRET = "Salainen-teksti-4242"


async def count(app: App, model: type[Any]) -> int:
    async with app.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def state_of(h: Harness, user_id: int) -> ConversationState:
    async with h.app.db.read() as session:
        found = await StateRepository(session).get(f"{h.bot.id}:{user_id}:{user_id}:0:default")
    return ConversationState.from_data(found[1] if found else {})


async def answers_of(h: Harness, user_id: int) -> dict[str, Any]:
    async with h.app.db.read() as session:
        person = await PersonRepository(session).by_telegram_id(user_id)
        assert person is not None
        return await AnswerRepository(session).for_person(person.id)


# -- 9. the error boundary ------------------------------------------------------------------


async def test_a_failing_turn_is_rolled_back_reported_and_the_next_update_works(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: ActionContext) -> ActionResult:
        # writes inside the turn's transaction, then fails with the person's words in the message
        await AnswerRepository(ctx.services.session).save(ctx.person_id, "demo", "leak", "x")
        raise RuntimeError(f"cannot handle {ctx.answers['free_text']}")

    harness.app.actions._actions["echo"] = broken  # type: ignore[assignment]
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Alle 30")
    await person.click("Logistiikka")
    await person.click("Valmis")
    before = await state_of(harness, person.user_id)
    saved = await answers_of(harness, person.user_id)
    assert saved["interests"] == ["logistics"]

    caplog.set_level(logging.INFO)
    calls = await person.send(SECRET)
    assert [(type(c).__name__, c.chat_id, c.text) for c in calls] == [
        (
            "SendMessage",
            person.user_id,
            "ERROR-fi",
        )
    ]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    [record] = errors
    assert record.name == "bot.telegram.handlers.errors"
    logged = record.getMessage() + (record.exc_text or "")
    assert "RuntimeError" in logged
    assert SECRET not in logged
    assert SECRET not in caplog.text
    update_id = int(logged.split()[1])

    # rolled back: neither the action's write nor the typed answer nor a new state
    assert await answers_of(harness, person.user_id) == saved
    assert (await state_of(harness, person.user_id)).seq == before.seq
    # marked handled, so Telegram's re-delivery does not fail again and again
    async with harness.app.db.read() as session:
        handled = await session.scalar(
            select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == update_id)
        )
    assert handled == update_id

    # the next update is handled normally
    calls = await person.send("/menu")
    assert [(type(c).__name__, c.text) for c in calls] == [("SendMessage", "Mitä haluat tehdä?")]


async def test_a_failing_button_press_is_answered_then_reported(harness: Harness) -> None:
    async def broken(ctx: ActionContext) -> ActionResult:
        raise RuntimeError("boom")

    harness.app.actions._actions["echo"] = broken  # type: ignore[assignment]
    person = await onboard(harness)
    for label in ("Demo", "Alle 30", "Logistiikka", "Valmis"):
        await person.click(label)
    calls = await person.click("Ohita")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, SendMessage]
    assert calls[1].text == "ERROR-fi"
    assert calls[1].chat_id == person.user_id


async def test_the_error_message_is_sent_even_if_the_press_was_answered_before(
    app: App,
) -> None:
    """A failure while sending, after the press was answered: Telegram refuses a second answer
    to the same press, and that must not swallow the error message."""
    from bot.factory import create_dispatcher

    session = StrictSession()
    bot = create_bot(app.settings, session=session, token=TEST_TOKEN)
    h = Harness(app=app, dispatcher=create_dispatcher(app), bot=bot, session=session)
    person = await onboard(h)
    session.fail_next(
        SendMessage,
        lambda m: RuntimeError("the network library broke"),  # type: ignore[arg-type,return-value]
    )
    calls = await person.click("Demo")
    assert [type(c).__name__ for c in calls] == [
        "AnswerCallbackQuery",  # the turn answers the press
        "EditMessageText",  # marks the menu answered
        "SendMessage",  # and fails sending the next question
        "AnswerCallbackQuery",  # the boundary tries again: refused (already answered)
        "SendMessage",  # the error message still goes out
    ]
    assert session.refused == [calls[3]]
    assert calls[-1].text == "ERROR-fi"


# -- 10. incoming flood control ------------------------------------------------------------


def flood_control(h: Harness) -> FloodControl:
    gate = ArrivalGate.of(h.dispatcher)
    assert gate is not None
    assert gate.flood is not None
    return gate.flood


async def test_a_flood_gets_one_slow_down_and_leaves_no_trace(tmp_path: Path) -> None:
    app = await make_app(make_settings(tmp_path, flood_limit=3))
    h = make_harness(app)
    now = [100.0]
    flood_control(h).clock = lambda: now[0]
    person = await onboard(h)  # three updates: the limit, at one instant
    now[0] += 10
    rows = {m: await count(app, m) for m in (Person, Answer, ProcessedUpdate)}
    state = await state_of(h, person.user_id)

    handled = [await person.send(f"viesti {i}") for i in range(3)]
    assert all(any(isinstance(c, SendMessage) for c in calls) for calls in handled)
    rows_after_three = {m: await count(app, m) for m in (Person, Answer, ProcessedUpdate)}

    slow = await person.send("viesti 3")
    assert [(type(c).__name__, c.chat_id, c.text) for c in slow] == [
        ("SendMessage", person.user_id, "SLOW-fi")
    ]
    dropped = [await person.send(f"viesti {i}") for i in range(4, 12)]
    assert dropped == [[]] * 8
    pressed = await person.press("s:1:fi")
    assert [type(c) for c in pressed] == [AnswerCallbackQuery]  # silent: the phone stops spinning
    assert pressed[0].text is None
    # the dropped updates reached nothing that writes
    assert {m: await count(app, m) for m in (Person, Answer, ProcessedUpdate)} == rows_after_three
    assert rows_after_three[ProcessedUpdate] == rows[ProcessedUpdate] + 3
    assert rows_after_three[Person] == rows[Person] == 1

    # the flood goes on across windows: still no second "slow down"
    for _ in range(3):
        now[0] += 1.5
        assert [await person.send("lisää") for _ in range(4)] == [[]] * 4
    # quiet for a whole window: answered normally again
    now[0] += 2.5
    calls = await person.send("/menu")
    assert [c.text for c in calls] == ["Mitä haluat tehdä?"]
    assert (await state_of(h, person.user_id)).seq >= state.seq
    await app.db.dispose()


async def test_a_flood_from_one_person_does_not_slow_down_another(tmp_path: Path) -> None:
    app = await make_app(make_settings(tmp_path, flood_limit=2))
    h = make_harness(app)
    flood_control(h).clock = lambda: 5.0
    anna, ben = h.person(1001), h.person(1002)
    for _ in range(4):
        await anna.send("/help")
    calls = await ben.send("/start")
    assert [c.text for c in calls] == ["Kieli? · Språk? · Language?"]
    await app.db.dispose()


# -- 11. outgoing: one limiter for every send, 429, "not modified" -----------------------


def test_every_kind_of_send_is_limited() -> None:
    import aiogram.methods as methods

    sends = {
        name
        for name in dir(methods)
        if name.startswith(("Send", "Copy", "Forward"))
        and name
        not in {
            "SendChatAction",  # no message
            "SendMessageDraft",  # a draft, not a message
            "SendRichMessageDraft",
            "SendChatJoinRequestWebApp",
            "SendGift",  # the bot sends none of these
            "SendGame",
            "SendInvoice",
            "SendPaidMedia",
            "SendChecklist",
            "SendLivePhoto",
            "SendRichMessage",
        }
    }
    assert sends == {s.__name__ for s in SENDS}


def test_the_running_bot_sends_through_one_limiter(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, outgoing_per_second=25)
    bot = create_bot(settings, token=TEST_TOKEN)  # as `urapolku run` builds it
    limiters = [m for m in bot.session.middleware if isinstance(m, RateLimitMiddleware)]
    assert len(limiters) == 1
    assert limiters[0].limiter.global_per_second == 25


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What the limiter and the retry middleware sleep, recorded instead of slept."""
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        recorded.append(round(seconds, 6))

    monkeypatch.setattr(ratelimit.asyncio, "sleep", sleep)
    monkeypatch.setattr(telegram_session.asyncio, "sleep", sleep)
    return recorded


def limited_harness(app: App, limiter: OutgoingLimiter) -> Harness:
    from bot.factory import create_dispatcher

    session = OfflineSession()
    bot = create_bot(app.settings, session=session, token=TEST_TOKEN, limiter=limiter)
    return Harness(app=app, dispatcher=create_dispatcher(app), bot=bot, session=session)


async def test_sends_from_handlers_and_the_error_boundary_wait_for_their_slot(
    app: App, waits: list[float]
) -> None:
    acquired: list[int | str] = []
    limiter = OutgoingLimiter(global_per_second=25, clock=lambda: 0.0)
    original = limiter.delay_for

    def spy(chat_id: int | str) -> float:
        acquired.append(chat_id)
        return original(chat_id)

    limiter.delay_for = spy  # type: ignore[method-assign]
    h = limited_harness(app, limiter)

    async def broken(ctx: ActionContext) -> ActionResult:
        raise RuntimeError("boom")

    app.actions._actions["echo"] = broken  # type: ignore[assignment]
    person = await onboard(h)
    for label in ("Demo", "Alle 30", "Logistiikka", "Valmis", "Ohita"):
        await person.click(label)
    sends = [c.chat_id for c in h.session.calls if isinstance(c, SENDS)]
    assert acquired == sends
    assert len(sends) == 7
    # the clock stands still: a burst of 5 for the chat, then one a second; between them the
    # pauses of the failing turn's tries (nothing was done yet, so it was tried again)
    assert waits == [1.0, *RETRY_PAUSES_S, 2.0]
    assert h.session.calls_of(SendMessage)[-1].text == "ERROR-fi"


async def test_429_waits_retry_after_and_sends_once(harness: Harness, waits: list[float]) -> None:
    person = harness.person()
    harness.session.fail_next(
        SendMessage,
        lambda m: TelegramRetryAfter(method=m, message="Too Many Requests", retry_after=3),
    )
    calls = await person.send("/start")
    assert [(type(c).__name__, c.text) for c in calls] == [
        ("SendMessage", "Kieli? · Språk? · Language?"),  # refused with 429
        ("SendMessage", "Kieli? · Språk? · Language?"),  # the retry
    ]
    assert waits == [3]
    assert [m.text for m in person.messages()] == ["Kieli? · Språk? · Language?"]


async def test_a_429_beyond_patience_reaches_the_error_boundary(
    harness: Harness, waits: list[float]
) -> None:
    person = harness.person()
    harness.session.fail_next(
        SendMessage,
        lambda m: TelegramRetryAfter(method=m, message="Too Many Requests", retry_after=3600),
    )
    calls = await person.send("/start")
    assert [c.text for c in calls] == ["Kieli? · Språk? · Language?", "ERROR-fi"]
    assert waits == []


class StrictSession(OfflineSession):
    """Like Telegram, refuses a second answer to the same button press; records every "message
    is not modified" the bot provoked (Delivery swallows them) and every refused answer."""

    def __init__(self) -> None:
        super().__init__()
        self.not_modified: list[Any] = []
        self.refused: list[Any] = []
        self._answered: set[str] = set()

    async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        from aiogram.exceptions import TelegramBadRequest

        if isinstance(method, AnswerCallbackQuery):
            if method.callback_query_id in self._answered:
                self.calls.append(method)
                self.refused.append(method)
                raise TelegramBadRequest(
                    method=method,
                    message="Bad Request: query is too old and response timeout expired or "
                    "query ID is invalid",
                )
            self._answered.add(method.callback_query_id)
        try:
            return await super().make_request(bot, method, timeout)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                self.not_modified.append(method)
            raise


async def test_an_edit_that_changes_nothing_is_never_sent(app: App) -> None:
    from bot.factory import create_dispatcher

    session = StrictSession()
    bot = create_bot(app.settings, session=session, token=TEST_TOKEN)
    h = Harness(app=app, dispatcher=create_dispatcher(app), bot=bot, session=session)
    person = await onboard(h)
    await person.click("Demo")
    await person.click("Alle 30")
    question = person.keyboard_message()
    assert question is not None

    def now_shown() -> Any:  # what Telegram puts in a callback: the message as it is now
        return session.messages[(person.user_id, question.message_id)]

    # "done" with nothing ticked: a notice, and the question stays as it is
    calls = await person.click("Valmis")
    assert [(type(c).__name__, c.text) for c in calls] == [("AnswerCallbackQuery", "min 1")]
    tick = question.reply_markup.inline_keyboard[0][0].callback_data
    for _ in range(2):  # tick, untick: each changes the message
        calls = await person.press(tick, now_shown())
        assert [type(c) for c in calls] == [AnswerCallbackQuery, EditMessageText]
    # presses that change nothing on the shown question: no edit is attempted
    for data in ("s:999999:zz", "s:0:fi", "nonsense", "s:1:<"):
        calls = await person.press(data, now_shown())
        assert not any(isinstance(c, EditMessageText) for c in calls), data
    assert session.not_modified == []


async def test_delivery_skips_an_edit_equal_to_the_message() -> None:
    from aiogram.types import CallbackQuery, User

    from bot.engine.output import Button

    session = OfflineSession()
    bot = create_bot(make_settings(Path("/nonexistent")), session=session, token=TEST_TOKEN)
    shown = session.new_message(5, text="Q?", reply_markup=_markup(((Button("A", "s:1:a"),),)))
    callback = CallbackQuery(
        id="1",
        from_user=User(id=5, is_bot=False, first_name="X"),
        chat_instance="c",
        message=shown,
        data="s:1:a",
    ).as_(bot)
    same = Turn(replies=[Reply("Q?", buttons=((Button("A", "s:1:a"),),), edit=True)])
    await Delivery(bot, 5, callback).send(same)
    assert [type(c) for c in session.calls] == [AnswerCallbackQuery]
    changed = Turn(replies=[Reply("Q?", buttons=((Button("B", "s:1:b"),),), edit=True)])
    await Delivery(bot, 5, callback).send(changed)
    assert [type(c) for c in session.calls] == [
        AnswerCallbackQuery,
        AnswerCallbackQuery,
        EditMessageText,
    ]


def _markup(rows: Any) -> Any:
    from bot.telegram.render import keyboard

    return keyboard(rows)


# -- found by tests/telegram/test_fuzz.py ------------------------------------------------------------


async def test_odd_digits_where_a_choice_is_expected_get_the_hint(harness: Harness) -> None:
    """'²' is a digit int() refuses, and so are 5,000 digits: both once crashed the turn."""
    person = await onboard(harness)
    await person.click("Demo")
    for typed in ("²", "1" * 5000, "٣"):
        calls = await person.send(typed)
        assert [c.text for c in calls] == ["Valitse alla olevista napeista.\n\nIkäryhmä?"]
    calls = await person.send("2")  # the second option, typed as its number
    assert [c.text for c in calls] == ["Montako vuotta olet ollut töissä?"]


async def test_nan_and_infinity_are_not_numbers(harness: Harness) -> None:
    person = await onboard(harness)
    await person.click("Demo")
    await person.click("Yli 50")
    for typed in ("nan", "NaN", "inf", "-Infinity"):
        calls = await person.send(typed)
        assert [c.text for c in calls] == ["Kirjoita luku 0–60."]
    assert "work_years" not in await answers_of(harness, person.user_id)


async def test_a_press_too_old_to_answer_still_gets_its_replies(harness: Harness) -> None:
    """After a restart or a backlog, Telegram may no longer take an answer to a press: the
    person still sees the next question, not "something went wrong"."""
    from aiogram.exceptions import TelegramBadRequest

    person = await onboard(harness)
    await person.click("Demo")
    harness.session.fail_next(
        AnswerCallbackQuery,
        lambda m: TelegramBadRequest(
            method=m,
            message="Bad Request: query is too old and response timeout expired or query ID "
            "is invalid",
        ),
    )
    calls = await person.click("Alle 30")
    assert [type(c) for c in calls] == [AnswerCallbackQuery, EditMessageText, SendMessage]
    assert calls[-1].text == "Mitkä alat kiinnostavat?"
