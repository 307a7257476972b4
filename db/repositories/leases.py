"""Job leases: which worker runs a scheduled job, so that of several workers one runs it.

A lease is one row per job name in ``job_leases``. A worker *acquires* it for one pass with a
conditional UPDATE that succeeds only when nobody holds an unexpired lease and the last pass
started at least ``min_interval`` ago; it *renews* it while the pass runs and *releases* it
when the pass ends. The UPDATE is the whole protocol: on PostgreSQL a second worker's UPDATE
waits for the first's row lock and then re-checks its WHERE clause against the committed row
(0 rows); on SQLite write transactions take turns (``BEGIN IMMEDIATE``). A worker that dies
mid-pass stops renewing; its lease runs out after its time-to-live and another worker takes
over. No in-process lock is involved, so this holds across processes and machines.

Times are the workers' wall clocks (UTC); workers on several machines need NTP, as always.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import JobLease
from .common import insert, rowcount


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    name: str
    holder: str
    expires_at: datetime
    acquired_at: datetime
    runs: int


class LeaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def acquire(
        self,
        name: str,
        holder: str,
        *,
        now: datetime,
        ttl: timedelta,
        min_interval: timedelta = timedelta(0),
    ) -> bool:
        """Take the lease on ``name`` until ``now + ttl``; False if another worker holds it or
        ran the job less than ``min_interval`` ago."""
        inserted = await self.session.execute(
            insert(self.session, JobLease)
            .values(name=name, holder=holder, expires_at=now + ttl, acquired_at=now, runs=1)
            .on_conflict_do_nothing(index_elements=[JobLease.name])
        )
        if rowcount(inserted):
            return True
        result = await self.session.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                JobLease.expires_at <= now,
                JobLease.acquired_at <= now - min_interval,
            )
            .values(holder=holder, expires_at=now + ttl, acquired_at=now, runs=JobLease.runs + 1)
        )
        return bool(rowcount(result))

    async def renew(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Extend a lease we hold; False if it is no longer ours (it ran out and was taken)."""
        result = await self.session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(expires_at=now + ttl)
        )
        return bool(rowcount(result))

    async def release(self, name: str, holder: str, *, now: datetime) -> bool:
        """Give the lease up at once (the pass is over); False if it was not ours."""
        result = await self.session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(expires_at=now)
        )
        return bool(rowcount(result))

    async def get(self, name: str) -> LeaseInfo | None:
        row = await self.session.scalar(
            select(JobLease).where(JobLease.name == name).execution_options(populate_existing=True)
        )
        if row is None:
            return None
        return LeaseInfo(row.name, row.holder, row.expires_at, row.acquired_at, row.runs)

    async def all(self) -> list[LeaseInfo]:
        rows = await self.session.scalars(
            select(JobLease).order_by(JobLease.name).execution_options(populate_existing=True)
        )
        return [LeaseInfo(r.name, r.holder, r.expires_at, r.acquired_at, r.runs) for r in rows]
