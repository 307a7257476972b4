"""The application object: everything a handler may need, built once and passed as
dispatcher data (``app``), never as module globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.content import ENTRY_DIALOG, HOME, Content
from bot.engine.actions import ActionRegistry
from bot.engine.runner import Engine
from db import Database
from db.models import utcnow


@dataclass(slots=True)
class App:
    settings: Settings
    db: Database
    content: Content
    actions: ActionRegistry
    clock: Callable[[], datetime] = utcnow
    #: background jobs (set when the bot runs); features may wake a job after queueing work
    scheduler: Any = None
    _engine: Engine | None = field(default=None, init=False, repr=False)

    @property
    def engine(self) -> Engine:
        """The dialog engine for the content being served now."""
        if self._engine is None or self._engine.dialogs is not self.content.dialogs:
            self._engine = Engine(
                self.content.dialogs,
                self.content.texts,
                self.actions,
                entry=ENTRY_DIALOG,
                home=HOME,
            )
        return self._engine

    def replace_content(self, content: Content) -> None:
        """Serve ``content`` from the next update on (it has been checked as a whole)."""
        self.content = content
        self._engine = None

    def t(self, key: str, language: str, **params: object) -> str:
        return self.content.texts.get(key, language, **params)
