"""Language and consent (the privacy notice and "my data" are in :mod:`bot.features.privacy`)."""

from __future__ import annotations

from bot.content.snapshot import LANGUAGES
from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply

from .api import WITHDRAWN_TEXT, ConsentService, confirmation


async def set_language(ctx: ActionContext) -> ActionResult:
    language = ctx.args.get("language") or ctx.answers.get(
        str(ctx.args.get("from_answer", "language"))
    )
    # the base languages, and variants the content declares (e.g. fi-selko, plain Finnish)
    app = getattr(ctx.services, "app", None)
    known = app.content.languages if app is not None else LANGUAGES
    if language not in known:
        return ActionResult()
    return ActionResult(language=str(language))


#: the outcome of ``set_consent`` (no) for someone who said yes before: ask what to do with
#: what was saved (the onboarding's ``forget_saved`` question) before changing anything
SAVED_BEFORE = "saved_before"


async def set_consent(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    agreed = bool(ctx.args.get("consent"))
    consent = ConsentService.of(services.session, services.app)
    if not agreed and services.consent:
        return ActionResult(outcome=SAVED_BEFORE)
    if agreed:
        # what the person already told us in this conversation is kept from now on
        await consent.grant(services.person.id, dialog=ctx.dialog, answers=ctx.answers)
    else:
        await consent.refuse(services.person.id)
    services.consent = agreed
    return ActionResult(
        replies=[Reply(ctx.t(confirmation(agreed)))],
        outcome="yes" if agreed else "no",
    )


async def withdraw_consent(ctx: ActionContext) -> ActionResult:
    """No more saving, and what was saved goes — as "withdraw consent" in "my data" does."""
    services = ctx.services
    removed = 0
    if services.consent:
        removed = await ConsentService.of(services.session, services.app).withdraw(
            services.person.id
        )
    services.consent = False
    return ActionResult(replies=[Reply(ctx.t(WITHDRAWN_TEXT, count=removed))], outcome="no")


def register(registry: ActionRegistry) -> None:
    registry.register("set_language", set_language, quiet=True)
    registry.register("set_consent", set_consent)
    registry.register("withdraw_consent", withdraw_consent)
