"""Repositories: the only code that writes SQL, one module per repository. Each repository
takes the session of the caller's transaction (``Repo(session)``) and returns detached data
classes, never ORM rows.

Import them from here (``from db.repositories import PersonRepository``). Shared helpers are in
:mod:`.common`; the statements every update runs, and the SQLite fast lane under them, in
:mod:`.hotpath`. The audit log's action names are read as ``audit.CLAIM`` (``from
db.repositories import audit``).
"""

from __future__ import annotations

from . import audit
from .answers import AnswerRepository
from .attendance import AttendanceRepository, AttendeeInfo
from .audit import AuditInfo, AuditRepository
from .coaches import CoachInfo, CoachRepository
from .deadletters import DECODE, HANDLE, DeadLetterCount, DeadLetterRepository
from .events import (
    ALREADY,
    FULL,
    NOTICE_FAILED,
    NOTICE_PENDING,
    NOTICE_SENDING,
    NOTICE_SENT,
    NOTICE_SKIPPED,
    QUEUED,
    SEATED,
    SIGNUP_ACTIVE,
    SIGNUP_CANCELLED,
    SIGNUP_WAITING,
    CancelResult,
    EventRepository,
    NoticeInfo,
    SeatResult,
    SignupInfo,
)
from .followups import (
    FOLLOWUP_ANSWERED,
    FOLLOWUP_FAILED,
    FOLLOWUP_PENDING,
    FOLLOWUP_SENDING,
    FOLLOWUP_SENT,
    FOLLOWUP_SKIPPED,
    SOURCE_ATTENDED,
    SOURCE_REQUEST,
    FollowupInfo,
    FollowupRepository,
)
from .gauges import Backlog, GaugeRepository
from .handoff import CLAIMED, CLOSED, NEW, HandoffRepository, NewRequest, RequestInfo
from .leases import LeaseInfo, LeaseRepository
from .links import LinkRepository
from .outbox import HELD, PENDING, SENDING, SENT, SKIPPED, UNKNOWN, OutboxItem, OutboxRepository
from .people import PersonInfo, PersonRepository
from .privacy import ErasureCounts, PrivacyRepository, Subject
from .relay import RelayRepository
from .reports import TARGET_GROUPS, Period, ReportRepository
from .states import StateRepository
from .stats import StatsRepository
from .updates import UpdateContext, UpdateRepository

__all__ = [
    "ALREADY",
    "CLAIMED",
    "CLOSED",
    "DECODE",
    "FOLLOWUP_ANSWERED",
    "FOLLOWUP_FAILED",
    "FOLLOWUP_PENDING",
    "FOLLOWUP_SENDING",
    "FOLLOWUP_SENT",
    "FOLLOWUP_SKIPPED",
    "FULL",
    "HANDLE",
    "HELD",
    "NEW",
    "NOTICE_FAILED",
    "NOTICE_PENDING",
    "NOTICE_SENDING",
    "NOTICE_SENT",
    "NOTICE_SKIPPED",
    "PENDING",
    "QUEUED",
    "SEATED",
    "SENDING",
    "SENT",
    "SIGNUP_ACTIVE",
    "SIGNUP_CANCELLED",
    "SIGNUP_WAITING",
    "SKIPPED",
    "SOURCE_ATTENDED",
    "SOURCE_REQUEST",
    "TARGET_GROUPS",
    "UNKNOWN",
    "AnswerRepository",
    "AttendanceRepository",
    "AttendeeInfo",
    "AuditInfo",
    "AuditRepository",
    "Backlog",
    "CancelResult",
    "CoachInfo",
    "CoachRepository",
    "DeadLetterCount",
    "DeadLetterRepository",
    "ErasureCounts",
    "EventRepository",
    "FollowupInfo",
    "FollowupRepository",
    "GaugeRepository",
    "HandoffRepository",
    "LeaseInfo",
    "LeaseRepository",
    "LinkRepository",
    "NewRequest",
    "NoticeInfo",
    "OutboxItem",
    "OutboxRepository",
    "Period",
    "PersonInfo",
    "PersonRepository",
    "PrivacyRepository",
    "RelayRepository",
    "ReportRepository",
    "RequestInfo",
    "SeatResult",
    "SignupInfo",
    "StateRepository",
    "StatsRepository",
    "Subject",
    "UpdateContext",
    "UpdateRepository",
    "audit",
]
