"""End to end: `urapolku run` long-polls the local Bot API stand-in while poison
updates arrive — a text holding a lone UTF-16 surrogate, and a reply to a message whose markup
aiogram's models reject. The bot sets each aside as a dead letter, tells its sender once,
answers everyone else, and its log holds nothing of what the updates said."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.telegram.standin import BotAPIStub
from tests.runtime.test_e2e import TOKEN, BotProcess

pytestmark = pytest.mark.e2e

SECRET = "Salainen-Henkilotieto"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[BotAPIStub, BotProcess]]:
    async with BotAPIStub(token=TOKEN) as stub:
        bot = BotProcess(stub, tmp_path)
        await bot.start()
        try:
            yield stub, bot
        finally:
            if bot.process is not None and bot.process.returncode is None:
                await bot.stop()


def unreadable_reply(chat_id: int, first_name: str) -> dict[str, object]:
    """A message replying to one whose inline button has no text (aiogram refuses it)."""
    chat = {"id": chat_id, "type": "private", "first_name": first_name}
    return {
        "message": {
            "message_id": 9001,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
            "text": f"{SECRET} vastaus",
            "reply_to_message": {
                "message_id": 9000,
                "date": int(time.time()),
                "chat": chat,
                "text": f"{SECRET} kysymys",
                "reply_markup": {"inline_keyboard": [[{"callback_data": SECRET}]]},
            },
        }
    }


def dead_letters(tmp_path: Path) -> list[tuple[int, int | None, str, str]]:
    with sqlite3.connect(tmp_path / "e2e.sqlite3") as db:
        rows = db.execute("select update_id, chat_id, stage, error from dead_letters order by id")
        return list(rows)


async def test_poison_updates_are_set_aside_and_everyone_else_is_answered(
    running: tuple[BotAPIStub, BotProcess], tmp_path: Path
) -> None:
    stub, bot = running
    aino = stub.user(5101, first_name=SECRET, language_code="fi")
    bertta = stub.user(5102, first_name="Bertta", language_code="fi")
    ville = stub.user(5103, first_name="Ville", language_code="fi")

    await aino.send(f"{SECRET} \ud800 loppu")  # the stand-in sends it as "\ud800" in JSON
    surrogate_id = stub.pending_updates[-1]["update_id"]
    reply_id = stub.enqueue_update(unreadable_reply(5102, "Bertta"), chat_id=5102)
    await bertta.send("/start")  # right behind it in the same chat
    await ville.send("/start")

    await ville.wait_for_reply(timeout=30)
    assert ville.buttons[:3] == ["Suomi", "Svenska", "English"]
    await bertta.wait_idle(timeout=30)
    assert [m.text for m in bertta.messages][-2:] == [
        "En saanut viestistäsi selvää. Kirjoita se uudelleen, niin jatketaan.",
        bertta.last_message.text,
    ]
    assert bertta.buttons[:3] == ["Suomi", "Svenska", "English"]
    await aino.wait_for_reply(timeout=30)
    assert aino.last_message.text == (
        "En saanut viestistäsi selvää. Kirjoita se uudelleen, niin jatketaan."
    )
    # the same person goes on as usual
    await aino.send("/start")
    await aino.wait_for_reply(timeout=30)
    assert aino.buttons[:3] == ["Suomi", "Svenska", "English"]

    # confirmed: the offset moved past both (the next getUpdates confirms the last /start)
    for _ in range(200):
        if not stub.pending_updates:
            break
        await stub.wait_for_updates(0.05)
    assert stub.pending_updates == []
    assert bot.process is not None
    assert bot.process.returncode is None
    letters = dead_letters(tmp_path)
    assert [(u, c, s) for u, c, s, _ in letters] == [
        (surrogate_id, 5101, "decode"),
        (reply_id, 5102, "decode"),
    ]
    assert letters[0][3] == "UnicodeError: a lone surrogate in a text"
    assert letters[1][3].startswith("ValidationError: message.reply_to_message.reply_markup.")

    assert await bot.stop() == 0
    log = bot.log.read_text(errors="replace")
    assert f"update {surrogate_id} (chat 5101) set aside" in log
    assert f"update {reply_id} (chat 5102) set aside" in log
    assert SECRET not in log
    assert "Traceback" not in log
