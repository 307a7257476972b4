"""The fixtures every test may ask for; the helpers they use live in :mod:`tests.support`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.features import build_registry
from db import Database
from db import types as crypto
from db.migrate import upgrade
from tests.support import (
    TEST_DATA_KEY,
    Harness,
    drop_worker_postgres,
    fresh_postgres,
    make_app,
    make_harness,
    make_settings,
)


@pytest.fixture(autouse=True)
def _data_key() -> Iterator[None]:
    """Every test starts with the test data key configured (as the bot does at startup)."""
    crypto.configure(TEST_DATA_KEY)
    yield
    crypto.configure(TEST_DATA_KEY)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    application = await make_app(make_settings(tmp_path))
    yield application
    await application.db.dispose()


@pytest.fixture
def harness(app: App) -> Harness:
    return make_harness(app)


@pytest.fixture
async def bundled_app(tmp_path: Path) -> AsyncIterator[App]:
    application = await make_app(make_settings(tmp_path, bundled=True), build_registry())
    yield application
    await application.db.dispose()


@pytest.fixture
def bundled(bundled_app: App) -> Harness:
    return make_harness(bundled_app)


@pytest.fixture(scope="session", autouse=True)
def _drop_worker_postgres() -> Iterator[None]:
    yield
    drop_worker_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same tests on SQLite (always) and PostgreSQL (when it is reachable)."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        await upgrade(db)
    else:
        db = await fresh_postgres()
    yield db
    await db.dispose()


@pytest.fixture
async def happ(tmp_path: Path) -> AsyncIterator[App]:
    """The handoff test app (coaches, the coach group, an admin); a test file's own ``happ``
    takes precedence."""
    from tests.features.handoff.support import make_handoff_app  # it imports this module

    app = await make_handoff_app(tmp_path)
    yield app
    await app.db.dispose()


#: files whose tests start the bot (or gunicorn, or the terminal chat) as a process: each takes
#: seconds to tens of seconds, mostly waiting. Run first, they overlap with the many quick tests
#: on the other xdist workers instead of forming a long tail at the end of the run.
_PROCESS_TESTS = (
    "tests/runtime/test_workers.py",
    "tests/runtime/test_e2e.py",
    "tests/runtime/test_health.py",
    "tests/runtime/test_poison_e2e.py",
    "tests/telegram/test_terminal_chat.py",
    "tests/runtime/test_scaleout_workers.py",
    "tests/runtime/test_flood.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start processes first (see :data:`_PROCESS_TESTS`); the rest keep their order."""
    items.sort(key=lambda item: not item.nodeid.startswith(_PROCESS_TESTS))
