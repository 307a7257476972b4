"""Private chats of people whose request a coach has taken: included before the private
router, so that while the request is open what the person writes (text, photos, documents,
and corrections of them) goes to the coach and the dialog engine stays quiet. ``/menu`` and
``/start`` still work and add that the coach still sees the request; other commands and all
buttons go on to the dialog engine as usual. While the request still waits for a coach, the
person uses the bot as usual (commands, buttons, answers the question they are on takes), a
coach keyword alone ("ihminen", …) is answered "you already have an open request", and
anything else they write goes to the coaches' chat under the request's card, with a short
"sent" once per burst. With no open request, every handler here steps aside (``SkipHandler``).

Also here: the person's answer to "did this help?" after a request is closed.
"""

from __future__ import annotations

import contextlib

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.app import App
from bot.engine.output import Reply
from bot.engine.state import ConversationState
from bot.telegram.conversation import Conversation
from bot.telegram.filters import PRIVATE_BUTTON, PRIVATE_CHAT, Magic
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from bot.telegram.render import answer_press
from db.repositories import CLAIMED, HandoffRepository, PersonInfo, RequestInfo

from . import service
from .cards import FeedbackData
from .coach_router import redraw, relay_kind
from .outbox import kick


async def _open_request(app: App, person: PersonInfo) -> RequestInfo | None:
    async with app.db.read() as session:
        return await HandoffRepository(session).open_for_person(person.id)


async def while_open(
    message: Message,
    app: App,
    person: PersonInfo,
    conversation: Conversation,
    uow: UnitOfWork,
) -> None:
    if person.open_request is False:  # read with the update's context: no need to ask again
        raise SkipHandler
    req = await _open_request(app, person)
    if req is None:
        raise SkipHandler
    text = message.text
    if req.status != CLAIMED:
        await _while_waiting(message, app, person, conversation, uow, req)
        return
    if text is not None and text.startswith("/"):  # /menu or /start (see build_router)
        note = Reply(conversation.t("handoff.still_open", coach=req.coach_name or "", id=req.id))
        await conversation.run(lambda e, s, c: e.go_home(s, c), before=[note])
        return
    kind = relay_kind(message)
    if kind is None:
        with contextlib.suppress(TelegramAPIError):
            await message.answer(conversation.t("handoff.only_text_media"))
        return
    await _relay(message, app, uow, req, kind, acknowledge=False)


async def _relay(
    message: Message,
    app: App,
    uow: UnitOfWork,
    req: RequestInfo,
    kind: str,
    *,
    acknowledge: bool,
) -> bool:
    """Pass the person's message to the coaches (committed with the update; the outbox sends
    it). With ``acknowledge``: whether the person is due a "sent" for it (one per burst)."""
    now = app.clock()
    async with uow.transaction() as session:
        due = acknowledge and await service.acknowledgement_due(session, req, now=now)
        await service.relay_from_person(
            session,
            req,
            kind,
            message.text if message.text is not None else message.caption,
            person_chat_id=message.chat.id,
            person_message_id=message.message_id,
            edited=message.edit_date is not None,
            now=now,
        )
    kick(app)
    return due


async def _while_waiting(
    message: Message,
    app: App,
    person: PersonInfo,
    conversation: Conversation,
    uow: UnitOfWork,
    req: RequestInfo,
) -> None:
    """The request waits for a coach: the bot works as usual for what it understands; what
    else the person writes is for the coaches."""
    text = message.text
    if text is not None:
        if text.startswith("/") or app.content.is_keyword("help", text):
            raise SkipHandler
        if app.content.is_keyword("coach", text):
            # asking for a coach again is answered at once, not with the questions again
            note = Reply(conversation.t("handoff.already_open", id=req.id))
            await conversation.run(lambda e, s, c: e.current(s, c), before=[note])
            return
        current = ConversationState.from_data(await conversation.state.get_data())
        if app.engine.takes(current, text, person.language):
            raise SkipHandler
    kind = relay_kind(message)
    if kind is None:  # a sticker, a location …: the dialogs answer it as usual
        raise SkipHandler
    if await _relay(message, app, uow, req, kind, acknowledge=True):
        with contextlib.suppress(TelegramAPIError):
            await message.answer(conversation.t("handoff.sent_while_waiting"))


async def feedback(
    callback: CallbackQuery,
    callback_data: FeedbackData,
    app: App,
    bot: Bot,
    person: PersonInfo,
    conversation: Conversation,
    uow: UnitOfWork,
) -> None:
    """Did this help, 1-5: stored once per request, only by its own person."""
    async with uow.transaction() as session:
        req = await service.give_feedback(
            session, person, callback_data.rid, callback_data.score, now=app.clock()
        )
    await answer_press(callback, conversation.t("engine.moved_on") if req is None else None)
    if req is None:
        return
    message = callback.message
    with contextlib.suppress(TelegramAPIError):
        marked = f"\n\n✔ {callback_data.score}/5"
        # the same score pressed again: the message already says so (no "not modified" 400)
        if isinstance(message, Message) and message.text and not message.text.endswith(marked):
            await message.edit_text(f"{message.text}{marked}")
        await bot.send_message(person.telegram_id, conversation.t("handoff.feedback_thanks"))
    await redraw(bot, app, req)


def build_router() -> Router:
    router = Router(name="handoff-person")
    router.message.filter(PRIVATE_CHAT)
    router.callback_query.filter(PRIVATE_BUTTON)
    router.callback_query.register(feedback, FeedbackData.filter())
    router.message.register(while_open, Command("menu", "start"))
    router.message.register(while_open, Magic(~F.text.startswith("/")))
    # a corrected message goes to the coach again (marked as edited), not to the dialogs
    router.edited_message.filter(PRIVATE_CHAT)
    router.edited_message.register(while_open, Magic(~F.text.startswith("/")))
    return router
