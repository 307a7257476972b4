"""Database tables. The database knows people by our own id; Telegram ids are just a column.

Nothing here knows about Telegram or aiogram: the bot maps its world onto these rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .types import EncryptedJSON, EncryptedText


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Person(Base):
    """Someone who has talked to the bot."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    language: Mapped[str] = mapped_column(String(8))
    #: version of the consent text the person agreed to; None = no consent (answers not kept)
    consent_version: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the person answered the consent question (yes or no)
    consent_decided_at: Mapped[datetime | None] = mapped_column(default=None)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: the person blocked the bot (Telegram answered 403); cleared when they write again
    blocked_at: Mapped[datetime | None] = mapped_column(default=None)


class Answer(Base):
    """The latest answer of a person to one question, kept only with consent."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("person_id", "key", name="uq_answers_person_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    dialog: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(48))
    #: JSON text of a choice answer (option ids: plain, for the reports' SQL counts); NULL when
    #: the answer is in ``private_value``
    value: Mapped[str | None] = mapped_column(Text, default=None)
    #: JSON text of anything else (what the person typed), encrypted (see docs/SECURITY.md)
    private_value: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """Updates whose effects are committed: a re-delivered update is skipped."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConversationStateRow(Base):
    """Key-value store behind the conversation (FSM) storage."""

    __tablename__ = "conversation_states"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: whose conversation it is (for erasure); the bot decides what the number means
    subject: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    state: Mapped[str | None] = mapped_column(String(128), default=None)
    #: JSON text, encrypted: it holds the answers of the dialog in progress
    data: Mapped[str] = mapped_column(EncryptedText, default="{}")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """Anonymous counters for statistics (kept when people erase their data)."""

    __tablename__ = "stat_events"
    __table_args__ = (Index("ix_stat_events_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: non-identifying dimensions (municipality, age group, language, dialog …)
    dims: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- handoff to a human coach ------------------------------------------------------------------


class Coach(Base):
    """Someone who answers handoff requests. Removing a coach keeps the row (their name stays on
    the requests they handled); ``removed_at`` marks them as no longer a coach."""

    __tablename__ = "coaches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the Telegram id of the admin who added them; None from the command line or ADMIN_IDS
    added_by: Mapped[int | None] = mapped_column(BigInteger, default=None)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)


class HandoffRequest(Base):
    """A person's request to talk to a coach.

    ``person_id`` is set to NULL when the person erases their data; the personal columns
    (first name, details, phone, shared answers) are blanked at the same time by
    ``HandoffRepository.anonymise_person``, so what remains (topic, municipality, outcome,
    dates) still counts in the reports without pointing at anyone.
    """

    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True, default=None
    )
    #: the person's id while the request is open, NULL once closed: a unique column, so the
    #: database itself refuses a second open request for the same person (on every backend)
    open_person_id: Mapped[int | None] = mapped_column(Integer, unique=True, default=None)
    #: new -> claimed -> closed (a release goes back to new)
    status: Mapped[str] = mapped_column(String(12), index=True)
    language: Mapped[str] = mapped_column(String(8))
    #: first_name, details, phone and shared_answers are encrypted (docs/SECURITY.md)
    first_name: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    topic: Mapped[str] = mapped_column(String(32))
    details: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    contact_method: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    meeting_preference: Mapped[str | None] = mapped_column(String(16), default=None)
    share_answers: Mapped[bool] = mapped_column(default=False)
    municipality: Mapped[str | None] = mapped_column(String(64), default=None)
    age_group: Mapped[str | None] = mapped_column(String(32), default=None)
    #: the earlier answers the person agreed to show the coach, as they were at the request
    shared_answers: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: last time the request was announced to the coach group (the card or a re-announcement)
    announced_at: Mapped[datetime] = mapped_column(default=utcnow)
    reannouncements: Mapped[int] = mapped_column(Integer, default=0)
    coach_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaches.id", ondelete="SET NULL"), index=True, default=None
    )
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: last message either way (or the claim); silence is measured from here
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    #: the person's answer to "did this help?", 1-5
    feedback: Mapped[int | None] = mapped_column(Integer, default=None)
    #: where the card is: the coach chat, its message and (in a forum) the request's topic
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    topic_thread_id: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    anonymised_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxMessage(Base):
    """A message to deliver to Telegram at least once and at most once.

    The row is written in the same transaction as the change it announces (a unique ``key``
    makes enqueueing idempotent); a background job delivers it. ``status``: ``pending`` (due at
    ``next_attempt_at``), ``sending`` (claimed by a worker until ``next_attempt_at``), ``sent``,
    ``held`` (Telegram refused it, e.g. 403: retried slowly, admins told), ``unknown`` (the
    outcome of a send is not known: never repeated automatically, admins decide), ``skipped``.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoff_requests.id", ondelete="CASCADE"), index=True, default=None
    )
    #: where to: a chat id, or NULL for "the coach chat" (read from the settings at send time)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: encrypted: it carries relayed texts and names until it is sent (and forgotten)
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: the kind of the last failure (never message content)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)


class RelayMessage(Base):
    """One message relayed between a person and a coach: who, when, which way."""

    __tablename__ = "relay_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("handoff_requests.id", ondelete="CASCADE"), index=True
    )
    #: to_coach (the person wrote) or to_person (a coach wrote)
    direction: Mapped[str] = mapped_column(String(12))
    coach_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaches.id", ondelete="SET NULL"), default=None
    )
    #: text, photo, document or saved_reply
    kind: Mapped[str] = mapped_column(String(16))
    #: the text or caption, kept as the conversation history (blanked on erasure); encrypted
    text: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: queued, sent, failed or blocked (the person has blocked the bot)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    person_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    coach_chat_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)


class HandoffLink(Base):
    """A bot message in the coach chat that belongs to a request (a card, a reply prompt, a
    relayed message): button presses on it and replies to it are mapped through here, never
    through what the message or its buttons say."""

    __tablename__ = "handoff_links"

    telegram_chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    telegram_message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("handoff_requests.id", ondelete="CASCADE"), index=True
    )
    #: card, prompt or relay
    kind: Mapped[str] = mapped_column(String(12))


# -- events and trainings ----------------------------------------------------------------------


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


# -- scale-out (issue 8) ----------------------------------------------------------------------


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


# -- follow-ups and attendance (issue 7) -------------------------------------------------------


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
        ForeignKey("coaches.id", ondelete="SET NULL"), default=None
    )


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


# -- audit log (issue 5) -----------------------------------------------------------------------


class AuditEntry(Base):
    """Who on the staff did what with which handoff request, and when (``urapolku audit``).

    Never message texts and never a person's Telegram id: the request id is enough to find the
    request, and a request loses what identifies its person when they erase their data, so an
    audit row points at nobody once that has happened. ``actor_id`` is the Telegram id of the
    coach or admin (staff), NULL for the command line.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_at", "actor_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: view, claim, release, relay, close, coach_added, coach_removed
    action: Mapped[str] = mapped_column(String(24))
    #: the request acted on (no foreign key: the entry outlives the request)
    request_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    #: coach_added / coach_removed: the Telegram id of that coach (staff, never a person)
    target_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
