"""What is decided about an update as it arrives, before it waits in any queue.

The polling loop (:mod:`bot.runtime.polling`) and the webhook (:mod:`bot.runtime.webhook`) ask
:meth:`ArrivalGate.admit` as soon as an update comes in, before it waits behind its chat's
earlier updates or for a handling slot. An update refused there is confirmed to Telegram without
being handled (polling: the offset passes it as if handled; webhook: it is answered 200 at
once): it holds no chat's queue, no slot, no place in ``getUpdates``'s window of 100 and no
webhook connection, and it writes nothing to the database. What is refused:

* a flood (:class:`~bot.telegram.limits.local.FloodControl`): a person's updates beyond the
  flood limit, counted when they arrive (or, for a message that waited at Telegram, when it was
  sent), and any beyond a backlog of updates still waiting to be handled; the first of a flood
  gets "slow down", dropped button presses a silent answer;
* what a feature refuses (``refusals``, given by the factory): the handoff refuses commands in
  the coaches' group from people who are not coaches
  (:class:`~bot.features.handoff.roster.CoachRoster`), without a database read.

The same gate is the dispatcher's first outer middleware: an update fed without the runtime
(the tests, the terminal chat) is judged there, as it is handled. An update the runtime has
judged is fed with :data:`ADMITTED` and passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.types import TelegramObject, Update

from bot.telegram.limits.local import FloodControl, Verdict

__all__ = ["ADMITTED", "JUDGED", "ArrivalGate", "Verdict"]

#: handler data: the update was judged by :meth:`ArrivalGate.admit` when it arrived
JUDGED = "arrival_judged"
#: what the runtime feeds an admitted update with (``dispatcher.feed_update(bot, update, **ADMITTED)``)
ADMITTED: Mapping[str, Any] = {JUDGED: True}
#: dispatcher data: the gate
GATE = "arrival_gate"
#: a message sent this long before it arrives (a backlog after a pause or a restart) counts
#: for flood control when it was sent; a newer one when it arrives (its date is in whole
#: seconds, too coarse to count by)
WAITED_S = 5.0

#: a feature's refusal: True when the update is not to be handled at all
Refusal = Callable[[Update], bool]


def _age(update: Update) -> float:
    """Seconds since the update's message was sent, if it waited long (see :data:`WAITED_S`)."""
    message = update.message or update.edited_message
    if message is None:
        return 0.0
    sent = message.date.timestamp()
    if update.edited_message is not None and message.edit_date:
        sent = float(message.edit_date)
    age = time.time() - sent
    return age if age > WAITED_S else 0.0


class ArrivalGate(BaseMiddleware):
    """Flood control and the features' refusals, as updates arrive (see the module)."""

    def __init__(
        self,
        flood: FloodControl | None,
        refusals: Sequence[Refusal] = (),
        *,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.flood = flood
        self.refusals = list(refusals)
        #: the dispatcher's data (the ``app``), for the answers to what is refused at arrival
        self.data: Mapping[str, Any] = data if data is not None else {}
        #: updates refused by a feature
        self.refused = 0
        self._answers: set[asyncio.Task[None]] = set()

    def install(self, dispatcher: Dispatcher) -> None:
        """Register as ``dispatcher``'s first outer middleware of our own; findable by :meth:`of`."""
        self.data = dispatcher.workflow_data
        dispatcher.workflow_data[GATE] = self
        dispatcher.update.outer_middleware(self)

    @classmethod
    def of(cls, dispatcher: Dispatcher) -> ArrivalGate | None:
        """``dispatcher``'s gate (None: it has none, everything is admitted)."""
        found = dispatcher.workflow_data.get(GATE)
        return found if isinstance(found, cls) else None

    def judge(self, update: Update, *, backlog: int = 0) -> Verdict:
        """Whether ``update`` may be handled; ``backlog``: updates of its chat still waiting."""
        for refuses in self.refusals:
            if refuses(update):
                self.refused += 1
                return Verdict.DROP
        if self.flood is None:
            return Verdict.PASS
        context = UserContextMiddleware.resolve_event_context(update)
        if context.user is None or context.chat is None or context.chat.type != "private":
            return Verdict.PASS
        return self.flood.judge(context.user.id, age=_age(update), backlog=backlog)

    def admit(self, bot: Bot, update: Update, *, backlog: int = 0) -> Verdict:
        """:meth:`judge` as ``update`` arrives; a refused update's answer ("slow down", or a
        silent answer to a press) is sent meanwhile, without waiting for anything queued."""
        verdict = self.judge(update, backlog=backlog)
        if verdict is not Verdict.PASS and self.flood is not None:
            context = UserContextMiddleware.resolve_event_context(update)
            data = {
                **self.data,
                "bot": bot,
                "event_from_user": context.user,
                "event_chat": context.chat,
            }
            answer = asyncio.create_task(self.flood.refuse(update, data, verdict))
            self._answers.add(answer)
            answer.add_done_callback(self._answers.discard)
        return verdict

    async def join(self) -> None:
        """Wait for the answers to refused updates still on their way."""
        await asyncio.gather(*self._answers, return_exceptions=True)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if data.get(JUDGED) or not isinstance(event, Update):
            return await handler(event, data)
        verdict = self.judge(event)  # not judged as it arrived: judged now, as it comes
        if verdict is Verdict.PASS:
            return await handler(event, data)
        if self.flood is not None:
            await self.flood.refuse(event, data, verdict)
        return None
