"""The event loop the bot serves people on.

uvloop (libuv) where it is installed, which is every Linux and macOS install of this package
(pyproject.toml); asyncio's own loop otherwise. The bot's work is many small callbacks (Bot
API calls, the database thread handing results back), and uvloop runs those with a fraction
of the standard loop's overhead (docs/PERFORMANCE.md). Command-line tools that run once keep
the standard loop: for them it makes no difference.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: the collector's thresholds in a serving process (the default is 700, 10, 10)
SERVING_GC_THRESHOLD = (20_000, 20, 20)


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on uvloop if available, else like ``asyncio.run``."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - e.g. Windows
        return asyncio.run(main)
    return uvloop.run(main)


def settle_heap(*, again: bool = False) -> None:
    """Move everything built so far (content, routers, models, SQLAlchemy's mappers) out of
    the garbage collector's sight.

    A full collection walks every tracked object; on a started bot those are mostly objects
    that live as long as the process, and each full collection took about 0.15 s of CPU while
    people were waiting (docs/PERFORMANCE.md). Call once after start-up, before serving; with
    ``again``, after content was replaced, so that the old content's reference cycles are
    collected (frozen objects never are) and the new content is frozen instead. ``again``
    does nothing in a process that never settled (tests, the terminal chat).
    """
    if again and not gc.get_freeze_count():
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    # Handling an update allocates thousands of short-lived objects (models, statements):
    # with the default threshold of 700 a young collection ran several times per update.
    gc.set_threshold(*SERVING_GC_THRESHOLD)
