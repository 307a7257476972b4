"""Webhook mode: the secret header is required; an update is handled before the 200."""

from __future__ import annotations

from aiogram.methods import SendMessage
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime.webhook import build_web_app
from tests.support import Harness

SECRET = "s3cret-Token_1"


def start_update(update_id: int, user_id: int = 4242) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Web"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Web", "language_code": "fi"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_secret_is_required_and_update_handled_before_ok(harness: Harness) -> None:
    web_app = build_web_app(
        harness.app, harness.bot, harness.dispatcher, secret=SECRET, path="/telegram"
    )
    async with TestClient(TestServer(web_app)) as client:
        missing = await client.post("/telegram", json=start_update(1))
        wrong = await client.post(
            "/telegram", json=start_update(2), headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
        )
        assert (missing.status, wrong.status) == (401, 401)
        assert harness.session.calls_of(SendMessage) == []

        ok = await client.post(
            "/telegram", json=start_update(3), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert ok.status == 200
        [reply] = harness.session.calls_of(SendMessage)
        assert reply.chat_id == 4242
        assert reply.text == "Kieli? · Språk? · Language?"

        # Telegram re-sends after a timeout: handled once
        again = await client.post(
            "/telegram", json=start_update(3), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert again.status == 200
        assert len(harness.session.calls_of(SendMessage)) == 1

        health = await client.get("/healthz")
        assert health.status == 200
        assert await health.json() == {"status": "ok"}
