"""Handoff to a human coach: coaches, requests, the outbox, relayed messages, links from the
coach chat, and the audit log of what the staff did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..types import EncryptedJSON, EncryptedText
from .base import Base, utcnow


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
        ForeignKey("coaches.id", ondelete="SET NULL"), index=True, default=None
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
