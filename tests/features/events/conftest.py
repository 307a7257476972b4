"""The events room's app: the bundled content and catalogue at a fixed time (Tuesday 5 January
2027, 10:00 in Helsinki), and a harness on it. A test file may define its own instead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.catalogue import HELSINKI
from bot.features import build_registry
from tests.support import Clock, Harness, make_app, make_harness, make_settings

NOW = datetime(2027, 1, 5, 10, 0, tzinfo=HELSINKI)  # a Tuesday


@pytest.fixture
async def events_app(tmp_path: Path) -> AsyncIterator[App]:
    app = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    app.clock = Clock(NOW)
    yield app
    await app.db.dispose()


@pytest.fixture
def h(events_app: App) -> Harness:
    return make_harness(events_app)
