"""``urapolku run --webhook --workers 2``: real processes behind one port (gunicorn).

The parent registers the webhook once and starts two workers on the socket it bound; every
update posted to the port is answered once; ``/healthz`` answers and ``/metrics``, asked of
whichever worker, adds up both workers' counts; a worker that dies is replaced, and so is one
that hangs (stopped with SIGSTOP: no heartbeat for WORKER_TIMEOUT seconds); SIGTERM stops
everything cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.telegram.standin import BotAPIStub
from db import Database
from db.models import Person
from tests.support import REDIS_URL, ROOT, fresh_postgres, reachable

TOKEN = "123456:WORKERS-token-abcdefghijklmnop"
SECRET = "workers-secret_1"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc to find the workers")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples (every label) in Prometheus's text format."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


async def wait_for(predicate: object, what: str, timeout: float = 180.0) -> None:  # noqa: ASYNC109
    """Until ``predicate()``; generous, because a start-up (migration child, imports) on a
    machine busy with the rest of the suite has taken over a minute."""
    assert callable(predicate)
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["sqlite", "postgresql+redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment that selects the database (and conversation state store)."""
    if request.param == "sqlite":
        return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"}
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    database = await fresh_postgres()  # skips when PostgreSQL is unreachable
    url = database.url
    await database.dispose()
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    return {"DATABASE_URL": url, "REDIS_URL": REDIS_URL}


async def test_two_workers_behind_one_port(backend: dict[str, str]) -> None:
    port = free_port()
    async with BotAPIStub(token=TOKEN) as stub:
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
            **backend,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": stub.base_url,
            "ENVIRONMENT": "development",
            "WEBHOOK_URL": "https://bot.example.org/telegram",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "LOG_LEVEL": "WARNING",
            "WORKER_TIMEOUT": "4",
        }
        parent = subprocess.Popen(  # noqa: ASYNC220 - a process we signal and watch
            [sys.executable, "-m", "bot", "run", "--webhook", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        try:
            await wait_for(lambda: len(children(parent.pid)) == 2 or parent.poll(), "workers")
            assert parent.poll() is None, parent.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            # registered once, by the parent
            assert len(stub.calls_of("setWebhook")) == 1
            assert stub.webhook is not None
            assert stub.webhook["secret_token"] == SECRET

            people = [stub.user(6000 + i, first_name="Web") for i in range(12)]
            url = f"http://127.0.0.1:{port}/telegram"
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with aiohttp.ClientSession() as http:

                async def post(update: dict[str, object]) -> int:
                    for _ in range(100):  # the workers may still be starting
                        try:
                            async with http.post(url, json=update, headers=headers) as response:
                                return response.status
                        except aiohttp.ClientConnectionError:
                            await asyncio.sleep(0.2)
                    raise AssertionError("the workers never answered")

                for person in people:
                    await person.send("/start")
                updates = stub.take_updates()
                assert len(updates) == len(people)
                statuses = await asyncio.gather(*(post(update) for update in updates))
                for update in updates:
                    stub.confirm_update(int(update["update_id"]))  # type: ignore[call-overload]
                assert statuses == [200] * len(people)
                # Telegram re-sends one (its answer got lost): handled once all the same
                assert await post(updates[0]) == 200

                # curl http://127.0.0.1:PORT/healthz and /metrics, on the webhook's port
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert (response.status, await response.json()) == (200, {"status": "ok"})
                for _ in range(4):  # whichever worker answers: both workers' counts
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        assert response.status == 200
                        assert response.content_type == "text/plain"
                        text = await response.text()
                    # 12 first updates and the re-sent one went through a dispatcher
                    assert metric(text, "urapolku_updates_handled_total") == len(people) + 1
                    assert metric(text, "urapolku_handler_errors_total") == 0
                    assert metric(text, "urapolku_send_limiter_wait_seconds_count") == len(people)
                    assert 'urapolku_open_requests{status="new"} 0.0' in text
            for person in people:
                [reply] = stub.chat_messages(person.chat_id)[-1:]
                assert reply.text == "Valitse kieli · Välj språk · Choose language"
            assert len(stub.calls_of("sendMessage")) == len(people)
            # the workers' database is the one the backend named: each person once
            database = Database(backend["DATABASE_URL"])
            try:
                async with database.read() as session:
                    count = await session.scalar(select(func.count()).select_from(Person))
            finally:
                await database.dispose()
            assert count == len(people)

            # a worker dies: the parent starts another one
            first, second = children(parent.pid)
            os.kill(first, signal.SIGKILL)
            await wait_for(
                lambda: len(children(parent.pid)) == 2 and first not in children(parent.pid),
                "a new worker",
            )
            assert second in children(parent.pid)

            # a worker hangs (its event loop stops): it is killed and replaced
            third = next(pid for pid in children(parent.pid) if pid != second)
            os.kill(second, signal.SIGSTOP)
            await wait_for(
                lambda: len(children(parent.pid)) == 2 and second not in children(parent.pid),
                "the hung worker replaced",
            )
            assert third in children(parent.pid)
        finally:
            parent.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(parent.wait, 60)
            stderr = parent.stderr.read().decode() if parent.stderr else ""  # type: ignore[union-attr]
        assert code == 0, stderr[-3000:]
