"""The dialog actions of events and trainings.

* ``recommend`` — at the end of the career plan: the best few items for the person's answers,
  each with its reasons and a button that opens its card;
* ``browse_events`` — the main menu's "events and trainings": opens the browser, which has its
  own buttons, and leaves the dialogs (its "main menu" button brings the person back);
* ``open_event_link`` — at the end of the onboarding: the card of a poster's link the person
  opened before they had chosen a language and answered the consent question.
"""

from __future__ import annotations

from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply
from db.repositories import EventRepository

from . import callbacks as cb
from .browser import Browser
from .callbacks import View
from .stats import count_recommendations


async def _browser(ctx: ActionContext) -> Browser:
    return await Browser.open(ctx.services, language=ctx.language, answers=ctx.answers)


async def recommend_action(ctx: ActionContext) -> ActionResult:
    browser = await _browser(ctx)
    if browser.catalogue is None:
        return ActionResult(replies=[Reply(ctx.t("recommend.none"))])
    reply = await browser.list_reply(View(cb.FOR_YOU), 0, edit=False, in_dialog=True)
    assert reply is not None  # page 0 always exists
    # anonymous counters for the reports: the plan completed, the items suggested
    await count_recommendations(ctx, reply, browser.item, browser.answers)
    return ActionResult(replies=[reply])


async def browse_events(ctx: ActionContext) -> ActionResult:
    browser = await _browser(ctx)
    if browser.catalogue is None:
        return ActionResult(replies=[Reply(ctx.t("recommend.none"))])
    return ActionResult(replies=[browser.menu_reply(edit=False)], leave=True)


async def open_event_link(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    item_id = await EventRepository(services.session).take_link(services.person.id)
    if item_id is None:
        return ActionResult()
    browser = await _browser(ctx)
    item = browser.item(item_id)
    if item is None:
        return ActionResult(replies=[Reply(ctx.t("events.gone"))])
    return ActionResult(replies=[await browser.card_reply(item, None, 0, edit=False)], leave=True)


def register(registry: ActionRegistry) -> None:
    registry.register("recommend", recommend_action)
    registry.register("browse_events", browse_events)
    registry.register("open_event_link", open_event_link)
