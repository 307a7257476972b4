"""Language, consent, privacy notice and the person's own data."""

from __future__ import annotations

from bot.content import LANGUAGES
from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply
from db.repositories import AnswerRepository, PersonRepository


async def set_language(ctx: ActionContext) -> ActionResult:
    language = ctx.args.get("language") or ctx.answers.get(
        str(ctx.args.get("from_answer", "language"))
    )
    if language not in LANGUAGES:
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
        for key, value in ctx.answers.items():
            await answers.save(services.person.id, ctx.dialog, key, value, now=now)
    return ActionResult(
        replies=[Reply(ctx.t("consent.saved" if agreed else "consent.not_saved"))],
        outcome="yes" if agreed else "no",
    )


async def privacy(ctx: ActionContext) -> ActionResult:
    return ActionResult(replies=[Reply(ctx.t("privacy.notice"))])


async def my_data(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    person = services.person
    stored = (
        await AnswerRepository(services.session).for_person(person.id) if services.consent else {}
    )
    lines = [ctx.t("mydata.title")]
    lines.append(ctx.t("mydata.consent_yes" if services.consent else "mydata.consent_no"))
    if stored:
        engine = services.app.engine
        lines += [engine.describe_answer(key, v, ctx.language) for key, v in stored.items()]
    else:
        lines.append(ctx.t("mydata.nothing"))
    return ActionResult(replies=[Reply("\n".join(lines))])


def register(registry: ActionRegistry) -> None:
    registry.register("set_language", set_language)
    registry.register("set_consent", set_consent)
    registry.register("privacy", privacy)
    registry.register("my_data", my_data)
