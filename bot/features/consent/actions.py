"""Language and consent (the privacy notice and "my data" are in :mod:`bot.features.privacy`)."""

from __future__ import annotations

from bot.content.snapshot import LANGUAGES
from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply
from db.repositories import AnswerRepository, PersonRepository


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
    settings = services.app.settings
    now = services.app.clock()
    await PersonRepository(services.session).set_consent(
        services.person.id, settings.consent_version if agreed else None, now=now
    )
    services.consent = agreed
    if agreed:
        # What the person already told us in this conversation is kept from now on.
        answers = AnswerRepository(services.session)
        plain = services.app.plain_answer_keys  # choices; what people type is encrypted
        for key, value in ctx.answers.items():
            await answers.save(
                services.person.id, ctx.dialog, key, value, now=now, plain=key in plain
            )
    return ActionResult(
        replies=[Reply(ctx.t("consent.saved" if agreed else "consent.not_saved"))],
        outcome="yes" if agreed else "no",
    )


def register(registry: ActionRegistry) -> None:
    registry.register("set_language", set_language)
    registry.register("set_consent", set_consent)
