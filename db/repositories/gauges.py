"""Counts of work waiting, read for the operator's metrics (``GET /metrics``).

Read when Prometheus asks, not kept in memory: every worker sees the same database, so these
are the same whichever worker answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import HandoffRequest, OutboxMessage
from .handoff import CLAIMED, NEW
from .outbox import HELD, PENDING, SENDING, UNKNOWN


@dataclass(frozen=True, slots=True)
class Backlog:
    #: outbox messages not sent yet, by status (pending, held, sending, unknown)
    outbox: dict[str, int]
    #: requests for a coach not closed yet, by status (new, claimed)
    open_requests: dict[str, int]


class GaugeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def backlog(self) -> Backlog:
        outbox = dict.fromkeys((PENDING, HELD, SENDING, UNKNOWN), 0)
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_(tuple(outbox)))
            .group_by(OutboxMessage.status)
        )
        outbox.update({status: int(count) for status, count in rows})
        requests = dict.fromkeys((NEW, CLAIMED), 0)
        rows = await self.session.execute(
            select(HandoffRequest.status, func.count())
            .where(HandoffRequest.status.in_(tuple(requests)))
            .group_by(HandoffRequest.status)
        )
        requests.update({status: int(count) for status, count in rows})
        return Backlog(outbox=outbox, open_requests=requests)
