"""Language and consent (the privacy notice and "my data" are in :mod:`bot.features.privacy`)."""

from __future__ import annotations

from bot.content.snapshot import LANGUAGES
from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply

from .api import ConsentService, confirmation


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


async def set_consent(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    agreed = bool(ctx.args.get("consent"))
    consent = ConsentService.of(services.session, services.app)
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


def register(registry: ActionRegistry) -> None:
    registry.register("set_language", set_language, quiet=True)
    registry.register("set_consent", set_consent)
