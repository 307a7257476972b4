"""Dialog actions of the privacy feature.

* ``my_data`` — the main menu's "My data": what is stored, with download, delete, consent and
  notice buttons (the buttons take over: the person leaves the dialog, "Main menu" goes home);
* ``privacy`` — onboarding's "Tell me more": how long, who sees what, who is responsible (the
  whole notice is ``/privacy``);
* ``request_storage_note`` — in the handoff dialog: someone who chose not to save answers is
  told that this request is saved anyway, what of it and why (nothing for anyone else).
"""

from __future__ import annotations

from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply
from db.repositories import PrivacyRepository

from . import views
from .notice import render_consent_more


async def my_data(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    exported = await PrivacyRepository(services.session).export(services.person.id)
    if exported is None:  # pragma: no cover - the person row exists during their turn
        return ActionResult()
    reply = views.my_data_reply(services.app, ctx.language, exported)
    return ActionResult(replies=[reply], leave=True)


async def privacy(ctx: ActionContext) -> ActionResult:
    return ActionResult(replies=[Reply(render_consent_more(ctx.services.app, ctx.language))])


async def request_storage_note(ctx: ActionContext) -> ActionResult:
    if ctx.services.consent:
        return ActionResult()
    return ActionResult(replies=[Reply(ctx.t("privacy.consent.handoff_note"))])


def register(registry: ActionRegistry) -> None:
    registry.register("my_data", my_data)
    registry.register("privacy", privacy)
    registry.register("request_storage_note", request_storage_note)
