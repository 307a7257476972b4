"""Consent to saving the person's answers: the one place that records it, whichever way it is
given (the onboarding's question, signing up for an event, "my data", the question asked again
after a new version of the consent text). Other features use consent through this module.

* :meth:`ConsentService.grant` — yes, to the current version; what the person said earlier in
  this conversation is kept from now on, choices readable (the reports count them) and
  everything else encrypted;
* :meth:`ConsentService.refuse` — no, before anything was saved;
* :meth:`ConsentService.withdraw` — no more: the saved answers and "not for me" choices go.

Works inside the caller's transaction and knows nothing of Telegram: the caller marks the
turn's ``services.consent`` and tells the person (:func:`confirmation`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from db.repositories import AnswerRepository, PersonRepository, PrivacyRepository, StatsRepository

#: the anonymous counter of a withdrawal (reports)
WITHDRAWN = "consent_withdrawn"
#: what the person is told after a withdrawal ({count}: the answers removed)
WITHDRAWN_TEXT = "privacy.withdraw.done"


def confirmation(agreed: bool) -> str:
    """The text key that tells the person what their answer means."""
    return "consent.saved" if agreed else "consent.not_saved"


class ConsentService:
    def __init__(
        self, session: AsyncSession, *, version: int, plain_keys: Collection[str], now: datetime
    ) -> None:
        self.session = session
        #: the version of the consent text being agreed to
        self.version = version
        #: answers stored readable (choice answers, see ``App.plain_answer_keys``)
        self.plain_keys = plain_keys
        self.now = now

    @classmethod
    def of(cls, session: AsyncSession, app: App, *, now: datetime | None = None) -> ConsentService:
        """The service with the app's consent version, answer keys and clock."""
        return cls(
            session,
            version=app.settings.consent_version,
            plain_keys=app.plain_answer_keys,
            now=now if now is not None else app.clock(),
        )

    async def grant(
        self, person_id: int, *, dialog: str = "", answers: Mapping[str, Any] | None = None
    ) -> None:
        """Record the yes; ``answers`` (given in ``dialog``) are kept from now on."""
        await PersonRepository(self.session).set_consent(person_id, self.version, now=self.now)
        if answers:
            await self.keep(person_id, dialog, answers)

    async def refuse(self, person_id: int) -> None:
        """Record the no: nothing is saved."""
        await PersonRepository(self.session).set_consent(person_id, None, now=self.now)

    async def withdraw(self, person_id: int) -> int:
        """Stop saving and remove what was saved; returns how many answers were removed."""
        removed = await PrivacyRepository(self.session).withdraw_consent(person_id, now=self.now)
        await StatsRepository(self.session).record(WITHDRAWN, {}, at=self.now)
        return removed

    async def keep(self, person_id: int, dialog: str, answers: Mapping[str, Any]) -> None:
        """Store answers: choices readable, what people type encrypted."""
        repo = AnswerRepository(self.session)
        for key, value in answers.items():
            await repo.save(
                person_id, dialog, key, value, now=self.now, plain=key in self.plain_keys
            )
