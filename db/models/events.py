"""Events and trainings: occurrences, sign-ups, notices, "not for me", poster links and
attendance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class EventSlot(Base):
    """One occurrence of a catalogue item that people sign up for. Its only job is to be
    locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises
    writers anyway) while seats are counted, so two people can never take the last seat."""

    __tablename__ = "event_slots"

    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventSignup(Base):
    """A person's place at one occurrence of a catalogue item (for a course: its first
    meeting). One row per person and occurrence, whatever becomes of it: ``active`` (a seat),
    ``waiting`` (in line, ordered by ``queued_at``), ``cancelled``."""

    __tablename__ = "event_signups"
    __table_args__ = (
        UniqueConstraint("person_id", "item_id", "starts_at", name="uq_event_signups_person_slot"),
        Index("ix_event_signups_slot", "item_id", "starts_at", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the person joined the waiting list: its order
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventNotice(Base):
    """A message about a sign-up, sent once at ``due_at`` by a background job: the reminders
    (the day before, an hour before), "a place became free for you", a note to the coaches.
    ``status``: ``pending`` → ``sending`` (claimed) → ``sent``; or ``skipped`` (no longer
    needed), ``failed`` (Telegram refused it, or the outcome of the send is unknown)."""

    __tablename__ = "event_notices"
    __table_args__ = (
        UniqueConstraint("signup_id", "kind", name="uq_event_notices_signup_kind"),
        Index("ix_event_notices_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("event_signups.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the kind of the last failure (never message content)
    last_error: Mapped[str | None] = mapped_column(String(64), default=None)


class EventDismissal(Base):
    """ "Not for me" on an item, and why (lowers similar items in the person's suggestions)."""

    __tablename__ = "event_dismissals"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EventLink(Base):
    """A poster's link (``/start ev_<id>``) opened by someone who has not yet chosen a
    language and answered the consent question: the card to show them when they have."""

    __tablename__ = "event_links"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventAttendance(Base):
    """A coach marked that the person of a sign-up came (``/event`` in the coach group).
    Goes with the sign-up, and so with the person when they erase their data."""

    __tablename__ = "event_attendance"

    signup_id: Mapped[int] = mapped_column(
        ForeignKey("event_signups.id", ondelete="CASCADE"), primary_key=True
    )
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the coach who marked it (NULL if that coach row is gone)
    marked_by: Mapped[int | None] = mapped_column(
        ForeignKey("coaches.id", ondelete="SET NULL"), index=True, default=None
    )
