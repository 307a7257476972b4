"""No filter or handler of the bot runs in a worker thread (bot/telegram/filters.py says why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiogram import F, Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.types import Message

from bot.telegram.filters import Magic
from tests.support import make_app, make_harness, make_settings


def callables(router: Router) -> list[tuple[str, CallableObject]]:
    """Every filter and handler of ``router`` and its sub-routers, named for the report."""
    found: list[tuple[str, CallableObject]] = []
    for kind, observer in router.observers.items():
        for item in observer._handler.filters or []:  # the router-level .filter(...)
            found.append((f"{router.name}.{kind} filter {item.callback!r}", item))
        for handler in observer.handlers:
            found.append((f"{router.name}.{kind} {handler.callback!r}", handler))
            for item in handler.filters or []:
                found.append((f"{router.name}.{kind} filter {item.callback!r}", item))
    for sub in router.sub_routers:
        found += callables(sub)
    return found


async def test_every_filter_and_handler_is_awaited_on_the_event_loop(tmp_path: Path) -> None:
    # a coach group and an admin, so that the coach, attendance, admin and reload routers exist
    app = await make_app(make_settings(tmp_path, coach_chat_id=-100_777, admin_ids=[1]))
    try:
        found = callables(make_harness(app).dispatcher)
    finally:
        await app.db.dispose()
    names = {name.split(".")[0] for name, _ in found}
    assert {"private", "reload", "handoff-admin"} <= names
    threaded = [name for name, item in found if not item.awaitable]
    assert threaded == []


def test_a_bare_magic_filter_would_be_caught() -> None:
    router = Router(name="probe")
    router.message.filter(F.chat.type == "private")
    router.message.register(lambda message: None, Magic(F.text))
    assert [name for name, item in callables(router) if not item.awaitable] == [
        "probe.message filter " + repr(router.message._handler.filters[0].callback),  # type: ignore[index]
        "probe.message " + repr(router.message.handlers[0].callback),
    ]


@pytest.mark.parametrize(("text", "expected"), [("/start", True), ("hei", False), (None, False)])
async def test_magic_checks_the_expression(text: str | None, expected: Any) -> None:
    message = Message.model_validate(
        {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 5, "type": "private"},
            "text": text,
        }
    )
    assert bool(await Magic(F.text.startswith("/"))(message)) is expected
