"""The outbox: messages to deliver to Telegram exactly once, written in the transaction of the
change they announce and sent by a background job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import OutboxMessage, utcnow
from .common import insert, rowcount


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    key: str
    kind: str
    request_id: int | None
    telegram_chat_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    telegram_message_id: int | None
    last_error: str | None


def _outbox_item(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        key=row.key,
        kind=row.kind,
        request_id=row.request_id,
        telegram_chat_id=row.telegram_chat_id,
        payload=dict(row.payload or {}),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        telegram_message_id=row.telegram_message_id,
        last_error=row.last_error,
    )


#: outbox statuses
PENDING, SENDING, SENT, HELD, UNKNOWN, SKIPPED = (
    "pending",
    "sending",
    "sent",
    "held",
    "unknown",
    "skipped",
)


class OutboxRepository:
    """Messages to deliver exactly once. See :class:`~db.models.OutboxMessage`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(
        self,
        key: str,
        kind: str,
        *,
        payload: dict[str, Any] | None = None,
        request_id: int | None = None,
        chat_id: int | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Queue a message once: False if ``key`` was queued before (whatever became of it)."""
        now = now or utcnow()
        stmt = (
            insert(self.session, OutboxMessage)
            .values(
                key=key,
                kind=kind,
                request_id=request_id,
                telegram_chat_id=chat_id,
                payload=payload or {},
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[OutboxMessage.key])
        )
        return bool(rowcount(await self.session.execute(stmt)))

    async def get(self, item_id: int) -> OutboxItem | None:
        row = await self.session.get(OutboxMessage, item_id, populate_existing=True)
        return _outbox_item(row) if row else None

    async def by_key(self, key: str) -> OutboxItem | None:
        row = await self.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.key == key)
            .execution_options(populate_existing=True)
        )
        return _outbox_item(row) if row else None

    async def due(
        self,
        now: datetime,
        *,
        limit: int = 50,
        first: Sequence[str] = (),
        only: Sequence[str] | None = None,
    ) -> list[OutboxItem]:
        """Rows due for sending, in the order queued; the kinds in ``first`` ahead of the
        others; with ``only``, just the rows of those kinds."""
        query = select(OutboxMessage).where(
            OutboxMessage.status.in_((PENDING, HELD)), OutboxMessage.next_attempt_at <= now
        )
        if only is not None:
            query = query.where(OutboxMessage.kind.in_(only))
        if first:
            query = query.order_by(case((OutboxMessage.kind.in_(first), 0), else_=1))
        rows = await self.session.scalars(
            query.order_by(OutboxMessage.id).limit(limit).execution_options(populate_existing=True)
        )
        return [_outbox_item(r) for r in rows]

    async def claim(self, item_id: int, *, now: datetime, lease: timedelta) -> bool:
        """Take a due row for sending until ``now + lease``; False if another worker has it."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == item_id,
                OutboxMessage.status.in_((PENDING, HELD)),
                OutboxMessage.next_attempt_at <= now,
            )
            .values(
                status=SENDING,
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + lease,
            )
        )
        return bool(rowcount(result))

    async def mark_sent(
        self, item_id: int, message_id: int | None, *, now: datetime | None = None
    ) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=SENT, sent_at=now or utcnow(), telegram_message_id=message_id)
        )

    async def mark_retry(self, item_id: int, *, at: datetime, error: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=PENDING, next_attempt_at=at, last_error=error[:200])
        )

    async def defer(
        self, item_id: int, *, at: datetime, error: str, attempts: int, claimed: bool
    ) -> None:
        """After an unexpected failure: ``pending`` again at ``at``, ``attempts`` counted. A
        row that was not ``claimed`` changes only if nobody has claimed it meanwhile."""
        waiting = (SENDING,) if claimed else (PENDING, HELD)
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id, OutboxMessage.status.in_(waiting))
            .values(status=PENDING, next_attempt_at=at, attempts=attempts, last_error=error[:200])
        )

    async def mark_held(self, item_id: int, *, at: datetime, error: str) -> bool:
        """Telegram refused the message: keep it, try again at ``at``. True the first time (so
        the admins are told once, not on every slow retry)."""
        previous = await self.session.scalar(
            select(OutboxMessage.last_error).where(OutboxMessage.id == item_id)
        )
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=HELD, next_attempt_at=at, last_error=f"held:{error}"[:200])
        )
        return not (previous or "").startswith("held:")

    async def mark_unknown(self, item_id: int, *, error: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=UNKNOWN, last_error=error[:200])
        )

    async def mark_skipped(self, item_id: int, *, reason: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id)
            .values(status=SKIPPED, last_error=reason[:200])
        )

    async def expired_leases(self, now: datetime) -> list[OutboxItem]:
        """Rows whose sender vanished mid-send (a crash): their outcome is unknown."""
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == SENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
        return [_outbox_item(r) for r in rows]

    async def resend(self, item_id: int, *, now: datetime | None = None) -> bool:
        """An admin decided: send an ``unknown`` or ``held`` row again now."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == item_id, OutboxMessage.status.in_((UNKNOWN, HELD)))
            .values(status=PENDING, next_attempt_at=now or utcnow())
        )
        return bool(rowcount(result))

    async def skip_unknown_cards(self, request_id: int) -> int:
        """A coach has the request in hand: an unconfirmed card no longer needs a decision."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.request_id == request_id,
                OutboxMessage.status == UNKNOWN,
                OutboxMessage.kind.in_(("card", "reannounce")),
            )
            .values(status=SKIPPED)
        )
        return rowcount(result)

    async def skip_pending_for_chat(self, chat_id: int, *, reason: str) -> int:
        """Give up on everything still queued for ``chat_id`` (the person blocked the bot)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.telegram_chat_id == chat_id,
                OutboxMessage.status.in_((PENDING, HELD)),
            )
            .values(status=SKIPPED, last_error=reason[:200])
        )
        return rowcount(result)

    async def status_of_card(self, request_id: int) -> str | None:
        return await self.session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.key == f"card:{request_id}")
        )

    async def last_sent_of_kind(self, kind: str) -> datetime | None:
        return await self.session.scalar(
            select(func.max(OutboxMessage.created_at)).where(OutboxMessage.kind == kind)
        )

    async def forget_payloads(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Blank what delivered (or given-up) messages said, once they are ``older_than``: the
        row stays (its key keeps the message from being queued twice), the text goes."""
        cutoff = (now or utcnow()) - older_than
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status.in_((SENT, SKIPPED)),
                OutboxMessage.created_at < cutoff,
                OutboxMessage.kind.in_(("relay_in", "to_person", "group_text", "digest")),
            )
            .values(payload={})
        )
        return rowcount(result)

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: int(n) for status, n in rows}
