"""The pipelined polling loop (bot/runtime/polling.py) against a scripted Telegram that, like the real
one, hands out every update from the offset on until the offset moves past it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, Update, User

from bot.runtime.polling import CONCURRENCY, Pipeline, poll
from bot.telegram.limits.local import OutgoingLimiter
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from db import Database
from db.migrate import upgrade

TOKEN = "42:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz"


def message_update(update_id: int, chat_id: int, text: str) -> Update:
    return Update(
        update_id=update_id,
        message=Message(
            message_id=update_id,
            date=datetime(2026, 11, 28, tzinfo=UTC),
            chat=Chat(id=chat_id, type="private"),
            from_user=User(id=chat_id, is_bot=False, first_name="Testi"),
            text=text,
        ),
    )


class ScriptedTelegram(BaseSession):
    """getUpdates only: an offset confirms (drops) the updates before it."""

    def __init__(self, updates: list[Update]) -> None:
        super().__init__()
        self.pending = list(updates)
        self.offsets: list[int | None] = []
        self.handed_out: Counter[int] = Counter()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - BaseSession's signature
    ) -> Any:
        assert isinstance(method, GetUpdates)
        self.offsets.append(method.offset)
        if method.offset is not None:
            self.pending = [u for u in self.pending if u.update_id >= method.offset]
        batch = self.pending[: method.limit or 100]
        if not batch:
            await asyncio.sleep(0.01)  # a (very short) long poll
        self.handed_out.update(u.update_id for u in batch)
        return [u.model_dump(mode="json", exclude_none=True) for u in batch]  # as JSON

    async def close(self) -> None:
        return None

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError


class Recorder:
    """A dispatcher whose handler records what it handles; texts in ``gates`` wait for them."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[int] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.dispatcher = Dispatcher()

        @self.dispatcher.message()
        async def handle(message: Message, event_update: Update) -> None:
            self.started.append(event_update.update_id)
            gate = self.gates.get(message.text or "")
            if gate is not None:
                await gate.wait()
            self.finished.append(event_update.update_id)


