"""Private-chat handlers of the events browser: its buttons (``e:…``), poster links
(``/start ev_<id>``) and ``/mysignups``. Included before the private router.

Handlers stay thin: each runs one turn through :class:`~bot.telegram.conversation.Conversation`, whose
operation here is a browser action instead of a dialog step — the same transaction (the
update is marked handled with the sign-up it caused), the same delivery after the commit.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.engine.output import Reply, Turn
from bot.engine.runner import Engine, TurnContext
from bot.engine.state import ConversationState
from bot.telegram.conversation import Conversation
from bot.telegram.filters import PRIVATE_BUTTON, PRIVATE_CHAT, Magic
from db.repositories import EventRepository

from . import callbacks as cb
from .browser import Browser
from .callbacks import EventsData, View, view_of

#: the payload of a poster's link: ``ev_<item id>``
LINK_PREFIX = "ev_"


async def _browser(state: ConversationState, ctx: TurnContext, *, can_edit: bool = True) -> Browser:
    return await Browser.open(
        ctx.services, language=ctx.language, answers=state.answers, state=state, can_edit=can_edit
    )


async def press(
    engine: Engine,
    state: ConversationState,
    ctx: TurnContext,
    data: EventsData | None,
    *,
    can_edit: bool,
) -> tuple[ConversationState, Turn]:
    """One press of a browser button, checked from end to end."""
    state = state.clone()
    if data is not None and data.a == cb.MAIN_MENU:
        return await engine.go_home(state, ctx)
    if data is not None and data.a == cb.TALK_TO_COACH and engine.dialogs.get("handoff"):
        return await engine.begin(state, ctx, "handoff")
    browser = await _browser(state, ctx, can_edit=can_edit)
    suggestions = View(cb.FOR_YOU)
    back_to_suggestions = data is not None and (data.a, data.v) == (cb.LIST, suggestions.key)
    if back_to_suggestions and _under_suggestions(state):
        # back from a card to the suggestions the dialog's question was shown below: both
        # again, as one message, so that the question's buttons are not lost
        reply = await browser.list_reply(suggestions, 0, edit=False, in_dialog=True)
        asked = engine.ask_below(browser.state or state, reply, ctx) if reply else None
        if asked is not None:
            return asked
    turn = await _press(browser, data)
    return browser.state or state, turn


def _under_suggestions(state: ConversationState) -> bool:
    """Whether the question the person is on was shown below their suggestions."""
    for row in state.lead_buttons:
        for button in row:
            data = cb.parse(button.data) if button.data else None
            if data is not None and (data.a, data.v) == (cb.CARD, View(cb.FOR_YOU).key):
                return True
    return False


async def _press(browser: Browser, data: EventsData | None) -> Turn:
    if data is None or browser.catalogue is None:
        return await browser.moved_on(None, None, 0)
    view: View | None = view_of(data.v) if data.v else None
    page = data.p if view is not None else 0
    if data.a == cb.HOME:
        return Turn(replies=[browser.menu_reply(edit=True)])
    if data.a == cb.KINDS_MENU:
        return Turn(replies=[browser.pages.kinds(edit=True)])
    if data.a == cb.PLACES_MENU:
        return Turn(replies=[browser.pages.places(edit=True)])
    if data.a == cb.LIST:
        assert view is not None  # parse() requires a list
        reply = await browser.list_reply(view, page, edit=True)
        if reply is None:  # a page that is no longer there
            return await browser.moved_on(None, None, 0)
        return Turn(replies=[reply])
    item = browser.item(data.i)
    if item is None:
        return await browser.moved_on(None, None, 0)
    if data.a == cb.CARD:
        return Turn(replies=[await browser.card_reply(item, view, page, edit=True)])
    if data.a in (cb.SIGNUP, cb.WAIT):
        return await browser.sign_up(
            item, view, page, data.t, wait=data.a == cb.WAIT, confirmed=data.r == cb.CONFIRMED
        )
    if data.a == cb.CHOOSE:
        return await browser.choose(item, view, page)
    if data.a == cb.CONSENT:
        return await browser.consent_and_sign_up(item, view, page, data.t)
    if data.a == cb.ASK_CANCEL:
        return await browser.ask_cancel(item, view, page, data.t)
    if data.a == cb.CANCEL:
        return await browser.cancel(item, view, page, data.t)
    if data.a == cb.CALENDAR:
        return await browser.calendar(item, view, page)
    if data.a == cb.NOT_FOR_ME:
        return Turn(replies=[browser.pages.dismiss(item, view, page)])
    assert data.a == cb.DISMISS
    return await browser.dismiss(item, data.r, view, page)


async def open_link(
    engine: Engine, state: ConversationState, ctx: TurnContext, item_id: str
) -> tuple[ConversationState, Turn]:
    """A poster's link. Someone new first chooses a language and answers the consent
    question (the onboarding dialog); the card waits in ``event_links`` and the onboarding's
    ``open_event_link`` action shows it. Someone known sees the card at once."""
    services = ctx.services
    browser = await _browser(state, ctx, can_edit=False)
    item = browser.item(item_id)
    if not services.person.consent_decided:
        if item is not None:
            await EventRepository(services.session).remember_link(
                services.person.id, item.id, now=browser.now
            )
        if state.position is None:
            return await engine.begin(state.reset(), ctx)
        return await engine.current(state, ctx)
    state = state.clone()
    if item is None:
        turn = Turn(replies=[Reply(browser.t("events.gone")), browser.menu_reply(edit=False)])
        return state, turn
    return state, Turn(replies=[await browser.card_reply(item, None, 0, edit=False)])


async def my_signups(
    engine: Engine, state: ConversationState, ctx: TurnContext
) -> tuple[ConversationState, Turn]:
    browser = await _browser(state, ctx, can_edit=False)
    reply = await browser.list_reply(View(cb.MINE), 0, edit=False, clamp=True)
    return state.clone(), Turn(replies=[reply or browser.menu_reply(edit=False)])


# -- handlers ----------------------------------------------------------------------------------


async def on_button(callback: CallbackQuery, conversation: Conversation) -> None:
    if cb.unpack(callback.data or "") is None:
        raise SkipHandler  # not the browser's: the dialogs' "moved on"
    data = cb.parse(callback.data or "")
    can_edit = isinstance(callback.message, Message)
    await conversation.run(lambda e, s, c: press(e, s, c, data, can_edit=can_edit))


async def on_link(message: Message, command: CommandObject, conversation: Conversation) -> None:
    item_id = (command.args or "").removeprefix(LINK_PREFIX)
    await conversation.run(lambda e, s, c: open_link(e, s, c, item_id))


async def on_my_signups(message: Message, conversation: Conversation) -> None:
    await conversation.run(my_signups)


def build_router() -> Router:
    router = Router(name="events")
    router.message.filter(PRIVATE_CHAT)
    router.callback_query.filter(PRIVATE_BUTTON)
    router.callback_query.register(on_button, Magic(F.data.startswith(f"{cb.PREFIX}:")))
    router.message.register(
        on_link, CommandStart(deep_link=True, magic=F.args.regexp(rf"^{LINK_PREFIX}"))
    )
    router.message.register(on_my_signups, Command("mysignups"))
    return router
