"""Private-chat handlers of the person's own data: ``/mydata``, ``/delete``, ``/privacy``, the
privacy buttons (``pv:…``), and the consent question asked again when the consent text has
a new version. Included before the handoff and private routers, so these work whatever
conversation the person is in (also while a coach has their request).

Each handler runs one turn through :class:`~bot.telegram.conversation.Conversation` — except the
erasure itself, which must not write the conversation state back afterwards: it runs in the
update's unit of work and then sends its answer.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.app import App
from bot.engine.output import Reply, Turn
from bot.engine.runner import Engine, TurnContext
from bot.engine.state import ConversationState
from bot.features.consent.api import ConsentService, confirmation
from bot.telegram.conversation import Conversation
from bot.telegram.filters import PRIVATE_BUTTON, PRIVATE_CHAT, Magic
from db.repositories import PersonInfo, PrivacyRepository, Subject

from . import service, views
from .notice import render_consent_more, render_notice

Result = tuple[ConversationState, Turn]


def _same(state: ConversationState) -> ConversationState:
    return state.clone()


async def _then_current(
    engine: Engine, state: ConversationState, ctx: TurnContext, reply: Reply
) -> Result:
    """``reply`` first, then the person's current question: the conversation goes on."""
    state, turn = await engine.current(state, ctx)
    turn.replies.insert(0, reply)
    return state, turn


async def _exported(ctx: TurnContext) -> dict[str, Any]:
    services = ctx.services
    exported = await PrivacyRepository(services.session).export(services.person.id)
    assert exported is not None  # the person middleware made sure the row exists
    return exported


# -- operations (engine, state, ctx) -> (state, turn) -----------------------------------------


async def show_my_data(
    engine: Engine, state: ConversationState, ctx: TurnContext, *, edit: bool = False
) -> Result:
    app = ctx.services.app
    reply = views.my_data_reply(app, ctx.language, await _exported(ctx), edit=edit)
    return _same(state), Turn(replies=[reply])


