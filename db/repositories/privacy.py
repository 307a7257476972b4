"""The person's own data: what is stored about them (export), removing it (erase), and removing
the data of people who have not used the service for a long time (purge). The only SQL of the
privacy feature.

Everything goes through the ORM/Core column types, so columns that are encrypted at rest are
decrypted on read and never compared as plain text in SQL. What is left after an erasure is
anonymous: the ``stat_events`` counters (they have no person column) and the handoff requests'
non-identifying columns (topic, municipality, outcome, dates), which keep the reports right.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import (
    Answer,
    ConversationStateRow,
    DeadLetter,
    EventDismissal,
    EventLink,
    EventNotice,
    EventSignup,
    HandoffRequest,
    OutboxMessage,
    Person,
    RelayMessage,
)
from .common import rowcount
from .events import SIGNUP_ACTIVE, SIGNUP_WAITING
from .handoff import CLOSED, HandoffRepository

#: outbox statuses that would still be sent (they are given up when their person is erased)
_UNSENT = ("pending", "held", "unknown")
#: tables whose references to a person :meth:`PrivacyRepository.erase` handles by name
_HANDLED = frozenset(
    {"answers", "event_signups", "event_dismissals", "event_links", "handoff_requests"}
)


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    """How many of each kind of row an erasure removed (or made anonymous)."""

    answers: int = 0
    signups: int = 0
    reminders: int = 0
    dismissals: int = 0
    requests: int = 0
    messages: int = 0
    outbox: int = 0
    states: int = 0
    persons: int = 0

    def __add__(self, other: ErasureCounts) -> ErasureCounts:
        mine, theirs = asdict(self), asdict(other)
        return ErasureCounts(**{k: mine[k] + theirs[k] for k in mine})


@dataclass(frozen=True, slots=True)
class Subject:
    """A person as the privacy feature needs them: our id and the Telegram id."""

    person_id: int
    telegram_id: int


def _answer_value(answer: Answer) -> Any:
    """The decoded value of an answer, wherever the model keeps it (a choice in ``value``,
    typed text in an encrypted column when the model has one)."""
    raw = answer.value
    if raw is None:
        raw = getattr(answer, "private_value", None)
    return json.loads(raw) if raw is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- export ---------------------------------------------------------------------------

    async def export(self, person_id: int) -> dict[str, Any] | None:
        """Everything stored about the person, as plain JSON-ready data (None: no such person).

        Rows are read as ORM objects so that encrypted columns come back decrypted.
        """
        person = await self.session.get(Person, person_id, populate_existing=True)
        if person is None:
            return None
        answers = await self.session.scalars(
            select(Answer).where(Answer.person_id == person_id).order_by(Answer.id)
        )
        signups = await self.session.scalars(
            select(EventSignup)
            .where(EventSignup.person_id == person_id)
            .order_by(EventSignup.starts_at, EventSignup.id)
        )
        dismissals = await self.session.scalars(
            select(EventDismissal)
            .where(EventDismissal.person_id == person_id)
            .order_by(EventDismissal.at)
        )
        requests = list(
            await self.session.scalars(
                select(HandoffRequest)
                .where(HandoffRequest.person_id == person_id)
                .order_by(HandoffRequest.id)
            )
        )
        messages: dict[int, list[dict[str, Any]]] = {r.id: [] for r in requests}
        if requests:
            rows = await self.session.scalars(
                select(RelayMessage)
                .where(RelayMessage.request_id.in_(list(messages)))
                .order_by(RelayMessage.at, RelayMessage.id)
            )
            for row in rows:
                messages[row.request_id].append(
                    {
                        "direction": row.direction,
                        "kind": row.kind,
                        "text": row.text,
                        "at": _iso(row.at),
                    }
                )
        return {
            "person": {
                "telegram_id": person.telegram_id,
                "language": person.language,
                "first_seen": _iso(person.first_seen),
                "last_seen": _iso(person.last_seen),
                "blocked_at": _iso(person.blocked_at),
            },
            "consent": {
                "given": person.consent_version is not None,
                "version": person.consent_version,
                "decided_at": _iso(person.consent_decided_at),
            },
            "answers": [
                {
                    "dialog": a.dialog,
                    "key": a.key,
                    "value": _answer_value(a),
                    "answered_at": _iso(a.answered_at),
                }
                for a in answers
            ],
            "event_signups": [
                {
                    "item_id": s.item_id,
                    "starts_at": _iso(s.starts_at),
                    "status": s.status,
                    "created_at": _iso(s.created_at),
                }
                for s in signups
            ],
            "event_dismissals": [
                {"item_id": d.item_id, "reason": d.reason, "at": _iso(d.at)} for d in dismissals
            ],
            "coach_requests": [
                {
                    "id": r.id,
                    "status": r.status,
                    "topic": r.topic,
                    "details": r.details,
                    "first_name": r.first_name,
                    "contact_method": r.contact_method,
                    "phone": r.phone,
                    "meeting_preference": r.meeting_preference,
                    "municipality": r.municipality,
                    "age_group": r.age_group,
                    "shared_answers": r.shared_answers,
                    "created_at": _iso(r.created_at),
                    "closed_at": _iso(r.closed_at),
                    "outcome": r.outcome,
                    "feedback": r.feedback,
                    "messages": messages[r.id],
                }
                for r in requests
            ],
        }

    # -- erase ----------------------------------------------------------------------------

    async def signups_to_release(
        self, person_id: int, since: datetime
    ) -> list[tuple[str, datetime]]:
        """(item, start) of the person's seats and places in line from ``since`` on: the
        caller cancels them first, so a freed seat goes to the next in line."""
        rows = await self.session.execute(
            select(EventSignup.item_id, EventSignup.starts_at).where(
                EventSignup.person_id == person_id,
                EventSignup.starts_at >= since,
                EventSignup.status.in_((SIGNUP_ACTIVE, SIGNUP_WAITING)),
            )
        )
        return [(str(item), starts_at) for item, starts_at in rows]

    async def withdraw_consent(self, person_id: int, *, now: datetime) -> int:
        """No more saving: the stored answers and "not for me" choices go. Returns the number
        of answers removed. Sign-ups and coach requests stay (the person asked for them)."""
        await self.session.execute(
            update(Person)
            .where(Person.id == person_id)
            .values(consent_version=None, consent_decided_at=now)
        )
        await self.session.execute(
            delete(EventDismissal).where(EventDismissal.person_id == person_id)
        )
        result = await self.session.execute(delete(Answer).where(Answer.person_id == person_id))
        return rowcount(result)

    async def erase(self, subject: Subject, *, now: datetime) -> ErasureCounts:
        """Remove every row that identifies the person; their requests are kept anonymous.

        The caller cancels upcoming sign-ups first (see :meth:`signups_to_release`) and
        clears a conversation state kept outside the database (Redis).
        """
        person_id, telegram_id = subject.person_id, subject.telegram_id
        session = self.session
        request_ids = list(
            await session.scalars(
                select(HandoffRequest.id).where(HandoffRequest.person_id == person_id)
            )
        )
        messages = 0
        if request_ids:
            messages = int(
                await session.scalar(
                    select(func.count()).where(
                        RelayMessage.request_id.in_(request_ids),
                        RelayMessage.text.is_not(None),
                    )
                )
                or 0
            )
        requests = await HandoffRepository(session).anonymise_person(person_id, now=now)
        if request_ids:
            # message ids in the person's chat point at them too
            await session.execute(
                update(RelayMessage)
                .where(RelayMessage.request_id.in_(request_ids))
                .values(text=None, person_message_id=None)
            )
        # messages to the person (their chat id) and about their requests: never sent now,
        # and nothing in them points at the person
        outbox_where = OutboxMessage.telegram_chat_id == telegram_id
        if request_ids:
            outbox_where = outbox_where | OutboxMessage.request_id.in_(request_ids)
        outbox = int(await session.scalar(select(func.count()).where(outbox_where)) or 0)
        await session.execute(
            update(OutboxMessage)
            .where(outbox_where, OutboxMessage.status.in_(_UNSENT))
            .values(status="skipped", last_error="erased")
        )
        await session.execute(
            update(OutboxMessage)
            .where(outbox_where)
            .values(
                telegram_chat_id=None,
                payload={},
                telegram_message_id=None,
            )
        )
        signup_ids = select(EventSignup.id).where(EventSignup.person_id == person_id)
        reminders = rowcount(
            await session.execute(delete(EventNotice).where(EventNotice.signup_id.in_(signup_ids)))
        )
        signups = rowcount(
            await session.execute(delete(EventSignup).where(EventSignup.person_id == person_id))
        )
        dismissals = rowcount(
            await session.execute(
                delete(EventDismissal).where(EventDismissal.person_id == person_id)
            )
        )
        await session.execute(delete(EventLink).where(EventLink.person_id == person_id))
        answers = rowcount(
            await session.execute(delete(Answer).where(Answer.person_id == person_id))
        )
        states = rowcount(
            await session.execute(
                delete(ConversationStateRow).where(ConversationStateRow.subject == telegram_id)
            )
        )
        # updates set aside keep their count, not the chat they came from
        await session.execute(
            update(DeadLetter).where(DeadLetter.chat_id == telegram_id).values(chat_id=None)
        )
        await self._other_references(person_id)
        persons = rowcount(await session.execute(delete(Person).where(Person.id == person_id)))
        return ErasureCounts(
            answers=answers,
            signups=signups,
            reminders=reminders,
            dismissals=dismissals,
            requests=requests,
            messages=messages,
            outbox=outbox,
            states=states,
            persons=persons,
        )

    async def _other_references(self, person_id: int) -> None:
        """Rows of tables this module does not know (added by later features) that point at
        the person: a nullable reference is cleared, a required one is deleted with its row."""
        persons = Person.__table__
        for table in reversed(Person.metadata.sorted_tables):
            if table.name in _HANDLED:
                continue
            for fk in table.foreign_keys:
                if fk.column.table is not persons:
                    continue
                column = fk.parent
                if column.nullable:
                    await self.session.execute(
                        update(table).where(column == person_id).values({column.name: None})
                    )
                else:
                    await self.session.execute(delete(table).where(column == person_id))

    # -- retention ------------------------------------------------------------------------

    async def inactive(self, last_seen_before: datetime, *, now: datetime) -> list[Subject]:
        """People not seen since ``last_seen_before`` (blocking the bot does not refresh
        ``last_seen``, so people who blocked it are among them) — except those with a seat or
        a place in line at an occurrence still to come."""
        upcoming = exists().where(
            EventSignup.person_id == Person.id,
            EventSignup.starts_at >= now,
            EventSignup.status.in_((SIGNUP_ACTIVE, SIGNUP_WAITING)),
        )
        rows = await self.session.execute(
            select(Person.id, Person.telegram_id)
            .where(Person.last_seen < last_seen_before, ~upcoming)
            .order_by(Person.id)
        )
        return [Subject(int(pid), int(tid)) for pid, tid in rows]

    def _old_closed_requests(self, closed_before: datetime) -> Any:
        return select(HandoffRequest.id).where(
            HandoffRequest.status == CLOSED, HandoffRequest.closed_at < closed_before
        )

    async def old_relay_texts(self, closed_before: datetime) -> int:
        """How many relayed texts belong to requests closed before ``closed_before``."""
        return int(
            await self.session.scalar(
                select(func.count()).where(
                    RelayMessage.request_id.in_(self._old_closed_requests(closed_before)),
                    RelayMessage.text.is_not(None),
                )
            )
            or 0
        )

    async def forget_relay_texts(self, closed_before: datetime) -> int:
        """Blank the relayed texts (and their queued copies) of requests closed before
        ``closed_before``; the rows stay for the counts."""
        old = self._old_closed_requests(closed_before)
        count = await self.old_relay_texts(closed_before)
        await self.session.execute(
            update(RelayMessage)
            .where(RelayMessage.request_id.in_(old), RelayMessage.text.is_not(None))
            .values(text=None)
        )
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.request_id.in_(old), OutboxMessage.status.not_in(_UNSENT))
            .values(payload={})
        )
        return count
