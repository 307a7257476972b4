"""People: who has talked to the bot, their answers and the conversation in progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..types import EncryptedText
from .base import Base, utcnow


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
