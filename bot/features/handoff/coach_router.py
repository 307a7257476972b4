"""The coach chat (``COACH_CHAT_ID``): card buttons, coaches' replies relayed to people,
``/queue`` and ``/mine``.

Who may do what is decided from the database on every update, never from what a button or a
message says: the presser must be an active coach (everyone in ADMIN_IDS is one), and the
message a button sits on must be a card of the very request the button names. Everyone else
gets "only coaches can do this" and nothing changes. Handlers stay thin: the rules are in
:mod:`bot.features.handoff.service`, and what must reach people goes through the outbox.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InaccessibleMessage,
    Message,
    ReplyParameters,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.telegram.filters import Magic
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from db.repositories import CLAIMED, CLOSED, NEW, HandoffRepository, LinkRepository, RequestInfo

from . import cards, service
from .cards import CardAction, Labels
from .outbox import kick
from .section import handoff_content

log = logging.getLogger(__name__)

#: a message starting with this stays among the coaches (not relayed to the person)
NOTE_PREFIX = "//"


async def card_button(
    callback: CallbackQuery, callback_data: CardAction, app: App, bot: Bot, uow: UnitOfWork
) -> None:
    labels = Labels(app)
    message = callback.message
    user = callback.from_user
    now = app.clock()
    async with uow.transaction() as session:
        actor = await service.actor_for(session, app.settings, user.id, user.first_name, now=now)
        if actor is None:
            pressed = service.Pressed("coach.only_coaches", alert=True)
        elif message is None or await LinkRepository(session).find(
            message.chat.id, message.message_id
        ) != (callback_data.rid, "card"):
            # forged, or a button copied onto another message: it names some other request
            pressed = service.Pressed("coach.stale", alert=True)
        else:
            pressed = await service.press(
                session,
                app,
                actor,
                callback_data.op,
                callback_data.rid,
                callback_data.arg,
                now=now,
            )
    await callback.answer(labels.t(pressed.toast, **pressed.params)[:200], show_alert=pressed.alert)
    if pressed.queued:
        kick(app)
    req = pressed.request
    if req is None or message is None:
        return
    if pressed.prompt:
        await _reply_prompt(bot, app, req, user, message)
        return
    await redraw(bot, app, req, mode=pressed.mode, pressed=message)
    if pressed.closed and req.topic_thread_id and req.telegram_chat_id:
        with contextlib.suppress(TelegramAPIError):
            await bot.close_forum_topic(req.telegram_chat_id, req.topic_thread_id)


async def redraw(
    bot: Bot,
    app: App,
    req: RequestInfo,
    *,
    mode: str = cards.MAIN,
    pressed: Message | InaccessibleMessage | None = None,
) -> None:
    """Show the request's state on its card (and on the card whose button was pressed, which
    alone shows the ``mode`` keyboard: outcomes, saved replies)."""
    labels = Labels(app)
    saved = handoff_content(app).saved_replies
    text = cards.card_text(labels, req)
    targets: list[tuple[int, int, str]] = []
    if pressed is not None:
        targets.append((pressed.chat.id, pressed.message_id, mode))
    primary = (req.telegram_chat_id, req.card_message_id)
    if primary[0] and primary[1] and primary not in {(c, m) for c, m, _ in targets}:
        targets.append((primary[0], primary[1], cards.MAIN))
    for chat_id, message_id, keyboard_mode in targets:
        try:
            await bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML",
                reply_markup=cards.card_keyboard(labels, req, keyboard_mode, saved),
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                log.info("could not update the card of request %s: %s", req.id, exc.message)
        except TelegramAPIError as exc:
            log.warning("could not update the card of request %s: %s", req.id, type(exc).__name__)


async def _reply_prompt(
    bot: Bot, app: App, req: RequestInfo, user: User, card: Message | InaccessibleMessage
) -> None:
    """A message the coach answers with Telegram's own reply (it opens the reply field)."""
    labels = Labels(app)
    text = escape(
        labels.t("coach.reply_prompt", coach="\x00", name=req.first_name or "?", id=req.id)
    ).replace("\x00", cards.mention(user.first_name, user.id))
    try:
        sent = await bot.send_message(
            card.chat.id,
            text,
            parse_mode="HTML",
            message_thread_id=req.topic_thread_id,
            reply_parameters=ReplyParameters(
                message_id=card.message_id, allow_sending_without_reply=True
            ),
            reply_markup=ForceReply(
                selective=True, input_field_placeholder=labels.t("coach.reply_placeholder")[:64]
            ),
        )
    except TelegramAPIError as exc:
        log.warning("could not send a reply prompt: %s", type(exc).__name__)
        return
    async with app.db.transaction() as session:
        await LinkRepository(session).link(card.chat.id, sent.message_id, req.id, "prompt")


def relay_kind(message: Message) -> str | None:
    """What of a message is relayed either way: text, photo or document (None: nothing)."""
    if message.text is not None:
        return "text"
    if message.photo:
        return "photo"
    if message.document is not None:
        return "document"
    return None


