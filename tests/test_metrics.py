"""The operator's view: counts in bot.metrics, the JSON log's fields, /healthz and /metrics.

Updates go through the real Dispatcher (the harness); the counters are read from
prometheus_client's registry before and after, so other tests in the same process do not
matter. The endpoints are asked over HTTP (aiohttp's test client) of the same routes that
polling and webhook mode serve (tests/runtime/test_health.py asks a running bot).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiogram.methods import SendMessage
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from bot import metrics
from bot.app import App
from bot.logsetup import JsonFormatter, log_fields, set_worker
from bot.runtime import health
from bot.runtime.scheduler import Scheduler
from bot.telegram import conversation
from db.repositories import HandoffRepository, NewRequest, OutboxRepository, PersonRepository
from tests.support import Harness


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record of the process, formatted as LOG_FORMAT=json does, into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_updates_are_counted_by_kind_and_failures_apart(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, json_log: io.StringIO
) -> None:
    messages = value("urapolku_updates_handled_total", kind="message")
    presses = value("urapolku_updates_handled_total", kind="callback_query")
    errors = value("urapolku_handler_errors_total", kind="message")
    person = harness.person(5151)
    await person.send("/start")
    await person.click("Suomi")
    assert value("urapolku_updates_handled_total", kind="message") == messages + 1
    assert value("urapolku_updates_handled_total", kind="callback_query") == presses + 1
    assert value("urapolku_handler_errors_total", kind="message") == errors

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(conversation.Conversation, "run", broken)
    before = len(harness.session.calls_of(SendMessage))
    await person.send("Tämä teksti ei saa näkyä lokissa")
    assert value("urapolku_handler_errors_total", kind="message") == errors + 1
    assert value("urapolku_updates_handled_total", kind="message") == messages + 2
    # the error boundary answered, and its log line names the update in its fields
    assert len(harness.session.calls_of(SendMessage)) == before + 1
    [failed] = [line for line in lines(json_log) if line["level"] == "ERROR"]
    assert str(failed["message"]).startswith(f"update {failed['update_id']} failed")
    assert "Tämä teksti" not in json_log.getvalue()


async def test_job_passes_are_counted_and_their_log_lines_name_the_job(
    app: App, json_log: io.StringIO
) -> None:
    scheduler = Scheduler(app, bot=None)  # type: ignore[arg-type]
    calls = iter([2, 0])

    async def sends_two(_app: App, _bot: object) -> int:
        logging.getLogger("tests.job").info("sent %d", 2)
        return next(calls)

    async def fails(_app: App, _bot: object) -> int:
        raise ValueError("no")

    scheduler.every(60, "metrics-test-ok", sends_two)
    scheduler.every(60, "metrics-test-fails", fails)
    ok = value("urapolku_job_runs_total", job="metrics-test-ok", outcome="ok")
    items = value("urapolku_job_items_total", job="metrics-test-ok")
    assert await scheduler.run_leased("metrics-test-ok") == 2  # a pass that did 2, then 0
    assert await scheduler.run_leased("metrics-test-fails") == 0
    assert value("urapolku_job_runs_total", job="metrics-test-ok", outcome="ok") == ok + 2
    assert value("urapolku_job_items_total", job="metrics-test-ok") == items + 2
    assert value("urapolku_job_runs_total", job="metrics-test-fails", outcome="failed") >= 1
    logged = lines(json_log)
    assert {"sent 2"} == {
        str(line["message"])
        for line in logged
        if line.get("job") == "metrics-test-ok" and line["logger"] == "tests.job"
    }
    [failure] = [
        line
        for line in logged
        if line.get("job") == "metrics-test-fails" and line["level"] == "ERROR"
    ]
    assert "update_id" not in failure


def test_json_fields_nest_and_carry_the_worker() -> None:
    formatter = JsonFormatter()

    def record() -> dict[str, object]:
        made = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        return json.loads(formatter.format(made))  # type: ignore[no-any-return]

    assert "update_id" not in record()
    with log_fields(update_id=7):
        with log_fields(job="outbox"):
            assert record()["update_id"] == 7
            assert record()["job"] == "outbox"
        assert "job" not in record()
    set_worker(3)
    try:
        assert record()["worker"] == 3
    finally:
        from bot import logsetup

        logsetup._process_fields.clear()


async def serve(app: App, liveness: health.Liveness | None = None) -> TestClient:
    web_app = web.Application()
    health.add_routes(web_app, app, liveness)
    client = TestClient(TestServer(web_app))
    await client.start_server()
    return client


async def test_metrics_read_the_backlog_from_the_database(app: App) -> None:
    async with app.db.transaction() as session:
        person, _ = await PersonRepository(session).ensure(4747, "fi")
        await HandoffRepository(session).create(
            NewRequest(
                person_id=person.id,
                language="fi",
                first_name=None,
                topic="job",
                contact_method="chat",
            )
        )
        outbox = OutboxRepository(session)
        await outbox.enqueue("card:1", "card", chat_id=-100, payload={"text": "x"})
        await outbox.enqueue("card:2", "card", chat_id=-100, payload={"text": "y"})
    client = await serve(app)
    try:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"] == metrics.CONTENT_TYPE
        text = await response.text()
    finally:
        await client.close()
    assert 'urapolku_outbox_backlog{status="pending"} 2.0' in text
    assert 'urapolku_outbox_backlog{status="held"} 0.0' in text
    assert 'urapolku_open_requests{status="new"} 1.0' in text
    assert 'urapolku_open_requests{status="claimed"} 0.0' in text
    assert "urapolku_updates_handled_total" in text


async def test_health_is_503_when_polling_stalls_or_the_database_does_not_answer(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    liveness = health.Liveness(stale_after=3600)
    client = await serve(app, liveness)
    try:
        response = await client.get("/healthz")
        assert (response.status, await response.json()) == (200, {"status": "ok"})
        liveness.last -= 3601  # no fetch for over an hour
        response = await client.get("/healthz")
        assert (response.status, await response.json()) == (503, {"status": "polling stalled"})
        liveness.beat()

        def refuse() -> object:
            raise ConnectionRefusedError("database down")

        monkeypatch.setattr(app.db, "read", refuse)
        response = await client.get("/healthz")
        assert (response.status, await response.json()) == (
            503,
            {"status": "database unavailable"},
        )
        # the counters are still served, without the database's gauges
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()
        assert "urapolku_outbox_backlog" not in text
        assert "urapolku_updates_handled_total" in text
    finally:
        await client.close()
