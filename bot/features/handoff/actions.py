"""The handoff dialog's actions: ``handoff_open`` at its start and ``handoff`` at its end.

``handoff_open`` tells someone whose request is still open so at once (outcome ``open``),
before any question: the answers would only be dropped at the end.

``handoff`` runs inside the person's turn: the request (status ``new``) and its card's outbox row are
written in the turn's transaction, and the promise is only a reply — sent after the commit.
So a person is never told "a coach will answer" about a request that is not in the database.

Outcomes: ``ok`` (a new request), ``already_open`` (the person's open request is kept; they
are told so), and ``needs_consent`` — only when the action step maps that outcome to a step of
its own (which asks for consent and comes back): a person who has not agreed to storing
answers then gets ``handoff.needs_consent`` first. Without such a step the request is stored
anyway: the person asked for a human, and the request is what they asked us to keep.
"""

from __future__ import annotations

from bot.engine.actions import ActionContext, ActionRegistry, ActionResult
from bot.engine.output import Reply
from bot.engine.schema import ActionStep
from db.repositories import HandoffRepository

from . import service
from .outbox import kick
from .section import handoff_content


def _first_name(ctx: ActionContext) -> str | None:
    """The person's Telegram first name, which the turn passes to texts as ``{first_name}``."""
    extra = getattr(ctx.services, "extra", None) or {}
    name = extra.get("first_name")
    if not name:
        rendered = ctx.t("{first_name}")  # an unknown key renders as itself, with the params
        name = "" if rendered == "{first_name}" else rendered
    return str(name).strip() or None


def _declares(ctx: ActionContext, outcome: str) -> bool:
    step = ctx.services.app.content.dialogs.step(ctx.dialog, ctx.step)
    return isinstance(step, ActionStep) and outcome in step.outcomes


async def handoff(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    app = services.app
    now = app.clock()
    if not services.consent and _declares(ctx, "needs_consent"):
        return ActionResult(
            replies=[Reply(ctx.t("handoff.needs_consent"))], outcome="needs_consent"
        )
    request, created = await service.create_request(
        services.session, app, services.person, ctx.answers, _first_name(ctx), now=now
    )
    if not created:
        return ActionResult(
            replies=[Reply(ctx.t("handoff.already_open", id=request.id))], outcome="already_open"
        )
    services.after_commit.append(lambda: kick(app))
    office = handoff_content(app).office
    if office.promises_hours(now):
        when = ctx.t("handoff.when_office", hours=office.answer_within_hours)
    else:
        when = ctx.t("handoff.when_next_day")
    return ActionResult(
        replies=[Reply(ctx.t("handoff.received", when=when, id=request.id))], outcome="ok"
    )


async def handoff_open(ctx: ActionContext) -> ActionResult:
    services = ctx.services
    request = await HandoffRepository(services.session).open_for_person(services.person.id)
    if request is None:
        return ActionResult()
    return ActionResult(
        replies=[Reply(ctx.t("handoff.already_open", id=request.id))], outcome="open"
    )


def register(registry: ActionRegistry) -> None:
    registry.register("handoff_open", handoff_open)
    registry.register("handoff", handoff)
