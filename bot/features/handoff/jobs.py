"""The handoff's background jobs: outbox delivery, and the timers that keep requests from
being forgotten — re-announcing unclaimed requests, reminding the coach of a silent one, and
the morning digest. Timers only queue messages (with keys that make each one happen once,
however many workers run the job); the outbox delivers them.
"""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot

from bot.app import App
from bot.runtime.scheduler import Scheduler
from db.repositories import CLAIMED, NEW, SENT, UNKNOWN, HandoffRepository, OutboxRepository

from . import cards
from .cards import Labels
from .outbox import JOB as OUTBOX_JOB
from .outbox import deliver_outbox, kick
from .section import handoff_content

__all__ = ["OUTBOX_JOB", "TIMERS_JOB", "handoff_timers", "register"]
from .service import DIGEST, GROUP_TEXT, REANNOUNCE

TIMERS_JOB = "handoff.timers"
OUTBOX_EVERY = 5.0
TIMERS_EVERY = 60.0
FORGET_PAYLOADS_AFTER = timedelta(days=2)


async def handoff_timers(app: App, bot: Bot) -> int:
    """Queue the re-announcements, reminders and digest that are due; returns how many."""
    now = app.clock()
    office = handoff_content(app).office
    labels = Labels(app)
    queued = 0
    async with app.db.transaction() as session:
        handoff = HandoffRepository(session)
        outbox = OutboxRepository(session)
        open_requests = await handoff.open_requests()
        for req in open_requests:
            if req.status == NEW:
                waited = office.working_hours_between(req.announced_at, now)
                if waited < office.reannounce_after_hours:
                    continue
                # Only once the card is out (or its fate unknown): a card still queued
                # needs no second one behind it.
                if await outbox.status_of_card(req.id) not in (SENT, UNKNOWN):
                    continue
                if await handoff.mark_announced(req.id, previous=req.reannouncements, now=now):
                    key = f"reannounce:{req.id}:{req.reannouncements + 1}"
                    queued += await outbox.enqueue(key, REANNOUNCE, request_id=req.id, now=now)
            elif req.status == CLAIMED:
                if req.reminded_at is not None and req.reminded_at >= req.last_activity_at:
                    continue
                days = office.working_days_between(req.last_activity_at, now)
                if days < office.remind_after_days or not office.is_open(now):
                    continue
                key = f"remind:{req.id}:{int(req.last_activity_at.timestamp())}"
                html = cards.reminder_text(labels, req, days)
                if await outbox.enqueue(
                    key, GROUP_TEXT, payload={"html": html}, request_id=req.id, now=now
                ):
                    queued += 1
                await handoff.mark_reminded(req.id, now=now)
        if office.digest_due(now):
            day = office.local(now).date().isoformat()
            key = f"digest:{day}"
            if await outbox.by_key(key) is None:
                since = await outbox.last_sent_of_kind(DIGEST) or now - timedelta(days=1)
                unclaimed = [r for r in open_requests if r.status == NEW]
                overdue = [
                    r
                    for r in open_requests
                    if (
                        r.status == NEW
                        and office.working_hours_between(r.created_at, now)
                        > office.answer_within_hours
                    )
                    or (
                        r.status == CLAIMED
                        and office.working_days_between(r.last_activity_at, now)
                        >= office.remind_after_days
                    )
                ]
                html = cards.digest_text(
                    labels,
                    now,
                    new_count=await handoff.created_since(since),
                    unclaimed=unclaimed,
                    overdue=overdue,
                )
                queued += await outbox.enqueue(key, DIGEST, payload={"html": html}, now=now)
                # once a day: what relayed messages said is kept in relay_messages (the
                # conversation history); the outbox's copy is only needed until delivery
                await outbox.forget_payloads(FORGET_PAYLOADS_AFTER, now=now)
    if queued:
        kick(app)
    return queued


def register(scheduler: Scheduler) -> None:
    """Add the handoff jobs to a running bot's scheduler."""
    scheduler.every(OUTBOX_EVERY, OUTBOX_JOB, deliver_outbox)
    scheduler.every(TIMERS_EVERY, TIMERS_JOB, handoff_timers)
