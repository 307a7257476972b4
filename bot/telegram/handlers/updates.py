"""Every kind of update, handled or ignored on purpose.

The bot asks Telegram only for :data:`ALLOWED_UPDATES`; a test checks that these are exactly
the kinds the dispatcher has handlers for. Anything else (channel posts, inline queries, polls,
chat_member, reactions, payments, business messages …) is never requested, and if it arrives
anyway (a webhook registered by hand) the dispatcher drops it without a reply.

This router is included last, so it only sees what the feature routers left:

* ``my_chat_member`` in a private chat: the person blocked the bot (``kicked``: marked
  blocked, nothing scheduled goes to them) or unblocked/restarted it (``member``: cleared).
* ``my_chat_member`` in a group: logged with the chat id and otherwise ignored. The bot does
  not leave groups by itself: it is added to the coach group before ``COACH_CHAT_ID`` is known,
  and a group that becomes a supergroup gets a new id; leaving would lose the coach group.
* messages and edits in groups other than the coach group: ignored (no reply to strangers).
* a private message without a sender (forged; Telegram does not send one): logged, ignored.
* button presses nobody else took (an old keyboard in a group, an inline message): answered
  silently so the phone stops spinning; nothing is stored.

See docs/ROBUSTNESS.md.
"""

from __future__ import annotations

import logging
from typing import Final

from aiogram import Router
from aiogram.enums import ChatMemberStatus
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.app import App
from bot.telegram.filters import PRIVATE_WITHOUT_SENDER
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from bot.telegram.render import answer_press
from db.repositories import PersonRepository

log = logging.getLogger(__name__)

#: the update kinds the bot asks Telegram for (polling and webhook registration use this)
ALLOWED_UPDATES: Final = ["message", "edited_message", "callback_query", "my_chat_member"]

#: statuses that mean "the bot can write to this private chat again"
_BACK: Final = frozenset({ChatMemberStatus.MEMBER.value, ChatMemberStatus.ADMINISTRATOR.value})
_GONE: Final = frozenset({ChatMemberStatus.KICKED.value, ChatMemberStatus.LEFT.value})


async def my_chat_member(event: ChatMemberUpdated, app: App, uow: UnitOfWork) -> None:
    status = ChatMemberStatus(event.new_chat_member.status).value
    chat = event.chat
    if chat.type == "private":
        async with uow.transaction() as session:
            people = PersonRepository(session)
            if status in _GONE:
                await people.mark_blocked(chat.id, now=app.clock())
            elif status in _BACK:
                await people.unmark_blocked(chat.id)
        log.info("private chat %s: the bot is now %s", chat.id, status)
        return
    if chat.id == app.settings.coach_chat_id:
        level = logging.WARNING if status in _GONE else logging.INFO
        log.log(level, "coach group %s: the bot is now %s", chat.id, status)
        return
    log.info("group %s (not the coach group): the bot is now %s; ignored", chat.id, status)


async def no_sender(event: Message) -> None:
    """A private message without a sender (Telegram does not send these; a forged one): there
    is nobody to answer or to store anything for."""
    log.info("a message without a sender in private chat %s; ignored", event.chat.id)


async def ignore(event: Message) -> None:
    """Messages and edits in groups that are not the coach group: no reply, nothing stored."""


async def stray_button(callback: CallbackQuery) -> None:
    """A press nobody else handles: stop the spinner, nothing else."""
    await answer_press(callback)


def build_router() -> Router:
    """Include last: it takes what the other routers left."""
    router = Router(name="updates")
    router.my_chat_member.register(my_chat_member)
    router.message.register(no_sender, PRIVATE_WITHOUT_SENDER)
    router.edited_message.register(no_sender, PRIVATE_WITHOUT_SENDER)
    router.message.register(ignore)
    router.edited_message.register(ignore)
    router.callback_query.register(stray_button)
    return router
