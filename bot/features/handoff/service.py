"""The rules of the handoff: creating requests, who is a coach, claiming, releasing, closing,
relaying messages. Every function works inside the caller's transaction through the
repositories and talks to nobody: what must reach Telegram is put in the outbox in the same
transaction, so it is sent after the commit, once (see :mod:`bot.features.handoff.outbox`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.config import Settings
from bot.engine import phone as engine_phone
from bot.engine.schema import InputStep
from bot.features.followup import api as followup
from bot.telegram.render import split_text
from db.repositories import (
    CLAIMED,
    CLOSED,
    NEW,
    AuditRepository,
    CoachInfo,
    CoachRepository,
    HandoffRepository,
    NewRequest,
    OutboxRepository,
    PersonInfo,
    RelayRepository,
    RequestInfo,
    StatsRepository,
    audit,
)

from . import cards
from .section import handoff_content

#: the answers the handoff dialog collects (they are the request itself, not "earlier answers")
HANDOFF_KEYS = frozenset(
    {
        "handoff_topic",
        "handoff_details",
        "contact_method",
        "phone_consent",
        "phone",
        "meeting_preference",
        "share_answers",
    }
)
#: earlier answers kept as columns of every request, for anonymous figures per municipality and
#: age group; they appear on the coaches' card only when the person agreed to share answers
ROUTING_KEYS = ("municipality", "age_group")
YES = frozenset({"yes", "true", "1", "kylla", "ja"})

#: outbox kinds; ``scrub``: remove a request's messages from the coach chat (its person's data
#: was deleted)
CARD, REANNOUNCE, RELAY_IN, TO_PERSON, GROUP_TEXT, DIGEST, SCRUB = (
    "card",
    "reannounce",
    "relay_in",
    "to_person",
    "group_text",
    "digest",
    "scrub",
)
#: relay directions
TO_COACH, TO_PERSON_DIR = "to_coach", "to_person"

#: roughly what Telegram accepts in one message, leaving room for the sender line
RELAY_CHUNK = 3800


# -- phone numbers -------------------------------------------------------------------------

#: Finnish numbers in any usual form and others with their country code (bot.engine.phone);
#: the dialog's phone step checks the same way (``validate: {phone: true}``)
normalise_phone = engine_phone.normalise_phone


# -- coaches -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """A coach acting in the coach chat; admins may act on everyone's requests."""

    coach: CoachInfo
    is_admin: bool

    def may_handle(self, req: RequestInfo) -> bool:
        return self.is_admin or req.coach_id == self.coach.id


async def actor_for(
    session: AsyncSession, settings: Settings, telegram_id: int, name: str, *, now: datetime
) -> Actor | None:
    """The coach behind a Telegram user, from the database (admins: from ADMIN_IDS), or None."""
    repo = CoachRepository(session)
    if telegram_id in settings.admin_ids:
        admin = await repo.ensure(telegram_id, name[:64] or str(telegram_id), now=now)
        return Actor(admin, True)
    coach = await repo.active(telegram_id)
    return Actor(coach, False) if coach is not None else None


async def coach_id(
    session: AsyncSession, settings: Settings, telegram_id: int, name: str, *, now: datetime
) -> int | None:
    """The id of the active coach behind a Telegram user (see :func:`actor_for`), or None."""
    actor = await actor_for(session, settings, telegram_id, name, now=now)
    return actor.coach.id if actor is not None else None


# -- creating a request --------------------------------------------------------------------


def _sensitive_keys(app: App) -> set[str]:
    return {
        step.save_as
        for dialog in app.content.dialogs.dialogs.values()
        for step in dialog.steps
        if isinstance(step, InputStep) and step.sensitive
    }


def _text(value: Any, limit: int) -> str | None:
    if value in (None, "", []):
        return None
    return str(value).strip()[:limit] or None


def new_request(
    app: App, person: PersonInfo, answers: Mapping[str, Any], first_name: str | None
) -> NewRequest:
    """What goes into a request, from the conversation's answers."""
    share = str(answers.get("share_answers", "no")).casefold() in YES
    shared: dict[str, Any] | None = None
    if share:
        hidden = HANDOFF_KEYS | {"language"} | set(ROUTING_KEYS) | _sensitive_keys(app)
        shared = {
            k: v for k, v in answers.items() if k not in hidden and v not in (None, "", [])
        } or None
    contact = str(answers.get("contact_method") or "chat")
    phone = None
    if contact == "phone" and str(answers.get("phone_consent", "")).casefold() in YES:
        typed = _text(answers.get("phone"), 32)
        if typed is not None:
            phone = normalise_phone(typed) or typed
    return NewRequest(
        person_id=person.id,
        language=person.language,
        first_name=_text(first_name, 64),
        topic=str(answers.get("handoff_topic") or "other")[:32],
        contact_method=contact[:16],
        details=_text(answers.get("handoff_details"), 2000),
        phone=phone,
        meeting_preference=_text(answers.get("meeting_preference"), 16)
        if contact == "meeting"
        else None,
        share_answers=share,
        municipality=_text(answers.get("municipality"), 64),
        age_group=_text(answers.get("age_group"), 32),
        shared_answers=shared,
    )


