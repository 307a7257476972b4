"""Private chats with job seekers: commands, trigger words, dialog buttons and answers, and
kind answers to everything else. Handlers stay thin: they pick an engine operation and let
:class:`~bot.telegram.conversation.Conversation` run it as one turn."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.app import App
from bot.engine.output import Reply
from bot.engine.state import ConversationState
from bot.telegram.conversation import Conversation
from bot.telegram.filters import PRIVATE_BUTTON, PRIVATE_CHAT, Magic
from db.repositories import PersonInfo


async def _start_or_resume(conversation: Conversation, person: PersonInfo, *, greet: bool) -> None:
    """Where a person lands on /start or when we do not know what they mean."""
    data = await conversation.state.get_data()
    current = ConversationState.from_data(data)
    engine = conversation.app.engine
    if not person.consent_decided and current.position is None:
        await conversation.run(lambda e, s, c: e.begin(s.reset(), c))
        return
    before = None
    if greet and current.position is not None and current.position != engine.home:
        before = [Reply(conversation.t("bot.welcome_back"))]
    await conversation.run(lambda e, s, c: e.current(s, c), before=before)


async def start(
    message: Message, command: CommandObject, conversation: Conversation, person: PersonInfo
) -> None:
    await _start_or_resume(conversation, person, greet=True)


async def menu(message: Message, conversation: Conversation, person: PersonInfo) -> None:
    if not person.consent_decided:
        await _start_or_resume(conversation, person, greet=False)
        return
    await conversation.run(lambda e, s, c: e.go_home(s, c))


async def help_command(message: Message, conversation: Conversation) -> None:
    await _help(conversation)


async def _help(conversation: Conversation) -> None:
    await conversation.run(
        lambda e, s, c: e.current(s, c), before=[Reply(conversation.t("bot.help"))]
    )


async def language(message: Message, conversation: Conversation) -> None:
    await conversation.run(lambda e, s, c: e.begin(s, c, "onboarding", "change_language"))


async def restart(message: Message, conversation: Conversation) -> None:
    await conversation.run(
        lambda e, s, c: e.begin(s.reset(), c), before=[Reply(conversation.t("bot.restarted"))]
    )


async def unknown_command(message: Message, conversation: Conversation) -> None:
    await _help(conversation)


def wants_coach(app: App, text: str, current: ConversationState, language: str) -> bool:
    """Whether typed ``text`` asks for a person: a coach keyword alone ("ihminen"), or a
    sentence naming one in any inflection ("haluan puhua ihmisen kanssa") that is not an
    answer to the question the person is on (typed into an input, or a button's label)."""
    if app.content.dialogs.get("handoff") is None:
        return False
    if app.content.is_keyword("coach", text):
        return True
    if current.dialog == "handoff" or app.engine.takes(current, text, language):
        return False
    return app.content.word_list("coach_in_text").found_in(text)


async def text(message: Message, conversation: Conversation, person: PersonInfo, app: App) -> None:
    assert message.text is not None
    typed = message.text
    if app.content.is_keyword("help", typed):
        await _help(conversation)
        return
    current = ConversationState.from_data(await conversation.state.get_data())
    if wants_coach(app, typed, current, person.language):
        await conversation.run(lambda e, s, c: e.begin(s, c, "handoff"))
        return
    if current.position is None:
        await _start_or_resume(conversation, person, greet=False)
        return
    await conversation.run(lambda e, s, c: e.text(s, typed, c))


async def button(callback: CallbackQuery, conversation: Conversation) -> None:
    """A dialog button, or any press no other router took (a button of an old version of the
    bot, forged data): the engine takes it or says "let's continue here"; never a crash."""
    data = callback.data or ""
    await conversation.run(lambda e, s, c: e.press(s, data, c))


async def edited(message: Message, conversation: Conversation) -> None:
    await conversation.run(
        lambda e, s, c: e.current(s, c), before=[Reply(conversation.t("bot.edited"))]
    )


async def other_media(message: Message, conversation: Conversation, person: PersonInfo) -> None:
    """Stickers, photos, voice, locations …: a kind word and the question again."""
    if not person.consent_decided:
        await _start_or_resume(conversation, person, greet=False)
        return
    await conversation.run(
        lambda e, s, c: e.current(s, c), before=[Reply(conversation.t("bot.unsupported_media"))]
    )


def build_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only; tests build many)."""
    router = Router(name="private")
    router.message.filter(PRIVATE_CHAT)
    router.edited_message.filter(PRIVATE_CHAT)
    router.callback_query.filter(PRIVATE_BUTTON)
    router.message.register(start, CommandStart())
    router.message.register(menu, Command("menu"))
    router.message.register(help_command, Command("help"))
    router.message.register(language, Command("language"))
    router.message.register(restart, Command("restart"))
    router.message.register(unknown_command, Magic(F.text.startswith("/")))
    router.message.register(text, Magic(F.text))
    router.callback_query.register(button)
    router.edited_message.register(edited)
    router.message.register(other_media)
    return router
