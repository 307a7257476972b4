"""The event loop the bot serves people on.

uvloop (libuv) where it is installed, which is every Linux and macOS install of this package
(pyproject.toml); asyncio's own loop otherwise. The bot's work is many small callbacks (Bot
API calls, the database thread handing results back), and uvloop runs those with a fraction
of the standard loop's overhead (docs/PERFORMANCE.md). Command-line tools that run once keep
the standard loop: for them it makes no difference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on uvloop if available, else like ``asyncio.run``."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - e.g. Windows
        return asyncio.run(main)
    return uvloop.run(main)