async def create_request(
    session: AsyncSession,
    app: App,
    person: PersonInfo,
    answers: Mapping[str, Any],
    first_name: str | None,
    *,
    now: datetime,
) -> tuple[RequestInfo, bool]:
    """Store the request and queue its card, in the caller's transaction.

    Returns (request, created); a person with an open request gets that one back instead.
    """
    handoff = HandoffRepository(session)
    existing = await handoff.open_for_person(person.id)
    if existing is not None:
        return existing, False
    new = new_request(app, person, answers, first_name)
    request_id = await handoff.create(new, now=now)
    if request_id is None:  # pragma: no cover - one person's turns are serialised
        existing = await handoff.open_for_person(person.id)
        assert existing is not None
        return existing, False
    await OutboxRepository(session).enqueue(
        f"card:{request_id}", CARD, request_id=request_id, now=now
    )
    await StatsRepository(session).record("handoff_requested", _dims(new), at=now)
    request = await handoff.get(request_id)
    assert request is not None
    return request, True


def _dims(req: NewRequest | RequestInfo, **extra: Any) -> dict[str, Any]:
    return {
        "topic": req.topic,
        "contact": req.contact_method,
        "language": req.language,
        "municipality": req.municipality,
        "age_group": req.age_group,
        **extra,
    }


# -- telling the person --------------------------------------------------------------------


async def tell_person(
    session: AsyncSession,
    req: RequestInfo,
    text: str,
    *,
    key: str | None = None,
    feedback: bool = False,
    relay_id: int | None = None,
    copy_from: tuple[int, int] | None = None,
    now: datetime,
) -> bool:
    """Queue a message to the person of ``req`` (False if the request was anonymised)."""
    if req.person_telegram_id is None:
        return False
    payload: dict[str, Any] = {"text": text}
    if feedback:
        payload["feedback"] = True
    if relay_id is not None:
        payload["relay_id"] = relay_id
    if copy_from is not None:
        payload["copy_chat"], payload["copy_message"] = copy_from
    return await OutboxRepository(session).enqueue(
        key or f"person:{req.id}:{uuid.uuid4().hex[:16]}",
        TO_PERSON,
        payload=payload,
        request_id=req.id,
        chat_id=req.person_telegram_id,
        now=now,
    )


def _t(app: App, req: RequestInfo, key: str, **params: Any) -> str:
    return app.t(key, req.person_language, **params)


def _how(app: App, req: RequestInfo) -> str:
    method = req.contact_method if req.contact_method in ("chat", "phone", "meeting") else "chat"
    return _t(app, req, f"handoff.how_{method}")


# -- buttons on a card ---------------------------------------------------------------------


@dataclass(slots=True)
class Pressed:
    """What a card button did: the toast for the coach and how to redraw the card."""

    toast: str
    params: dict[str, Any] = field(default_factory=dict)
    alert: bool = False
    #: the request after the press (its card is redrawn, unless ``prompt``), or None
    request: RequestInfo | None = None
    mode: str = cards.MAIN
    #: send a "write your reply" prompt
    prompt: bool = False
    #: the request was closed: close its forum topic
    closed: bool = False
    #: something was queued for the outbox
    queued: bool = False


