"""The content the bot serves (dialogs, texts, catalogue), loaded and checked as one snapshot.

A snapshot is replaced only by another complete, valid snapshot: a broken file never takes
the live bot down; the last good content keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.catalogue.loader import check_catalogue
from bot.engine.loader import DialogSet, lint_dialogs, load_dialogs
from bot.engine.runner import BUILTIN_ACTIONS
from bot.engine.texts import TextCatalogue, load_texts_collecting
from bot.yamlsource import ContentError, Problem, Severity

log = logging.getLogger(__name__)

LANGUAGES = ("fi", "sv", "en")
ENTRY_DIALOG = "onboarding"
HOME = ("onboarding", "menu")


@dataclass(frozen=True, slots=True)
class Content:
    dialogs: DialogSet
    texts: TextCatalogue
    warnings: list[Problem] = field(default_factory=list)
    catalogue: Any = None

    @property
    def languages(self) -> list[str]:
        return [lang for lang in LANGUAGES if lang in self.texts.texts] or list(LANGUAGES)

    def keywords(self, name: str) -> frozenset[str]:
        """Trigger words such as ``keywords.help`` from every language, lower-cased."""
        words: set[str] = set()
        for table in self.texts.texts.values():
            raw = table.get(f"keywords.{name}", "")
            words.update(w.strip().casefold() for w in raw.split(",") if w.strip())
        return frozenset(words)


def check_content(
    dialogs_dir: Path,
    content_dir: Path,
    *,
    default_language: str,
    actions: Collection[str],
) -> tuple[Content | None, list[Problem]]:
    """Load everything and return (content, problems); content is None if there are errors."""
    texts, problems = load_texts_collecting(content_dir / "texts", default_language)
    dialogs, dialog_problems = load_dialogs(dialogs_dir)
    problems += dialog_problems
    problems += lint_dialogs(
        dialogs,
        texts,
        actions=set(actions) | BUILTIN_ACTIONS,
        languages=LANGUAGES,
        entry=(ENTRY_DIALOG, None),
        home=HOME,
    )
    catalogue = None
    catalogue_dir = content_dir / "catalogue"
    if catalogue_dir.is_dir():
        catalogue, catalogue_problems = check_catalogue(catalogue_dir, texts)
        problems += catalogue_problems
    # office hours and saved replies for the coaches (imported here: bot.handoff builds on this)
    from bot.handoff.content import check_handoff_content

    problems += check_handoff_content(content_dir)[1]
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        return None, problems
    return Content(dialogs=dialogs, texts=texts, warnings=problems, catalogue=catalogue), problems


def load_content(
    dialogs_dir: Path, content_dir: Path, *, default_language: str, actions: Collection[str]
) -> Content:
    content, problems = check_content(
        dialogs_dir, content_dir, default_language=default_language, actions=actions
    )
    if content is None:
        raise ContentError([p for p in problems if p.severity is Severity.ERROR])
    return content
