"""The dialog actions of events and trainings.

* ``recommend`` — at the end of the career plan: the best few items for the person's answers,
  each with its reasons and a button that opens its card;
* ``browse_events`` — the main menu's "events and trainings": opens the browser, which has its
  own buttons, and leaves the dialogs (its "main menu" button brings the person back);
* ``open_event_link`` — at the end of the onboarding: the card of a poster's link the person
  opened before they had chosen a language and answered the consent question;
* ``suggested`` — whether the person's suggestions include an item: outcome ``yes`` or ``no``
  (args ``items`` and/or ``series``, a name or a list; any one of them is enough). The next
  steps name an item only when it is in the list the person saw, so a step that names one
  sits behind this action.
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


#: ``services.extra`` key of the suggestions' ids and series, computed once per turn
_SUGGESTED = "events.suggested"


def _names(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    return set()


async def suggested(ctx: ActionContext) -> ActionResult:
    extra = ctx.services.extra
    names: set[str] | None = extra.get(_SUGGESTED)
    if names is None:
        browser = await _browser(ctx)
        names = set()
        for item in await browser.suggestions():
            names.add(item.id)
            if item.series:
                names.add(item.series)
        extra[_SUGGESTED] = names
    wanted = _names(ctx.args.get("items")) | _names(ctx.args.get("series"))
    return ActionResult(outcome="yes" if wanted & names else "no")


def register(registry: ActionRegistry) -> None:
    registry.register("recommend", recommend_action)
    registry.register("browse_events", browse_events)
    registry.register("open_event_link", open_event_link)
    registry.register("suggested", suggested, quiet=True)
