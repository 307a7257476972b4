"""Follow-up check-ins ("how are you doing now?")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class Followup(Base):
    """A "how are you doing now?" check-in, sent once at ``due_at`` by a background job.

    ``source_kind`` is ``request`` (a closed handoff request) or ``attended`` (an event
    sign-up a coach marked attended); ``source_id`` is that row's id and ``days`` the round
    (e.g. 14 or 90): unique together, so each round of each source is scheduled once.
    ``status``: ``pending`` → ``sending`` (claimed) → ``sent`` → ``answered``; or ``skipped``
    (consent withdrawn, blocked, busy for too long, …) or ``failed`` (Telegram refused it, or
    the outcome of the send is unknown). Erasing the person deletes their rows (cascade).
    """

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("source_kind", "source_id", "days", name="uq_followups_source_round"),
        Index("ix_followups_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    source_kind: Mapped[str] = mapped_column(String(12))
    source_id: Mapped[int] = mapped_column(Integer)
    days: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the kind of the last failure or skip (never message content)
    last_error: Mapped[str | None] = mapped_column(String(64), default=None)