async def press(
    session: AsyncSession,
    app: App,
    actor: Actor,
    op: str,
    request_id: int,
    arg: str,
    *,
    now: datetime,
) -> Pressed:
    """Carry out a card button for a coach whose right to press it is already established."""
    handoff = HandoffRepository(session)
    req = await handoff.get(request_id)
    if req is None:
        return Pressed("coach.stale", alert=True)
    if op == cards.CLAIM:
        return await _claim(session, app, actor, req, now=now)
    if op == cards.BACK:
        await _audit(session, actor, audit.VIEW, req.id, now=now)
        return Pressed("coach.ok", request=req)
    if req.status == CLOSED:
        return Pressed("coach.already_closed", alert=True, request=req)
    if req.status == NEW:
        return Pressed("coach.not_claimed", alert=True, request=req)
    if not actor.may_handle(req):
        return Pressed("coach.not_yours", {"coach": req.coach_name or "?"}, alert=True)
    if op == cards.REPLY:
        return Pressed("coach.reply_hint", request=req, prompt=True)
    if op == cards.SAVED:
        if not handoff_content(app).saved_replies:
            return Pressed("coach.no_saved_replies", alert=True)
        return Pressed("coach.choose_saved", request=req, mode=cards.SAVED_LIST)
    if op == cards.SEND_SAVED:
        return await _send_saved(session, app, actor, req, arg, now=now)
    if op == cards.RELEASE:
        await handoff.release(req.id)
        await _audit(session, actor, audit.RELEASE, req.id, now=now)
        await tell_person(session, req, _t(app, req, "handoff.released"), now=now)
        return Pressed("coach.released_ok", request=await handoff.get(req.id), queued=True)
    if op == cards.CLOSE:
        return Pressed("coach.choose_outcome", request=req, mode=cards.CLOSING)
    if op == cards.OUTCOME and arg in cards.OUTCOMES:
        pressed = await _close(session, app, req, arg, now=now)
        if pressed.closed:
            await _audit(session, actor, audit.CLOSE, req.id, now=now)
        return pressed
    return Pressed("coach.stale", alert=True)


async def _audit(
    session: AsyncSession, actor: Actor, action: str, request_id: int, *, now: datetime
) -> None:
    """One audit entry: which coach did what to which request (never what was written)."""
    await AuditRepository(session).record(
        action, actor_id=actor.coach.telegram_id, request_id=request_id, at=now
    )


async def _claim(
    session: AsyncSession, app: App, actor: Actor, req: RequestInfo, *, now: datetime
) -> Pressed:
    handoff = HandoffRepository(session)
    if not await handoff.claim(req.id, actor.coach.id, now=now):
        fresh = await handoff.get(req.id) or req
        if fresh.status == CLAIMED and fresh.coach_id == actor.coach.id:
            return Pressed("coach.already_yours", request=fresh)
        if fresh.status == CLAIMED:
            return Pressed(
                "coach.claimed_by_other", {"coach": fresh.coach_name or "?"}, True, fresh
            )
        return Pressed("coach.already_closed", alert=True, request=fresh)
    claimed = await handoff.get(req.id)
    assert claimed is not None
    await _audit(session, actor, audit.CLAIM, req.id, now=now)
    # Someone has it in hand: a card whose delivery was never confirmed needs no decision now.
    await OutboxRepository(session).skip_unknown_cards(req.id)
    text = _t(app, claimed, "handoff.claimed", coach=actor.coach.name, how=_how(app, claimed))
    await tell_person(session, claimed, text, now=now)
    await StatsRepository(session).record("handoff_claimed", _dims(claimed), at=now)
    return Pressed(
        "coach.claimed_ok", {"name": claimed.first_name or "?"}, request=claimed, queued=True
    )


async def _send_saved(
    session: AsyncSession, app: App, actor: Actor, req: RequestInfo, reply_id: str, *, now: datetime
) -> Pressed:
    reply = handoff_content(app).saved_reply(reply_id)
    if reply is None:
        return Pressed("coach.stale", alert=True, request=req)
    body = reply.text_in(req.person_language, app.settings.default_language)
    relay_id = await RelayRepository(session).log(
        req.id, TO_PERSON_DIR, "saved_reply", text=body, coach_id=actor.coach.id, now=now
    )
    text = _t(app, req, "handoff.from_coach", coach=actor.coach.name, text=body)
    await tell_person(session, req, text, key=f"relay:{relay_id}", relay_id=relay_id, now=now)
    await HandoffRepository(session).touch(req.id, now=now)
    await _audit(session, actor, audit.RELAY, req.id, now=now)
    return Pressed("coach.saved_sent", request=req, queued=True)


async def _close(
    session: AsyncSession, app: App, req: RequestInfo, outcome: str, *, now: datetime
) -> Pressed:
    handoff = HandoffRepository(session)
    if not await handoff.close(req.id, outcome, now=now):
        return Pressed("coach.already_closed", alert=True, request=await handoff.get(req.id))
    closed = await handoff.get(req.id)
    assert closed is not None
    text = _t(app, closed, "handoff.closed", coach=closed.coach_name or "")
    text += "\n\n" + _t(app, closed, "handoff.feedback_question")
    await tell_person(session, closed, text, key=f"closed:{req.id}", feedback=True, now=now)
    await StatsRepository(session).record("handoff_closed", _dims(closed, outcome=outcome), at=now)
    await followup.after_request_closed(
        session, app.settings, person_id=closed.person_id, request_id=closed.id, now=now
    )
    return Pressed("coach.closed_ok", request=closed, closed=True, queued=True)


