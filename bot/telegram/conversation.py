"""One person's conversation, one turn at a time.

A turn is: read the conversation state, let the engine decide, then in ONE transaction save the
new state, the answers (only with consent) and the "update handled" mark; only after the commit
are the replies sent. A crash before the commit loses nothing (the update is re-delivered); a
crash after it cannot make the bot act twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.engine.output import Reply, Turn
from bot.engine.runner import Engine, TurnContext
from bot.engine.state import ConversationState
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from bot.telegram.render import Delivery
from db.repositories import AnswerRepository, PersonInfo, PersonRepository

log = logging.getLogger(__name__)

Operation = Callable[
    [Engine, ConversationState, TurnContext], Awaitable[tuple[ConversationState, Turn]]
]

#: answers a person without consent keeps after a dialog ends (needed to talk to them at all)
KEPT_WITHOUT_CONSENT = frozenset({"language"})


def _left(engine: Engine, state: ConversationState, turn: Turn) -> bool:
    """The person is no longer in the dialog they gave their answers in, however they left it:
    it ended, they went to the menu, a command or a word took them elsewhere, a feature took
    the conversation over (walking into another dialog by the dialog's own steps is not
    leaving: a career plan goes on to the coach with its answers)."""
    return bool(
        turn.finished or turn.left or state.position is None or state.position == engine.home
    )


@dataclass(slots=True)
class Services:
    """What actions get as ``ctx.services``: the app, this turn's session and the person."""

    app: App
    session: AsyncSession
    person: PersonInfo
    #: set by the consent action during the turn
    consent: bool
    extra: dict[str, Any] = field(default_factory=dict)
    #: run after the turn's transaction committed (e.g. wake the outbox job); never before
    after_commit: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    async def committed(self) -> None:
        """Run the :attr:`after_commit` hooks; call once the turn's transaction committed."""
        for hook in self.after_commit:
            result = hook()
            if result is not None:
                await result


class Conversation:
    def __init__(
        self,
        app: App,
        uow: UnitOfWork,
        state: FSMContext,
        person: PersonInfo,
        bot: Bot,
        *,
        first_name: str = "",
        callback: CallbackQuery | None = None,
    ) -> None:
        self.app = app
        self.uow = uow
        self.state = state
        self.person = person
        self.bot = bot
        self.first_name = first_name
        self.callback = callback

    async def run(self, operation: Operation, *, before: list[Reply] | None = None) -> Turn:
        """Run one engine operation as a turn; ``before`` are replies sent ahead of the turn's."""
        app = self.app
        async with self.uow.transaction() as session:
            conversation = ConversationState.from_data(await self.state.get_data())
            services = Services(app, session, self.person, consent=self.person.has_consent)
            ctx = TurnContext(
                language=self.person.language,
                person_id=self.person.id,
                params={"first_name": self.first_name},
                services=services,
            )
            new_state, turn = await operation(app.engine, conversation, ctx)
            if turn.replies and new_state.told == conversation.told:
                # the person was shown something since "let's continue here": the next stale
                # press shows the question again
                new_state.told = None
            if turn.language:
                await PersonRepository(session).set_language(self.person.id, turn.language)
            if services.consent:
                answers = AnswerRepository(session)
                plain = app.plain_answer_keys  # choices; what people type is encrypted
                for dialog, key, value in turn.answered:
                    await answers.save(
                        self.person.id, dialog, key, value, now=app.clock(), plain=key in plain
                    )
            elif _left(app.engine, new_state, turn):
                # without consent, answers live only while the person is in the dialog
                new_state.answers = {
                    k: v for k, v in new_state.answers.items() if k in KEPT_WITHOUT_CONSENT
                }
            await self.state.set_data(new_state.to_data())
        await services.committed()
        if before:
            turn.replies[:0] = before
        await self.deliver(turn)
        return turn

    async def deliver(self, turn: Turn) -> None:
        delivery = Delivery(self.bot, self.person.telegram_id, self.callback)
        await delivery.send(turn)
        if delivery.blocked:
            async with self.app.db.transaction() as session:
                await PersonRepository(session).mark_blocked(self.person.telegram_id)

    def t(self, key: str, **params: Any) -> str:
        return self.app.t(key, self.person.language, first_name=self.first_name, **params)