async def download(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    app = ctx.services.app
    return _same(state), Turn(replies=[views.export_reply(app, ctx.language, await _exported(ctx))])


async def show_notice(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    app = ctx.services.app
    notice = render_notice(app, ctx.language)
    return _same(state), Turn(replies=[views.notice_reply(app, ctx.language, notice)])


async def ask_delete(
    engine: Engine, state: ConversationState, ctx: TurnContext, *, edit: bool
) -> Result:
    return _same(state), Turn(
        replies=[views.delete_question(ctx.services.app, ctx.language, edit=edit)]
    )


async def ask_withdraw(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    return _same(state), Turn(replies=[views.withdraw_question(ctx.services.app, ctx.language)])


async def withdraw(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    services = ctx.services
    removed = 0
    if services.consent:
        consent = ConsentService.of(services.session, services.app)
        removed = await consent.withdraw(services.person.id)
        services.consent = False
    text = views.Texts(services.app, ctx.language)("withdraw.done", count=removed)
    return await _then_current(engine, state, ctx, Reply(text, edit=True))


async def give_consent(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    services = ctx.services
    app = services.app
    await ConsentService.of(services.session, app).grant(services.person.id)
    services.consent = True
    exported = await _exported(ctx)
    turn = Turn(
        replies=[
            Reply(app.t(confirmation(True), ctx.language)),
            views.my_data_reply(app, ctx.language, exported),
        ]
    )
    return _same(state), turn


async def cancelled(
    engine: Engine, state: ConversationState, ctx: TurnContext, *, key: str
) -> Result:
    """Nothing happened: say so in place of the question, and carry on where the person was."""
    text = views.Texts(ctx.services.app, ctx.language)(key)
    return await _then_current(engine, state, ctx, Reply(text, edit=True))


async def consent_again(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    return _same(state), Turn(replies=[views.consent_again_reply(ctx.services.app, ctx.language)])


async def answer_again(
    engine: Engine, state: ConversationState, ctx: TurnContext, *, agreed: bool
) -> Result:
    """The answer to the consent question asked again; then the conversation goes on."""
    services = ctx.services
    app = services.app
    consent = ConsentService.of(services.session, app)
    if agreed:
        await consent.grant(services.person.id)
    else:  # a no to the new version: what was saved under the old one goes
        await consent.withdraw(services.person.id)
    services.consent = agreed
    return await _then_current(engine, state, ctx, Reply(app.t(confirmation(agreed), ctx.language)))


async def notice_then_ask(engine: Engine, state: ConversationState, ctx: TurnContext) -> Result:
    app = ctx.services.app
    replies = [
        Reply(render_consent_more(app, ctx.language)),
        views.consent_again_reply(app, ctx.language),
    ]
    return _same(state), Turn(replies=replies)


# -- erasure ----------------------------------------------------------------------------------


async def erase(conversation: Conversation, state: FSMContext, *, edit: bool) -> None:
    """Delete everything about the person, then tell them what went. The conversation state
    is cleared through the storage API in the same unit of work (Redis keys are deleted; the
    database rows go with the erasure) and — unlike a normal turn — not written back."""
    app = conversation.app
    person = conversation.person
    async with conversation.uow.transaction() as session:
        await service.clear_state(state.storage, state.key)
        counts = await service.erase_person(
            session,
            app,
            Subject(person.id, person.telegram_id),
            now=app.clock(),
            reason="request",
        )
    text = views.erased_text(app, person.language, counts)
    await conversation.deliver(Turn(replies=[Reply(text, edit=edit)]))


# -- handlers ---------------------------------------------------------------------------------


async def on_my_data(message: Message, conversation: Conversation) -> None:
    await conversation.run(show_my_data)


async def on_delete(message: Message, conversation: Conversation) -> None:
    await conversation.run(lambda e, s, c: ask_delete(e, s, c, edit=False))


async def on_privacy(message: Message, conversation: Conversation) -> None:
    await conversation.run(show_notice)


async def on_button(callback: CallbackQuery, conversation: Conversation, state: FSMContext) -> None:
    action = (callback.data or "").split(":", 1)[1]
    if action == views.DELETE_YES:
        await erase(conversation, state, edit=isinstance(callback.message, Message))
        return
    operations = {
        views.DOWNLOAD: download,
        views.NOTICE: show_notice,
        views.WITHDRAW: ask_withdraw,
        views.WITHDRAW_YES: withdraw,
        views.GIVE: give_consent,
        views.HOME: lambda e, s, c: e.go_home(s, c),
        views.AGAIN_YES: lambda e, s, c: answer_again(e, s, c, agreed=True),
        views.AGAIN_NO: lambda e, s, c: answer_again(e, s, c, agreed=False),
        views.AGAIN_MORE: notice_then_ask,
        views.DELETE: lambda e, s, c: ask_delete(e, s, c, edit=True),
        views.KEEP_DATA: lambda e, s, c: cancelled(e, s, c, key="delete.cancelled"),
        views.KEEP_CONSENT: lambda e, s, c: cancelled(e, s, c, key="withdraw.cancelled"),
    }
    operation = operations.get(action)
    if operation is None:  # an old or forged button: where the person is now
        await conversation.run(lambda e, s, c: e.current(s, c, notice="engine.moved_on"))
        return
    await conversation.run(operation)


class StaleConsent(Filter):
    """The person agreed to an older version of the consent text than the current one."""

    async def __call__(
        self, event: TelegramObject, app: App, person: PersonInfo | None = None
    ) -> bool:
        return (
            person is not None
            and person.consent_version is not None
            and person.consent_version < app.settings.consent_version
        )


async def on_stale_consent(event: TelegramObject, conversation: Conversation) -> None:
    """Before anything else: the consent question again (the update itself is not acted on;
    after the answer, the person's current question is shown again)."""
    await conversation.run(consent_again)


def build_router() -> Router:
    router = Router(name="privacy")
    router.message.filter(PRIVATE_CHAT)
    router.callback_query.filter(PRIVATE_BUTTON)
    router.message.register(on_my_data, Command("mydata"))
    router.message.register(on_delete, Command("delete"))
    router.message.register(on_privacy, Command("privacy"))
    router.callback_query.register(on_button, Magic(F.data.startswith(f"{views.PREFIX}:")))
    router.message.register(on_stale_consent, StaleConsent())
    router.callback_query.register(on_stale_consent, StaleConsent())
    return router