# -- relaying ------------------------------------------------------------------------------


def chunks(text: str, size: int = RELAY_CHUNK) -> list[str]:
    """Pieces of ``text`` that fit one message each (cut at line or word ends)."""
    return split_text(text, size)


#: a person writing while their request waits for a coach hears "sent" once per burst: when
#: they wrote nothing to the coach for this long
ACK_QUIET = timedelta(minutes=10)


async def acknowledgement_due(session: AsyncSession, req: RequestInfo, *, now: datetime) -> bool:
    """Whether a message the person is about to send starts a new burst (call before
    :func:`relay_from_person`): only then are they told it was passed on."""
    recent = await RelayRepository(session).count_since(req.id, TO_COACH, now - ACK_QUIET)
    return recent == 0


async def relay_from_person(
    session: AsyncSession,
    req: RequestInfo,
    kind: str,
    text: str | None,
    *,
    person_chat_id: int,
    person_message_id: int,
    edited: bool = False,
    now: datetime,
) -> int:
    """Log a message the person wrote (or corrected: ``edited``) and queue it to the coach
    chat; returns the relay id."""
    relay_id = await RelayRepository(session).log(
        req.id,
        TO_COACH,
        kind,
        text=text,
        coach_id=req.coach_id,
        person_message_id=person_message_id,
        now=now,
    )
    outbox = OutboxRepository(session)
    base: dict[str, Any] = {
        "relay_id": relay_id,
        "person_chat": person_chat_id,
        "person_message": person_message_id,
    }
    if edited:
        base["edited"] = True
    if kind == "text":
        parts = chunks(text or "")
        for i, part in enumerate(parts):
            payload = {**base, "text": part, "part": i + 1, "parts": len(parts)}
            await outbox.enqueue(
                f"relay:{relay_id}:{i}", RELAY_IN, payload=payload, request_id=req.id, now=now
            )
    else:
        payload = {**base, "caption": (text or "")[:900]}
        await outbox.enqueue(
            f"relay:{relay_id}:0", RELAY_IN, payload=payload, request_id=req.id, now=now
        )
    await HandoffRepository(session).touch(req.id, now=now)
    return relay_id


async def relay_from_coach(
    session: AsyncSession,
    app: App,
    actor: Actor,
    req: RequestInfo,
    kind: str,
    text: str | None,
    *,
    coach_chat_id: int,
    coach_message_id: int,
    now: datetime,
) -> int:
    """Log a coach's message and queue it to the person, marked with the coach's name."""
    relay_id = await RelayRepository(session).log(
        req.id,
        TO_PERSON_DIR,
        kind,
        text=text,
        coach_id=actor.coach.id,
        coach_chat_message_id=coach_message_id,
        now=now,
    )
    name = actor.coach.name
    if kind == "text":
        parts = chunks(text or "")
        for i, part in enumerate(parts):
            body = _t(app, req, "handoff.from_coach", coach=name, text=part)
            await tell_person(
                session, req, body, key=f"relay:{relay_id}:{i}", relay_id=relay_id, now=now
            )
    else:
        caption = _t(app, req, "handoff.from_coach", coach=name, text=text or "").strip()
        await tell_person(
            session,
            req,
            caption[:1024],
            key=f"relay:{relay_id}:0",
            relay_id=relay_id,
            copy_from=(coach_chat_id, coach_message_id),
            now=now,
        )
    await HandoffRepository(session).touch(req.id, now=now)
    await _audit(session, actor, audit.RELAY, req.id, now=now)
    return relay_id


async def give_feedback(
    session: AsyncSession, person: PersonInfo, request_id: int, score: int, *, now: datetime
) -> RequestInfo | None:
    """Store the person's 1-5 answer to "did this help?"; None if not theirs or not closed."""
    handoff = HandoffRepository(session)
    if not 1 <= score <= 5 or not await handoff.set_feedback(request_id, person.id, score):
        return None
    req = await handoff.get(request_id)
    if req is not None:
        await StatsRepository(session).record(
            "handoff_feedback", _dims(req, outcome=req.outcome, score=score), at=now
        )
    return req


# -- erasure -------------------------------------------------------------------------------


async def queue_scrubs(session: AsyncSession, request_ids: Iterable[int], *, now: datetime) -> None:
    """Queue the removal of these requests' messages from the coach chat (their person's data
    was erased); the outbox does it after the commit (:func:`bot.features.handoff.outbox.kick`)."""
    outbox = OutboxRepository(session)
    for request_id in request_ids:
        await outbox.enqueue(f"scrub:{request_id}", SCRUB, request_id=request_id, now=now)
