"""A feature's own content files, checked and loaded with the rest of the content.

A feature defines one :class:`ContentSection`: a name and a checker that reads the feature's
files from the content folder and returns ``(value, problems)`` (``value`` is None when there
are errors). The composition root (:func:`bot.features.content_sections`) passes the list to
:func:`bot.content.snapshot.check_content`, which runs every checker and keeps each value in the
snapshot; the feature reads it back, typed, with ``app.content.section(MY_SECTION)``::

    HANDOFF: Final = ContentSection("handoff", check_handoff_section)
    office = app.content.section(HANDOFF).office
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from bot.content.source import Problem
from bot.engine.texts import TextCatalogue

T = TypeVar("T")


@dataclass(frozen=True, slots=True, eq=False)
class ContentSection(Generic[T]):
    """One feature's part of the content. Compared by identity: define each one once, as a
    module constant, and use that constant as the key."""

    name: str
    #: ``(content_dir, texts) -> (value or None on errors, problems)``
    check: Callable[[Path, TextCatalogue], tuple[T | None, list[Problem]]]

    def __repr__(self) -> str:
        return f"ContentSection({self.name!r})"
