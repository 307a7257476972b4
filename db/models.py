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
    #: JSON text of the value (a string, a number or a list of strings)
    value: Mapped[str] = mapped_column(Text)
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
    data: Mapped[str] = mapped_column(Text, default="{}")
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
