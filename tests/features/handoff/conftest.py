"""The handoff room's apps and harnesses: ``h`` on the fixture app (``happ``, in
tests/conftest.py: the fixture dialogs with a stable handoff dialog, coaches and a coach group),
and ``real`` on the bundled dialogs and content with Anna as a coach. A test file may define
its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.engine.actions import ActionContext, ActionResult
from bot.features import build_registry
from db.repositories import CoachRepository
from tests.features.handoff.support import ANNA, GROUP, MONDAY_10, Clock
from tests.support import Harness, make_app, make_harness, make_settings


@pytest.fixture
def h(happ: App) -> Harness:
    return make_harness(happ)


async def _nothing(ctx: ActionContext) -> ActionResult:
    return ActionResult()


@pytest.fixture
async def real_app(tmp_path: Path) -> AsyncIterator[App]:
    """The bundled dialogs and content at a Monday 10:00, with Anna as a coach."""
    registry = build_registry()
    for name in ("recommend", "browse_events"):  # other features' actions, if not there yet
        if name not in registry:
            registry.register(name, _nothing)
    settings = make_settings(tmp_path, bundled=True, coach_chat_id=GROUP, admin_ids=[9001])
    app = await make_app(settings, registry)
    app.clock = Clock(MONDAY_10)
    async with app.db.transaction() as session:
        await CoachRepository(session).add(ANNA, "Anna")
    yield app
    await app.db.dispose()


@pytest.fixture
def real(real_app: App) -> Harness:
    return make_harness(real_app)