async def until(condition: Any, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - conditions of several kinds
            await asyncio.sleep(0.005)


async def run_poll(
    recorder: Recorder, telegram: ScriptedTelegram
) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    bot = Bot(TOKEN, session=telegram)
    task = asyncio.create_task(
        poll(recorder.dispatcher, bot, stop=stop, allowed_updates=["message"], timeout=1)
    )
    return stop, task


async def test_other_chats_go_on_while_one_update_is_slow_and_the_offset_waits_for_it() -> None:
    recorder = Recorder()
    recorder.gates["slow"] = asyncio.Event()
    telegram = ScriptedTelegram(
        [message_update(1, 501, "slow"), message_update(2, 502, "a"), message_update(3, 503, "b")]
    )
    stop, task = await run_poll(recorder, telegram)
    await until(lambda: sorted(recorder.finished) == [2, 3])
    await asyncio.sleep(0.3)  # several fetches while update 1 is still running
    assert recorder.started == [1, 2, 3]
    assert 1 not in recorder.finished
    # never confirmed past the unfinished update 1 (offset None or 1 only)
    assert set(telegram.offsets) <= {None, 1}
    assert telegram.handed_out[1] >= 2  # it really was handed out again meanwhile

    recorder.gates["slow"].set()
    await until(lambda: 4 in telegram.offsets)  # now everything is confirmed
    stop.set()
    await asyncio.wait_for(task, 5)
    assert Counter(recorder.started) == {1: 1, 2: 1, 3: 1}  # none handled twice
    assert telegram.pending == []


async def test_updates_of_one_chat_run_in_order_one_at_a_time() -> None:
    recorder = Recorder()
    recorder.gates["first"] = asyncio.Event()
    telegram = ScriptedTelegram(
        [
            message_update(10, 601, "first"),
            message_update(11, 602, "other chat"),
            message_update(12, 601, "second"),
            message_update(13, 601, "third"),
        ]
    )
    stop, task = await run_poll(recorder, telegram)
    await until(lambda: 11 in recorder.finished)
    await asyncio.sleep(0.1)
    assert recorder.started == [10, 11]  # 12 and 13 wait behind 10, their chat's first
    recorder.gates["first"].set()
    await until(lambda: len(recorder.finished) == 4)
    assert [u for u in recorder.finished if u != 11] == [10, 12, 13]
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_stop_finishes_updates_in_flight_then_confirms_them() -> None:
    recorder = Recorder()
    recorder.gates["slow"] = asyncio.Event()
    telegram = ScriptedTelegram([message_update(20, 701, "slow"), message_update(21, 702, "a")])
    stop, task = await run_poll(recorder, telegram)
    await until(lambda: recorder.finished == [21])
    stop.set()
    await asyncio.sleep(0.1)
    assert not task.done()  # waits for update 20
    assert 22 not in telegram.offsets
    recorder.gates["slow"].set()
    await asyncio.wait_for(task, 5)
    assert recorder.finished == [21, 20]
    assert telegram.offsets[-1] == 22  # the clean stop confirmed both


async def test_pipeline_drops_redelivered_and_already_confirmed_updates() -> None:
    recorder = Recorder()
    recorder.gates["slow"] = asyncio.Event()
    pipeline = Pipeline(recorder.dispatcher, Bot(TOKEN, session=ScriptedTelegram([])))
    first = [message_update(30, 801, "slow"), message_update(31, 802, "a")]
    assert pipeline.submit(first) == 2
    assert pipeline.offset == 30
    await until(lambda: recorder.finished == [31])
    assert pipeline.offset == 30  # 30 is still running
    pipeline.forget_confirmed(30)
    # Telegram hands out 30 and 31 again, plus a new one: only the new one is taken
    assert pipeline.submit([*first, message_update(32, 803, "b")]) == 1
    recorder.gates["slow"].set()
    await pipeline.join()
    assert pipeline.offset == 33
    pipeline.forget_confirmed(33)
    assert pipeline.submit([message_update(31, 802, "a")]) == 0  # before the confirmed offset
    assert Counter(recorder.started) == {30: 1, 31: 1, 32: 1}


async def test_with_every_slot_taken_and_as_many_waiting_the_loop_does_not_fetch() -> None:
    """Under load a fetch would only hand out the waiting updates again: the loop waits until
    fewer than CONCURRENCY updates wait for a slot, then fetches again."""
    recorder = Recorder()
    recorder.gates["slow"] = asyncio.Event()
    count = 2 * CONCURRENCY + 2  # every slot taken, and more than as many waiting
    telegram = ScriptedTelegram([message_update(100 + n, 1_000 + n, "slow") for n in range(count)])
    stop, task = await run_poll(recorder, telegram)
    await until(lambda: len(recorder.started) == CONCURRENCY)
    await asyncio.sleep(0.4)  # several fetches' worth of time while saturated
    assert len(telegram.offsets) == 1
    assert max(telegram.handed_out.values()) == 1  # nothing was handed out twice

    recorder.gates["slow"].set()
    await until(lambda: len(recorder.finished) == count)
    await until(lambda: 100 + count in telegram.offsets)  # then confirmed as usual
    stop.set()
    await asyncio.wait_for(task, 5)
    assert Counter(recorder.started) == {100 + n: 1 for n in range(count)}


async def test_one_chats_queue_does_not_count_as_load() -> None:
    """Updates queued behind their own chat's running update are not waiting for a slot: one
    person's burst does not stop the loop from fetching everyone else's updates."""
    recorder = Recorder()
    recorder.gates["slow"] = asyncio.Event()
    burst = [message_update(200 + n, 2_000, "slow") for n in range(3 * CONCURRENCY)]
    telegram = ScriptedTelegram(burst)
    stop, task = await run_poll(recorder, telegram)
    await until(lambda: recorder.started == [200])
    telegram.pending.append(message_update(300, 3_000, "someone else"))
    await until(lambda: 300 in recorder.finished)  # fetched and handled meanwhile
    assert recorder.started == [200, 300]
    recorder.gates["slow"].set()
    await until(lambda: len(recorder.finished) == len(burst) + 1)
    stop.set()
    await asyncio.wait_for(task, 5)


class CommittingRecorder(Recorder):
    """Handlers that commit their update (the real unit of work on SQLite), then either send
    through an outgoing limiter that makes them wait ("limited") or wait for a gate."""

    def __init__(self, db: Database, limiter: OutgoingLimiter) -> None:
        super().__init__()
        self.dispatcher = Dispatcher()

        @self.dispatcher.message()
        async def handle(message: Message, event_update: Update) -> None:
            self.started.append(event_update.update_id)
            async with UnitOfWork(db, event_update.update_id).transaction():
                pass
            if message.text == "limited":
                await limiter.acquire(message.chat.id)  # the burst of one
                await limiter.acquire(message.chat.id)  # waits half a second
            else:
                gate = self.gates.get(message.text or "")
                if gate is not None:
                    await gate.wait()
            self.finished.append(event_update.update_id)


async def committing_pipeline(tmp_path: Path) -> tuple[CommittingRecorder, Pipeline, Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'slots.sqlite3'}")
    await upgrade(db)
    limiter = OutgoingLimiter(global_per_second=0, private_per_second=2.0, private_burst=1.0)
    recorder = CommittingRecorder(db, limiter)
    pipeline = Pipeline(recorder.dispatcher, Bot(TOKEN), concurrency=1)
    return recorder, pipeline, db


async def test_a_committed_update_waiting_for_the_send_limit_gives_its_slot_back(
    tmp_path: Path,
) -> None:
    """One slot: the first update's reply waits for its chat's send limit, so the second
    person's update is handled meanwhile (waiting uses no CPU and no database)."""
    recorder, pipeline, db = await committing_pipeline(tmp_path)
    pipeline.submit([message_update(1, 501, "limited"), message_update(2, 502, "quick")])
    await until(lambda: recorder.finished == [2, 1])
    await pipeline.join()
    await db.dispose()


async def test_a_committed_update_busy_otherwise_keeps_its_slot_until_it_finishes(
    tmp_path: Path,
) -> None:
    """One slot: an update still working after its commit (not waiting for the limit) is not
    overtaken: new updates would otherwise delay the older ones' replies, and with them the
    offset that confirms everyone's updates."""
    recorder, pipeline, db = await committing_pipeline(tmp_path)
    recorder.gates["slow"] = asyncio.Event()
    pipeline.submit([message_update(1, 501, "slow"), message_update(2, 502, "quick")])
    await until(lambda: recorder.started == [1])
    await asyncio.sleep(0.2)
    assert recorder.started == [1]  # the second waits for the slot
    recorder.gates["slow"].set()
    await until(lambda: recorder.finished == [1, 2])
    await pipeline.join()
    await db.dispose()
