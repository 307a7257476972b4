"""Prometheus metrics: what the bot counts, and the text ``GET /metrics`` answers.

Counted where it happens, each by a one-line call from the code that does it:

* ``urapolku_updates_handled_total{kind}`` and ``urapolku_handler_errors_total{kind}``: every
  update that went through the dispatcher, and those whose handling raised (by the update's
  kind: message, callback_query, …; :class:`bot.telegram.middlewares.observe.ObserveMiddleware`);
* ``urapolku_send_limiter_wait_seconds{lane}``: how long each send waited for the outgoing
  limiter (``person``: replies; ``background``: reminders, cards; :func:`time_send_wait`);
* ``urapolku_job_runs_total{job,outcome}`` and ``urapolku_job_items_total{job}``: scheduled
  job passes and the items they did (:func:`observed_job`).

Read from the database when ``/metrics`` is asked (the same for every worker, so they are not
counted per process): ``urapolku_outbox_backlog{status}`` (messages to the coaches' group not
sent yet) and ``urapolku_open_requests{status}`` (requests for a coach, new or claimed); see
:func:`render`.

**Several processes.** With ``PROMETHEUS_MULTIPROC_DIR`` set (``urapolku run --webhook
--workers N`` sets it), every worker writes its counts to files there and ``/metrics``, asked
of any worker, adds up all of them (``prometheus_client``'s multiprocess mode). No label holds
a person's id, a text or anything else from a message: only kinds, lanes, job names and
statuses, so the number of series stays small.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

T = TypeVar("T")

#: the folder the workers share their counts in (prometheus_client's own variable)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class _Metrics:
    """The metrics of this process (made again by :func:`use_shared_files`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.updates = Counter(
            "urapolku_updates_handled_total",
            "Updates that went through the dispatcher",
            ["kind"],
            registry=registry,
        )
        self.handler_errors = Counter(
            "urapolku_handler_errors_total",
            "Updates whose handling raised an exception",
            ["kind"],
            registry=registry,
        )
        self.send_wait = Histogram(
            "urapolku_send_limiter_wait_seconds",
            "Time a send waited for the outgoing limiter before it went to Telegram",
            ["lane"],
            buckets=(0.001, 0.05, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
            registry=registry,
        )
        self.job_runs = Counter(
            "urapolku_job_runs_total",
            "Passes of scheduled jobs, by outcome (ok or failed)",
            ["job", "outcome"],
            registry=registry,
        )
        self.job_items = Counter(
            "urapolku_job_items_total", "Items scheduled jobs did", ["job"], registry=registry
        )

    def unregister(self, registry: CollectorRegistry) -> None:
        for metric in (
            self.updates,
            self.handler_errors,
            self.send_wait,
            self.job_runs,
            self.job_items,
        ):
            registry.unregister(metric)


_metrics = _Metrics(REGISTRY)


def use_shared_files() -> None:
    """In a worker forked with PROMETHEUS_MULTIPROC_DIR set: count in the shared files from
    now on.

    prometheus_client decides where values live when it is first imported, and the parent
    imported it (with the bot) before it set the folder; the metrics are made again here so
    that this worker's counts reach the folder that ``/metrics`` adds up."""
    global _metrics
    if not multiprocess():
        return
    if values.ValueClass.__name__ != "MmapedValue":
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    _metrics.unregister(REGISTRY)
    _metrics = _Metrics(REGISTRY)


def update_handled(kind: str) -> None:
    _metrics.updates.labels(kind).inc()


def handler_failed(kind: str) -> None:
    _metrics.handler_errors.labels(kind).inc()


async def time_send_wait(waiting: Awaitable[T], lane: str) -> T:
    """Await ``waiting`` (the limiter's ``acquire``) and record how long it took."""
    started = time.monotonic()
    try:
        return await waiting
    finally:
        _metrics.send_wait.labels(lane).observe(time.monotonic() - started)


def observed_job(
    name: str, job: Callable[[Any, Any], Awaitable[int]]
) -> Callable[[Any, Any], Awaitable[int]]:
    """``job`` counting its passes (ok or failed; the exception goes on) and its items."""

    async def run(app: Any, bot: Any) -> int:
        try:
            done = await job(app, bot)
        except Exception:
            _metrics.job_runs.labels(name, "failed").inc()
            raise
        _metrics.job_runs.labels(name, "ok").inc()
        if done > 0:
            _metrics.job_items.labels(name).inc(done)
        return done

    return run


class _Snapshot:
    """Gauges read just now (from the database), offered to a registry once."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def gauge(name: str, documentation: str, by_status: Mapping[str, int]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status, count in sorted(by_status.items()):
        family.add_metric([status], count)
    return family


def render(gauges: Iterable[Metric] = ()) -> bytes:
    """The text of ``/metrics``: this process's counts (or, in multiprocess mode, every
    worker's added up) and the given gauges."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_Snapshot(gauges))
        return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(_Snapshot(gauges))


def mark_process_dead(pid: int) -> None:
    """A worker ended: its live gauges go (its counters stay counted). Called by the parent."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]
