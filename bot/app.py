"""The application object: everything a handler may need, built once and passed as
dispatcher data (``app``), never as module globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.content.snapshot import ENTRY_DIALOG, HOME, Content
from bot.engine.actions import ActionRegistry
from bot.engine.runner import Engine
from bot.engine.schema import ChoiceStep, InputStep
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
    #: watches the content files and swaps :attr:`content` (``bot.runtime.reload``); set on first use
    reloader: Any = None
    _engine: Engine | None = field(default=None, init=False, repr=False)
    _plain_keys: tuple[object, frozenset[str]] | None = field(default=None, init=False, repr=False)

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

    @property
    def plain_answer_keys(self) -> frozenset[str]:
        """Answers stored readable (choice answers: option ids, counted in the reports); every
        other answer, above all what people type, is stored encrypted (docs/SECURITY.md)."""
        dialogs = self.content.dialogs
        if self._plain_keys is None or self._plain_keys[0] is not dialogs:
            steps = [step for dialog in dialogs.dialogs.values() for step in dialog.steps]
            chosen = {s.save_as for s in steps if isinstance(s, ChoiceStep) and s.save_as}
            typed = {s.save_as for s in steps if isinstance(s, InputStep)}
            self._plain_keys = (dialogs, frozenset(chosen - typed))
        return self._plain_keys[1]

    def replace_content(self, content: Content) -> None:
        """Serve ``content`` from the next update on (it has been checked as a whole)."""
        self.content = content
        self._engine = None

    def t(self, key: str, language: str, **params: object) -> str:
        return self.content.texts.get(key, language, **params)
