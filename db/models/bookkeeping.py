"""What the bot keeps for itself: handled updates, updates set aside, job leases and anonymous
counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class ProcessedUpdate(Base):
    """Updates whose effects are committed: a re-delivered update is skipped."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DeadLetter(Base):
    """An update the bot could not read or handle, set aside so that the others go on.

    Ids and the error only, never what the update said: the update itself is not kept.
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: None when not even the update's id could be read
    update_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    #: the chat it came from, when that could be read
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    #: ``decode`` (unreadable as it came) or ``handle`` (its handling kept failing)
    stage: Mapped[str] = mapped_column(String(16))
    #: the exception's type and a short message without any of the update's content
    error: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class JobLease(Base):
    """Which worker runs a scheduled job, until when: one row per job name.

    A worker takes the lease with a conditional UPDATE (free, expired, or already its own), so
    of several workers exactly one runs the job in each tick; a dead worker's lease runs out.
    """

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    acquired_at: Mapped[datetime] = mapped_column()
    #: passes run under leases of this name (for the operator's curiosity and the tests)
    runs: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """Anonymous counters for statistics (kept when people erase their data)."""

    __tablename__ = "stat_events"
    __table_args__ = (Index("ix_stat_events_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: non-identifying dimensions (municipality, age group, language, dialog …)
    dims: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