async def _request_of(session: AsyncSession, message: Message) -> RequestInfo | None:
    """The request a coach's message answers: a reply to one of its bot messages (card,
    prompt, relayed message), or a message in its forum topic."""
    handoff = HandoffRepository(session)
    replied = message.reply_to_message
    if replied is not None:  # only the bot's own messages are in the links table
        link = await LinkRepository(session).find(message.chat.id, replied.message_id)
        if link is not None:
            return await handoff.get(link[0])
    if message.is_topic_message and message.message_thread_id:
        return await handoff.by_topic(message.chat.id, message.message_thread_id)
    return None


async def coach_writes(message: Message, app: App, uow: UnitOfWork) -> None:
    """A coach answers a request: the message goes to the person, marked with their name."""
    user = message.from_user
    if user is None or user.is_bot:
        return
    written = message.text if message.text is not None else message.caption
    if written is not None and written.lstrip().startswith(NOTE_PREFIX):
        return
    now = app.clock()
    verdict: str | None = None
    async with uow.transaction() as session:
        req = await _request_of(session, message)
        if req is None:
            return
        actor = await service.actor_for(session, app.settings, user.id, user.first_name, now=now)
        if actor is None:
            return  # people in the group who are not coaches never reach a person
        kind = relay_kind(message)
        if req.status == CLOSED:
            verdict = "coach.already_closed"
        elif req.status == NEW:
            verdict = "coach.not_claimed"
        elif req.status == CLAIMED and not actor.may_handle(req):
            verdict = "coach.not_yours"
        elif kind is None:
            verdict = "coach.relay_unsupported"
        else:
            await service.relay_from_coach(
                session,
                app,
                actor,
                req,
                kind,
                written,
                coach_chat_id=message.chat.id,
                coach_message_id=message.message_id,
                now=now,
            )
    if verdict is None:
        kick(app)
        return
    text = Labels(app).t(verdict, coach=req.coach_name or "?", name=req.first_name or "?")
    with contextlib.suppress(TelegramAPIError):
        await message.reply(text)


async def _coach_or_refuse(
    session: AsyncSession, message: Message, app: App
) -> service.Actor | None:
    user = message.from_user
    if user is None:
        return None
    return await service.actor_for(session, app.settings, user.id, user.first_name, now=app.clock())


async def _list_requests(
    message: Message,
    app: App,
    uow: UnitOfWork,
    fetch: Callable[[HandoffRepository, Any], Awaitable[Any]],
    name: str,
) -> None:
    """Answer a coach with a list of requests (``coach.<name>.title`` / ``.empty``)."""
    labels = Labels(app)
    async with uow.transaction() as session:
        actor = await _coach_or_refuse(session, message, app)
        requests = await fetch(HandoffRepository(session), actor) if actor else []
    if actor is None:
        text = escape(labels.t("coach.only_coaches"))
    else:
        text = cards.queue_text(
            labels, requests, app.clock(), title=f"coach.{name}.title", empty=f"coach.{name}.empty"
        )
    with contextlib.suppress(TelegramAPIError):
        await message.reply(text, parse_mode="HTML")


async def queue(message: Message, app: App, uow: UnitOfWork) -> None:
    """Open requests, unclaimed first, oldest first."""
    await _list_requests(message, app, uow, lambda repo, _: repo.open_requests(), "queue")


async def mine(message: Message, app: App, uow: UnitOfWork) -> None:
    """The requests the coach has taken and not closed."""
    await _list_requests(
        message, app, uow, lambda repo, actor: repo.claimed_by(actor.coach.id), "mine"
    )


async def migrated(message: Message, app: App, bot: Bot) -> None:
    """The group became a supergroup: its id changed, and the settings must follow."""
    new_id = message.migrate_to_chat_id
    log.error("the coach group moved to a new chat id; COACH_CHAT_ID must be updated")
    text = Labels(app).t("coach.alert.migrated", chat_id=new_id, id="–", what="")
    for admin in app.settings.admin_ids:
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(admin, text)


async def other_button(callback: CallbackQuery, app: App) -> None:
    """A button in the coach chat that is not a card's: answered, so the phone stops spinning."""
    await callback.answer(Labels(app).t("coach.stale"))


async def ignore(message: Message) -> None:
    """Everything else in the coach chat is the coaches' own conversation."""


def build_router(coach_chat_id: int) -> Router:
    router = Router(name="coach-chat")
    router.message.filter(Magic(F.chat.id == coach_chat_id))
    router.callback_query.filter(Magic(F.message.chat.id == coach_chat_id))
    router.callback_query.register(card_button, CardAction.filter())
    router.callback_query.register(other_button)
    router.message.register(migrated, Magic(F.migrate_to_chat_id))
    router.message.register(queue, Command("queue"))
    router.message.register(mine, Command("mine"))
    router.message.register(coach_writes, Magic(F.reply_to_message | F.is_topic_message))
    router.message.register(ignore)
    return router
