"""``curl`` on ``/healthz`` and ``/metrics`` of a running bot, in polling mode (HEALTH_PORT)
and in webhook mode (the webhook's port): ``urapolku run`` as a separate process against the
local Bot API stand-in, a person talking to it, and the answers read with an HTTP client.
The JSON log of the same run carries the update's id and never what the person wrote."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.telegram.standin import BotAPIStub
from tests.support import ROOT, TEST_DATA_KEY

pytestmark = pytest.mark.e2e

TOKEN = "123456:HEALTH-test-token-abcdefghijklmnop"
SECRET = "health-secret_1"
#: what the person writes; it must not reach the log
TYPED = "Minun salainen viestini 12345"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(text: str, name: str, labels: str = "") -> float:
    """The sum of a metric's samples (those whose labels contain ``labels``)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class Bot:
    """``urapolku run`` (with ``args``) against the stand-in, logging JSON to a file."""

    def __init__(self, stub: BotAPIStub, tmp_path: Path, *args: str, **env: str) -> None:
        self.args = args
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
            "BOT_TOKEN": TOKEN,
            "DATA_KEY": TEST_DATA_KEY,
            "TELEGRAM_API_URL": stub.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'health.sqlite3'}",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "DEBUG",
            **env,
        }
        self.log = tmp_path / "bot.log"
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Bot:
        with self.log.open("ab") as handle:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--no-chat-fallback",
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdout=handle,
                stderr=handle,
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout=60)
        assert code == 0, self.log.read_text(errors="replace")[-3000:]

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


async def get(http: aiohttp.ClientSession, url: str, bot: Bot) -> tuple[int, str]:
    """GET ``url``, waiting (generously: a start-up on a busy machine) until the bot listens."""
    for _ in range(900):
        try:
            async with http.get(url) as response:
                return response.status, await response.text()
        except aiohttp.ClientConnectionError:
            assert bot.process is not None
            assert bot.process.returncode is None, bot.log.read_text(errors="replace")[-3000:]
            await asyncio.sleep(0.2)
    raise AssertionError(f"nothing answers on {url}")


@pytest.fixture
async def stub() -> AsyncIterator[BotAPIStub]:
    async with BotAPIStub(token=TOKEN) as stub:
        yield stub


async def test_polling_mode_serves_health_and_metrics(stub: BotAPIStub, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        Bot(stub, tmp_path, HEALTH_PORT=str(port)) as bot,
        aiohttp.ClientSession() as http,
    ):
        assert await get(http, f"{base}/healthz", bot) == (200, '{"status": "ok"}')

        person = stub.user(7101, first_name="Hilkka", language_code="fi")
        await person.send("/start")
        await person.wait_for_reply()
        await person.send(TYPED)
        await person.wait_for_reply()
        status, text = await get(http, f"{base}/metrics", bot)
        assert status == 200
        assert metric(text, "urapolku_updates_handled_total", 'kind="message"') == 2
        assert metric(text, "urapolku_handler_errors_total") == 0
        sends = len(stub.calls_of("sendMessage"))
        assert metric(text, "urapolku_send_limiter_wait_seconds_count", 'lane="person"') == sends
        assert 'urapolku_outbox_backlog{status="pending"} 0.0' in text
        assert 'urapolku_open_requests{status="new"} 0.0' in text
        # the jobs ran at start (each registered job once at least, none failed)
        assert metric(text, "urapolku_job_runs_total", 'outcome="ok"') > 0
        assert metric(text, "urapolku_job_runs_total", 'outcome="failed"') == 0
        # a path that is neither: 404, and nothing is listening on the webhook's port
        assert (await get(http, f"{base}/telegram", bot))[0] == 404

    lines = bot.lines()
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    updates = {line["update_id"] for line in lines if "update_id" in line}
    handed_out = {u["update_id"] for c in stub.calls_of("getUpdates") for u in c.result or ()}
    assert updates == handed_out, (updates, handed_out)
    assert TYPED not in bot.log.read_text()
    assert TOKEN not in bot.log.read_text()


async def test_webhook_mode_serves_health_and_metrics_on_its_port(
    stub: BotAPIStub, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        Bot(
            stub,
            tmp_path,
            "--webhook",
            WEBHOOK_URL="https://bot.example.org/telegram",
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
        ) as bot,
        aiohttp.ClientSession() as http,
    ):
        assert await get(http, f"{base}/healthz", bot) == (200, '{"status": "ok"}')
        person = stub.user(7102, first_name="Veikko", language_code="fi")
        await person.send("/start")
        [update] = stub.take_updates()
        async with http.post(
            f"{base}/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as response:
            assert response.status == 200
        status, text = await get(http, f"{base}/metrics", bot)
        assert status == 200
        assert metric(text, "urapolku_updates_handled_total", 'kind="message"') == 1
        assert metric(text, "urapolku_send_limiter_wait_seconds_count") == 1
        assert 'urapolku_open_requests{status="claimed"} 0.0' in text
    assert any(line.get("update_id") == update["update_id"] for line in bot.lines())
