"""Database tables, one module per area. The database knows people by our own id; Telegram ids
are just a column. Nothing here knows about Telegram or aiogram: the bot maps its world onto
these rows.

Import them from here (``from db.models import Person``); ``Base.metadata`` holds every table
once this package is imported (Alembic's environment relies on that).
"""

from __future__ import annotations

from .base import NAMING, Base, UTCDateTime, utcnow
from .bookkeeping import DeadLetter, Event, JobLease, ProcessedUpdate
from .events import EventAttendance, EventDismissal, EventLink, EventNotice, EventSignup, EventSlot
from .followups import Followup
from .handoff import AuditEntry, Coach, HandoffLink, HandoffRequest, OutboxMessage, RelayMessage
from .people import Answer, ConversationStateRow, Person

__all__ = [
    "NAMING",
    "Answer",
    "AuditEntry",
    "Base",
    "Coach",
    "ConversationStateRow",
    "DeadLetter",
    "Event",
    "EventAttendance",
    "EventDismissal",
    "EventLink",
    "EventNotice",
    "EventSignup",
    "EventSlot",
    "Followup",
    "HandoffLink",
    "HandoffRequest",
    "JobLease",
    "OutboxMessage",
    "Person",
    "ProcessedUpdate",
    "RelayMessage",
    "UTCDateTime",
    "utcnow",
]
