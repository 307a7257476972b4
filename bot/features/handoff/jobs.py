"""The handoff's background jobs: outbox delivery, and the timers that keep requests from
being forgotten — re-announcing unclaimed requests, reminding the coach of a silent one, and
the morning digest. Timers only queue messages (with keys that make each one happen once,
however many workers run the job); the outbox delivers them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from aiogram import Bot

from bot.app import App
from bot.runtime.scheduler import Scheduler
from bot.telegram.handlers.errors import where
from db.repositories import (
    CLAIMED,
    NEW,
    SENT,
    UNKNOWN,
    HandoffRepository,
    OutboxRepository,
    RequestInfo,
)

from . import cards
from .cards import Labels
from .office_hours import OfficeHours
from .outbox import JOB as OUTBOX_JOB
from .outbox import deliver_outbox, kick
from .roster import JOB as ROSTER_JOB
from .roster import CoachRoster
from .section import handoff_content

__all__ = ["OUTBOX_JOB", "TIMERS_JOB", "handoff_timers", "register"]
from .service import DIGEST, GROUP_TEXT, REANNOUNCE

log = logging.getLogger(__name__)

TIMERS_JOB = "handoff.timers"
OUTBOX_EVERY = 5.0
TIMERS_EVERY = 60.0
FORGET_PAYLOADS_AFTER = timedelta(days=2)


async def handoff_timers(app: App, bot: Bot) -> int:
    """Queue the re-announcements, reminders and digest that are due; returns how many.

    Each request's timers run in a transaction of their own: one request that fails (any
    exception type) is logged with its id and tried again at the next tick; the others go on.
    """
    now = app.clock()
    office = handoff_content(app).office
    labels = Labels(app)
    async with app.db.read() as session:
        open_requests = await HandoffRepository(session).open_requests()
    queued = 0
    for req in open_requests:
        try:
            queued += await _request_timers(app, labels, office, req, now)
        except Exception as exc:
            log.error(
                "handoff timers: request %s failed: %s at %s",
                req.id,
                type(exc).__name__,
                where(exc),
            )
    try:
        queued += await _digest(app, labels, office, open_requests, now)
    except Exception as exc:
        log.error("handoff timers: the digest failed: %s at %s", type(exc).__name__, where(exc))
    if queued:
        kick(app)
    return queued


async def _request_timers(
    app: App, labels: Labels, office: OfficeHours, req: RequestInfo, now: datetime
) -> int:
    """A re-announcement or a reminder for ``req`` if one is due; returns how many queued."""
    if req.status == NEW:
        waited = office.working_hours_between(req.announced_at, now)
        if waited < office.reannounce_after_hours:
            return 0
        async with app.db.transaction() as session:
            handoff = HandoffRepository(session)
            outbox = OutboxRepository(session)
            # Only once the card is out (or its fate unknown): a card still queued needs no
            # second one behind it.
            if await outbox.status_of_card(req.id) not in (SENT, UNKNOWN):
                return 0
            if await handoff.mark_announced(req.id, previous=req.reannouncements, now=now):
                key = f"reannounce:{req.id}:{req.reannouncements + 1}"
                return int(await outbox.enqueue(key, REANNOUNCE, request_id=req.id, now=now))
        return 0
    if req.status == CLAIMED:
        if req.reminded_at is not None and req.reminded_at >= req.last_activity_at:
            return 0
        days = office.working_days_between(req.last_activity_at, now)
        if days < office.remind_after_days or not office.is_open(now):
            return 0
        key = f"remind:{req.id}:{int(req.last_activity_at.timestamp())}"
        html = cards.reminder_text(labels, req, days)
        async with app.db.transaction() as session:
            queued = await OutboxRepository(session).enqueue(
                key, GROUP_TEXT, payload={"html": html}, request_id=req.id, now=now
            )
            await HandoffRepository(session).mark_reminded(req.id, now=now)
        return int(queued)
    return 0


async def _digest(
    app: App, labels: Labels, office: OfficeHours, open_requests: list[RequestInfo], now: datetime
) -> int:
    """The morning digest, once a day; returns how many queued (0 or 1)."""
    if not office.digest_due(now):
        return 0
    day = office.local(now).date().isoformat()
    key = f"digest:{day}"
    async with app.db.transaction() as session:
        handoff = HandoffRepository(session)
        outbox = OutboxRepository(session)
        if await outbox.by_key(key) is not None:
            return 0
        since = await outbox.last_sent_of_kind(DIGEST) or now - timedelta(days=1)
        unclaimed = [r for r in open_requests if r.status == NEW]
        overdue = [
            r
            for r in open_requests
            if (
                r.status == NEW
                and office.working_hours_between(r.created_at, now) > office.answer_within_hours
            )
            or (
                r.status == CLAIMED
                and office.working_days_between(r.last_activity_at, now) >= office.remind_after_days
            )
        ]
        html = cards.digest_text(
            labels,
            now,
            new_count=await handoff.created_since(since),
            unclaimed=unclaimed,
            overdue=overdue,
        )
        queued = await outbox.enqueue(key, DIGEST, payload={"html": html}, now=now)
        # once a day: what relayed messages said is kept in relay_messages (the conversation
        # history); the outbox's copy is only needed until delivery
        await outbox.forget_payloads(FORGET_PAYLOADS_AFTER, now=now)
    return int(queued)


def register(scheduler: Scheduler, roster: CoachRoster | None = None) -> None:
    """Add the handoff jobs to a running bot's scheduler (with ``roster``, the dispatcher's
    coach roster: read at start and every :data:`~.roster.TTL_S` in this worker)."""
    scheduler.every(OUTBOX_EVERY, OUTBOX_JOB, deliver_outbox)
    scheduler.every(TIMERS_EVERY, TIMERS_JOB, handoff_timers)
    if roster is not None:
        scheduler.every(roster.ttl, ROSTER_JOB, roster.job, local=True)
