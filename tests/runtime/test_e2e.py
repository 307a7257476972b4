"""End to end: `urapolku run` as a separate process, long polling a local Bot API stand-in on
127.0.0.1, and a person talking to it. Includes a kill -9 in the middle of a dialog."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.telegram.standin import BotAPIStub, FakeUser
from tests.support import ROOT, TEST_DATA_KEY

pytestmark = pytest.mark.e2e

TOKEN = "123456:E2E-test-token-abcdefghijklmnop"
#: seconds a person in a hurry takes to read a message before answering
READING = 0.5


class BotProcess:
    def __init__(self, stub: BotAPIStub, tmp_path: Path) -> None:
        self.stub = stub
        self.env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            # a token means production: the data key must be given (docs/SECURITY.md)
            "DATA_KEY": TEST_DATA_KEY,
            "TELEGRAM_API_URL": stub.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}",
            "DIALOGS_DIR": str(ROOT / "dialogs"),
            "CONTENT_DIR": str(ROOT / "content"),
            "LOG_LEVEL": "INFO",
        }
        self.log = tmp_path / "bot.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        polls_before = len(self.stub.calls_of("getUpdates"))
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=self.env, stdout=handle, stderr=handle
        )
        handle.close()
        # ready when it has set its command menu and polls for updates
        for _ in range(1800):  # up to 90 s on a busy machine
            if len(self.stub.calls_of("getUpdates")) > polls_before:
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError("the bot did not start:\n" + self.log.read_text(errors="replace"))

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout=20)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[BotAPIStub, BotProcess]]:
    async with BotAPIStub(token=TOKEN) as stub:
        bot = BotProcess(stub, tmp_path)
        await bot.start()
        try:
            yield stub, bot
        finally:
            if bot.process is not None and bot.process.returncode is None:
                await bot.stop(signal.SIGKILL)


async def choose_first_options_until_menu(
    user: FakeUser, menu_text: str, done_label: str, skip: str, *, limit: int = 60
) -> list[str]:
    """Answer like a person in a hurry: first option, tick one and done, type a short answer
    (never an item of a list, never the ``skip`` button, no way back)."""
    seen: list[str] = []
    for _ in range(limit):
        text = user.last_message.text or ""
        seen.append(text)
        if text.endswith(menu_text) and len(seen) > 1:
            return seen
        buttons = [
            b
            for b in user.buttons
            if not b.startswith(("◀", "↩")) and not b[:1].isdigit() and b != skip
        ]
        # a turn is one message now, answered at once: read it before answering, as a person
        # does (five messages in two seconds would be "slow down")
        await asyncio.sleep(READING)
        if done_label in buttons:
            await user.click(buttons[0])
            await user.wait_idle(timeout=15)
            await asyncio.sleep(READING)
            await user.click(done_label)
        elif buttons:
            await user.click(buttons[0])
        else:
            await user.send("040 123 4567" if "puhelin" in text.lower() else "Ei muuta, kiitos.")
        await user.wait_idle(timeout=15)
    raise AssertionError("never came back to the menu:\n" + "\n---\n".join(seen[-5:]))


async def test_onboarding_and_career_plan_as_a_person(
    running: tuple[BotAPIStub, BotProcess],
) -> None:
    stub, _bot = running
    # the command menu was set in each language at start
    languages = {call.params.get("language_code") for call in stub.calls_of("setMyCommands")}
    assert {"fi", "sv", "en"} <= languages

    user = stub.user(5001, first_name="Aino", language_code="fi")
    await user.send("/start")
    await user.wait_for_reply()
    assert user.buttons[:3] == ["Suomi", "Svenska", "English"]
    await user.click("Suomi")
    await user.wait_idle(timeout=15)
    consent_buttons = user.buttons
    await user.click(consent_buttons[0])  # agree
    await user.wait_idle(timeout=15)
    menu_text = "Mitä haluat tehdä?"
    assert (user.last_message.text or "").endswith(f"\n\n{menu_text}")  # after the thanks
    assert len(user.buttons) >= 5  # plan · events · coach · my data · language

    await user.click(user.buttons[0])  # plan my path
    await user.wait_idle(timeout=15)
    await choose_first_options_until_menu(user, menu_text, "Valmis ✅", "Seuraavat askeleet")
    transcript = [m.text or "" for m in user.messages]
    summary = next(t for t in transcript if t.startswith("📝"))
    assert "• Tilanne: Olen työtön" in summary  # the answers, as the person saw them
    assert any(t.startswith("Nämä voisivat sopia sinulle:") for t in transcript)  # recommendations
    assert all(
        call.params.get("chat_id") in (5001, "5001") for call in stub.calls_of("sendMessage")
    )
    # no edit that changes nothing was ever sent (the stand-in answers 400 like Telegram)
    assert not [c for c in stub.calls if c.method.lower() == "editmessagetext" and c.status == 400]


async def test_kill_mid_dialog_and_continue(running: tuple[BotAPIStub, BotProcess]) -> None:
    stub, bot = running
    user = stub.user(5002, first_name="Pekka", language_code="fi")
    await user.send("/start")
    await user.wait_for_reply()
    await user.click("Suomi")
    await user.wait_idle(timeout=15)
    await user.click(user.buttons[0])
    await user.wait_idle(timeout=15)
    await user.click(user.buttons[0])  # plan my path
    await user.wait_idle(timeout=15)
    question = user.last_message.text
    answer = user.buttons[0]

    assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
    await bot.start()
    await user.click(answer)  # an answer given while the bot was down is handled after restart
    await user.wait_for_reply()
    assert user.last_message.text != question
    await user.send("/start")
    await user.wait_for_reply(count=2)
    texts = [m.text for m in user.messages[-2:]]
    assert "Pekka" in texts[0]  # welcome back, by name
    assert texts[1] == user.last_message.text


async def test_presses_queued_while_the_bot_was_down_get_one_lets_continue(
    running: tuple[BotAPIStub, BotProcess],
) -> None:
    stub, bot = running
    user = stub.user(5004, first_name="Raili", language_code="fi")
    await user.send("/start")
    await user.wait_for_reply()
    await user.click("Suomi")
    await user.wait_idle(timeout=15)
    await user.click(user.buttons[0])
    await user.wait_idle(timeout=15)
    await user.click(user.buttons[0])  # plan my path
    await user.wait_idle(timeout=15)
    question = user.last_message
    answer = user.buttons[0]
    before = len(user.messages)

    assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
    for _ in range(4):  # an impatient person taps the answer again and again
        await user.click(answer)
    await bot.start()
    await user.wait_idle(quiet=1.0, timeout=30)
    texts = [m.text or "" for m in user.messages[before:]]
    # the first press is the answer; the next one says once where we are; the rest, nothing
    assert sum("Tämä kysymys on jo ohi. Jatketaan tästä:" in t for t in texts) == 1, texts
    # … joined with the question the person is on now, the one the first press led to
    assert texts[0] != question.text
    assert (user.last_message.text or "").endswith("\n\n" + texts[0])
    [answered] = [m for m in user.messages if m.message_id == question.message_id]
    assert (answered.text or "").endswith("✔ " + answer)  # the question shows the answer


async def test_sigterm_stops_cleanly_and_confirms_updates(
    running: tuple[BotAPIStub, BotProcess],
) -> None:
    stub, bot = running
    user = stub.user(5003, language_code="sv")
    await user.send("/start")
    await user.wait_for_reply()
    assert await bot.stop(signal.SIGTERM) == 0
    assert "stopped cleanly" in bot.log.read_text()
    # the handled update was confirmed: a restarted bot does not answer it again
    replies = len(stub.calls_of("sendMessage"))
    await bot.start()
    await asyncio.sleep(1.0)
    assert len(stub.calls_of("sendMessage")) == replies
