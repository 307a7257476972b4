"""Long polling (:func:`poll`) that confirms an update to Telegram only after it has been handled.

The offset sent to Telegram never passes the oldest update still being handled, so a crash
means re-delivery, which the unit-of-work middleware makes harmless (its "handled" mark is
committed with the update's effects, and an update re-delivered after that is skipped);
aiogram's own polling confirms a batch while it may still be in progress. Updates of one chat
run one after another in Telegram's order, replies included; different chats run
concurrently, at most :data:`CONCURRENCY` at a time (:class:`Pipeline`).

A crowd. An update whose effects are committed
(:func:`~bot.telegram.middlewares.unit_of_work.on_marked`) gives its slot back as soon as one of
its replies has to wait for the outgoing limiter (:func:`~bot.telegram.limits.local.on_limit_wait`):
what is left is waiting for Telegram's pace, not for the CPU or the database, so the replies
queue in the limiter instead of holding the slots.
``getUpdates`` hands out at most ``limit`` updates from the offset; with half that many known
past the oldest update still being handled, the offset passes the updates whose effects are
committed (a re-delivery would skip them anyway; a crash loses their replies, which only a
crowd risks), so that newer updates — a button press, say — can be fetched at once instead of
waiting for the replies ahead of them. A button press is
answered as it arrives, before it waits for its chat's earlier updates or for a slot
(:mod:`bot.telegram.presses`); its turn follows in order. A flood or an unwanted command is
refused as it arrives (:mod:`bot.telegram.arrival`): it is never queued, and the offset passes it.

Because the offset stays behind updates in flight, Telegram hands out later ones again: they
are dropped by ``update_id`` before being parsed (:class:`~bot.telegram.session.GetRawUpdates`).
A fetch that brings nothing new is not repeated until the offset can move or a short pause has
passed, and while every slot is taken and as many updates wait for one, the loop does not
fetch at all (it would mostly get the same updates again, and nothing it brings could start
sooner).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.runtime.health import Liveness
from bot.telegram.arrival import ADMITTED, ArrivalGate, Verdict
from bot.telegram.limits.local import on_limit_wait
from bot.telegram.middlewares.unit_of_work import on_marked
from bot.telegram.poison import DeadLetters, UnreadableUpdate, read_update, update_id_of
from bot.telegram.presses import PressAnswers
from bot.telegram.session import GetRawUpdates

log = logging.getLogger(__name__)

#: with updates in flight and nothing new in the last fetch: fetch again after this at the latest
RECHECK_S = 0.25
#: with every slot taken and as many updates waiting: fetch again after this at the latest
SATURATED_RECHECK_S = 1.0
#: with updates in flight, fetches are at least this far apart (each hands them out again)
BUSY_GAP_S = 0.05
#: updates handled at the same time (of different chats). More do not finish sooner: they
#: share one CPU and SQLite's one writer, and each update then takes as long as all of them.
CONCURRENCY = 8
#: updates one ``getUpdates`` hands out at most (Telegram's limit)
FETCH_LIMIT = 100
#: an update that takes longer than this is logged (something is stuck or overloaded)
SLOW_S = 2.0


def chat_key(update: Update) -> int:
    """The chat an update belongs to (updates without one are their own group)."""
    for event in (update.message, update.edited_message):
        if event is not None:
            return event.chat.id
    if update.callback_query is not None:
        message = update.callback_query.message
        return message.chat.id if message is not None else update.callback_query.from_user.id
    if update.my_chat_member is not None:
        return update.my_chat_member.chat.id
    return -update.update_id


class Pipeline:
    """Updates being handled, per chat in order, and the offset that is safe to confirm.

    ``submit`` takes the updates of a fetch; ``offset`` is what the next ``getUpdates`` may
    send: the oldest unfinished update (with half of ``lookahead`` or more known past it, the
    oldest one not committed yet), or one past the newest seen when all are finished.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        concurrency: int = CONCURRENCY,
        lookahead: int = FETCH_LIMIT,
    ) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self._slots = asyncio.Semaphore(concurrency)
        #: update ids at or after the confirmed offset that are queued, running or finished
        self._known: set[int] = set()
        #: ... of which these are not finished yet
        self._unfinished: set[int] = set()
        #: ... and these not committed either
        self._uncommitted: set[int] = set()
        self._lookahead = lookahead
        #: updates holding a slot, waiting for one, or about to ask for one
        self._wanting = 0
        self._newest: int | None = None
        #: the last offset sent: Telegram does not hand out anything before it again
        self._floor = 0
        self._queues: dict[int, deque[Update]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        #: chats whose next update is waiting for a free slot
        self._ready = 0
        self._concurrency = concurrency
        self.presses = PressAnswers.of(bot)
        self.dead_letters = DeadLetters.of(dispatcher, bot)
        #: floods and refusals, judged as updates arrive (None: everything is handled)
        self.gate = ArrivalGate.of(dispatcher)
        #: set when the oldest unfinished or uncommitted update is done with (the offset may move)
        self.progress = asyncio.Event()
        #: set when fewer updates wait for a slot than there are slots (worth fetching again)
        self.room = asyncio.Event()
        self.room.set()

    @property
    def busy(self) -> bool:
        return bool(self._unfinished)

    @property
    def saturated(self) -> bool:
        """Every slot is taken and at least as many updates wait for one."""
        return self._ready >= self._concurrency

    @property
    def offset(self) -> int | None:
        """The offset to send: everything before it has been handled (or, with a crowd
        queued, at least committed)."""
        if self._unfinished:
            oldest = min(self._unfinished)
            # A fetch from ``oldest`` would bring more than half a fetch of new updates: wait
            # for it to finish. (Waiting until a fetch would bring nothing new at all makes
            # a crowd crawl: the oldest finishes at Telegram's send pace, and each fetch from
            # it brings one or two new updates.)
            known_past = sum(1 for update_id in self._known if update_id >= oldest)
            if 2 * known_past < self._lookahead:
                return oldest
            if self._uncommitted:
                return min(self._uncommitted)
        return None if self._newest is None else self._newest + 1

    def submit(self, updates: Iterable[dict[str, Any] | Update]) -> int:
        """Queue the updates not seen before (raw JSON or parsed); returns how many were new."""
        new = 0
        for raw in updates:
            update_id = update_id_of(raw)
            if update_id is None or update_id in self._known or update_id < self._floor:
                continue  # handed out again because an older update is still in flight (or no id)
            update = read_update(raw, self.bot)
            new += 1
            self._known.add(update_id)
            self._unfinished.add(update_id)
            self._uncommitted.add(update_id)
            if self._newest is None or update_id > self._newest:
                self._newest = update_id
            if isinstance(update, UnreadableUpdate):
                self._set_aside(update, raw)
                continue
            key = chat_key(update)
            queue = self._queues.get(key)
            if not self._admit(update, queue):
                continue  # refused as it arrived: confirmed with the next offset, never queued
            # A press that would wait for its chat's earlier updates, or for a slot, is
            # answered now.
            waits = queue is not None or self._wanting >= self._concurrency
            self.presses.arrived(self.bot, update, waits=waits)
            if queue is not None:
                queue.append(update)  # that chat's worker takes it after the ones before it
                continue
            self._queues[key] = deque([update])
            self._wanting += 1  # the new worker asks for a slot as soon as it runs
            worker = asyncio.create_task(self._drain(key))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        return new

    def _set_aside(self, unreadable: UnreadableUpdate, raw: Any) -> None:
        """An update that cannot be read becomes a dead letter; once that is recorded it
        counts as finished, and the offset moves past it (:mod:`bot.telegram.poison`)."""

        async def record() -> None:
            try:
                await self.dead_letters.set_aside(unreadable, raw)
            finally:
                self._done_with(self._uncommitted, unreadable.update_id)
                self._done_with(self._unfinished, unreadable.update_id)

        worker = asyncio.create_task(record())
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    def _admit(self, update: Update, queue: deque[Update] | None) -> bool:
        """Ask the arrival gate (:mod:`bot.telegram.arrival`) before ``update`` queues. A
        refused update is done with at once. When a person's flood begins, what of theirs is
        still waiting behind their update in progress is dropped too: it would hold the
        offset, and with it every other chat, until the replies ahead of it are out."""
        if self.gate is None:
            return True
        waiting = len(queue) - 1 if queue else 0
        verdict = self.gate.admit(self.bot, update, backlog=waiting)
        if verdict is Verdict.PASS:
            return True
        self._unfinished.discard(update.update_id)
        self._uncommitted.discard(update.update_id)
        if verdict is Verdict.SLOW_DOWN and queue:
            while len(queue) > 1:  # the first is in progress (or about to be)
                dropped = queue.pop()
                self.presses.finished(dropped)
                self._done_with(self._uncommitted, dropped.update_id)
                self._done_with(self._unfinished, dropped.update_id)
        self.progress.set()
        return False

    def forget_confirmed(self, offset: int) -> None:
        """Telegram will not hand out updates before ``offset`` again."""
        if offset > self._floor:
            self._floor = offset
            self._known = {update_id for update_id in self._known if update_id >= offset}

    async def _drain(self, key: int) -> None:
        queue = self._queues[key]
        loop = asyncio.get_running_loop()
        try:
            while queue:
                update = queue[0]
                started = loop.time()
                try:
                    await self._handle(update)
                except Exception:
                    # The error boundary handles handler failures; this is the last resort.
                    log.exception("update %s could not be handled", update.update_id)
                finally:
                    took = loop.time() - started
                    if took > SLOW_S:
                        log.warning("update %s took %.1f s", update.update_id, took)
                    queue.popleft()
                    self.presses.finished(update)
                    if queue:
                        self._wanting += 1  # the next one asks for a slot
        finally:
            del self._queues[key]

    async def _handle(self, update: Update) -> None:
        """Handle ``update`` in a slot, which it gives back when it is finished or, once its
        effects are committed, as soon as one of its replies waits for the outgoing limiter
        (waiting uses neither the CPU nor the database). Giving it back at the commit itself
        would let new updates overtake the replies of older ones even when nothing waits:
        older updates then finish later, the offset confirms them later, and a run with no
        limit to wait for loses a third of its throughput."""
        holding = False
        wanting = True  # counted in _wanting when it was queued
        committed = False

        def give_back() -> None:
            nonlocal holding, wanting
            if holding:
                holding = False
                self._slots.release()
            if wanting:
                wanting = False
                self._wanting -= 1

        def marked() -> None:
            nonlocal committed
            committed = True
            self._done_with(self._uncommitted, update.update_id)

        def waits_for_limit() -> None:
            if committed:  # before the commit the slot may hold SQLite's write lock
                give_back()

        try:
            await self._take_slot()
            holding = True
            with on_marked(marked), on_limit_wait(waits_for_limit):
                await self.dispatcher.feed_update(self.bot, update, **ADMITTED)
        finally:
            give_back()
            self._done_with(self._uncommitted, update.update_id)
            self._done_with(self._unfinished, update.update_id)

    def _done_with(self, updates: set[int], update_id: int) -> None:
        """``update_id`` leaves ``updates``; the offset may move if it was the oldest."""
        if update_id not in updates:
            return
        oldest = min(updates) == update_id
        updates.discard(update_id)
        if oldest:
            self.progress.set()

    async def _take_slot(self) -> None:
        """Wait for a free slot; meanwhile the update counts as ready (see :attr:`saturated`)."""
        self._count_ready(+1)
        try:
            await self._slots.acquire()
        finally:
            self._count_ready(-1)

    def _count_ready(self, change: int) -> None:
        self._ready += change
        if self.saturated:
            self.room.clear()
        else:
            self.room.set()

    async def join(self) -> None:
        """Wait until every update taken so far is finished (and its press answered)."""
        while self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
        await self.presses.join()
        if self.gate is not None:
            await self.gate.join()


async def poll(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    stop: asyncio.Event,
    allowed_updates: list[str],
    timeout: int = 25,  # noqa: ASYNC109 - the long-poll timeout sent to Telegram
    limit: int = FETCH_LIMIT,
    liveness: Liveness | None = None,
) -> None:
    """Poll until ``stop`` is set; updates in progress are always finished first."""
    pipeline = Pipeline(dispatcher, bot, lookahead=limit)
    backoff = 1.0
    while not stop.is_set():
        offset = pipeline.offset
        pipeline.progress.clear()
        request = asyncio.ensure_future(
            bot(
                GetRawUpdates(
                    offset=offset,
                    # with updates in flight Telegram answers at once anyway (they are pending)
                    timeout=0 if pipeline.busy else timeout,
                    limit=limit,
                    allowed_updates=allowed_updates,
                )
            )
        )
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({request, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if request not in done:
            request.cancel()  # unconfirmed updates in that answer come again next time
            await asyncio.gather(request, return_exceptions=True)
            break
        stopper.cancel()
        try:
            updates = request.result()
        except TelegramUnauthorizedError:
            await pipeline.join()
            raise
        except TelegramRetryAfter as exc:
            await _sleep(stop, exc.retry_after)
            continue
        except (TelegramNetworkError, TelegramServerError) as exc:
            log.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        except Exception as exc:  # an answer that cannot be read: never stop polling for it
            log.error(
                "getUpdates: unreadable answer (%s); retrying in %.0fs", type(exc).__name__, backoff
            )
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = 1.0
        if liveness is not None:
            liveness.beat()  # /healthz: the loop fetches (bot/runtime/health.py)
        if offset is not None:
            pipeline.forget_confirmed(offset)
        new = pipeline.submit(updates)
        await asyncio.sleep(0)  # the new updates' workers take their slots (or queue for them)
        if pipeline.saturated:
            # Enough is queued for every slot: fetch again once a few of them have started.
            await _wait_any(stop, pipeline.room, SATURATED_RECHECK_S)
        elif new == 0 and pipeline.busy:
            # Nothing new: what came back is in flight. Ask again once the offset can move on.
            await _wait_any(stop, pipeline.progress, RECHECK_S)
        elif pipeline.busy:
            await _sleep(stop, BUSY_GAP_S)  # let a few more arrive than one at a time
    await pipeline.join()
    offset = pipeline.offset
    if offset is not None:
        # Confirm what was handled so it is not delivered again after a clean stop.
        try:
            await bot(
                GetUpdates(offset=offset, timeout=0, limit=1, allowed_updates=allowed_updates)
            )
        except Exception as exc:  # a failed confirmation only means a harmless re-delivery
            log.warning("could not confirm the last updates: %s", type(exc).__name__)


async def _wait_any(stop: asyncio.Event, event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` or ``stop`` is set, or ``seconds`` have passed."""
    waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())}
    _done, pending = await asyncio.wait(
        waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
    )
    for waiter in pending:
        waiter.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
