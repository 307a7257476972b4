"""The handoff's own content files: ``content/office_hours.yaml`` and
``content/saved_replies.yaml``, checked with file:line errors like every other content file.

``content/saved_replies.yaml``::

    version: 1
    replies:
      - id: got_it                      # a short slug (it travels in button data)
        label: {fi: Kiitos viestistä, sv: Tack för meddelandet, en: Thanks for the message}
        text:                           # what the person gets, in their language
          fi: Kiitos viestistäsi! Palaan asiaan pian.
          sv: Tack för ditt meddelande! Jag återkommer snart.
          en: Thank you for your message! I will get back to you soon.

The label is what coaches see on the button (in the coach chat's language); the text is sent
to the person in the person's language.

Both files are the :data:`HANDOFF` section of the content snapshot: checked with the rest of
the content (a broken file never takes the live bot down; the last good snapshot keeps
serving) and read with :func:`handoff_content`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.app import App
from bot.content.languages import LANGUAGES
from bot.content.section import ContentSection
from bot.content.source import (
    ContentError,
    Loc,
    Problem,
    Severity,
    YamlDocument,
    load_yaml,
    problems_from_validation_error,
)
from bot.engine.texts import TextCatalogue

from .office_hours import OfficeHours, OfficeHoursFile

OFFICE_HOURS_FILE = "office_hours.yaml"
SAVED_REPLIES_FILE = "saved_replies.yaml"
MAX_SAVED_REPLY = 3500
M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SavedReplyModel(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,23}$")]
    label: dict[str, Annotated[str, Field(min_length=1, max_length=60)]]
    text: dict[str, Annotated[str, Field(min_length=1, max_length=MAX_SAVED_REPLY)]]


class SavedRepliesFile(_Model):
    version: Literal[1]
    replies: list[SavedReplyModel] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SavedReply:
    id: str
    label: dict[str, str]
    text: dict[str, str]

    def label_in(self, language: str, fallback: str) -> str:
        return self.label.get(language) or self.label.get(fallback) or self.id

    def text_in(self, language: str, fallback: str) -> str:
        """The text in ``language``, else in its base language (fi for fi-selko), else in
        ``fallback``."""
        base = language.split("-")[0]
        return self.text.get(language) or self.text.get(base) or self.text.get(fallback) or ""


@dataclass(frozen=True, slots=True)
class HandoffContent:
    office: OfficeHours = field(default_factory=OfficeHours.default)
    saved_replies: tuple[SavedReply, ...] = ()

    def saved_reply(self, reply_id: str) -> SavedReply | None:
        return next((r for r in self.saved_replies if r.id == reply_id), None)


def check_handoff_content(
    content_dir: Path, *, languages: tuple[str, ...] = LANGUAGES
) -> tuple[HandoffContent | None, list[Problem]]:
    """Load both files; (None, problems) if any of them has errors.

    A missing office-hours file is a warning (the default hours apply); a missing saved-replies
    file just means no saved replies.
    """
    problems: list[Problem] = []
    office = OfficeHours.default()
    path = content_dir / OFFICE_HOURS_FILE
    if path.is_file():
        doc = _load(path, problems)
        if doc is not None:
            parsed = _validate(doc, OfficeHoursFile, problems)
            if parsed is not None:
                office = OfficeHours.from_file(parsed)
    else:
        problems.append(
            Problem(
                str(path),
                None,
                None,
                "no office hours file: Monday-Friday 8-16, closed on public holidays, is assumed",
                severity=Severity.WARNING,
                code="handoff",
            )
        )
    replies: list[SavedReply] = []
    path = content_dir / SAVED_REPLIES_FILE
    if path.is_file():
        doc = _load(path, problems)
        if doc is not None:
            saved = _validate(doc, SavedRepliesFile, problems)
            if saved is not None:
                replies = _check_replies(doc, saved, languages, problems)
    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    return HandoffContent(office=office, saved_replies=tuple(replies)), problems


def _load(path: Path, problems: list[Problem]) -> YamlDocument | None:
    try:
        return load_yaml(path)
    except ContentError as exc:
        problems += exc.problems
        return None


def _validate(doc: YamlDocument, model: type[M], problems: list[Problem]) -> M | None:
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "the file must start with 'version: 1'"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        known: dict[Loc, list[str]] = {(): list(model.model_fields)}
        problems += problems_from_validation_error(doc, exc, known_fields=known)
        return None


def _check_replies(
    doc: YamlDocument,
    saved: SavedRepliesFile,
    languages: tuple[str, ...],
    problems: list[Problem],
) -> list[SavedReply]:
    replies: list[SavedReply] = []
    seen: set[str] = set()
    for i, reply in enumerate(saved.replies):
        if reply.id in seen:
            problems.append(
                doc.problem(("replies", i, "id"), f"the saved reply '{reply.id}' appears twice")
            )
        seen.add(reply.id)
        for part in ("label", "text"):
            values: dict[str, Any] = getattr(reply, part)
            for language in languages:
                if language not in values:
                    problems.append(
                        doc.problem(
                            ("replies", i, part),
                            f"the saved reply '{reply.id}' has no {part} in '{language}'",
                            hint=f"every saved reply needs {', '.join(languages)}",
                        )
                    )
        replies.append(SavedReply(reply.id, dict(reply.label), dict(reply.text)))
    return replies


def _check_section(
    content_dir: Path, texts: TextCatalogue
) -> tuple[HandoffContent | None, list[Problem]]:
    return check_handoff_content(content_dir)


#: the handoff's part of the content snapshot
HANDOFF: Final = ContentSection("handoff", _check_section)


def handoff_content(app: App) -> HandoffContent:
    """The office hours and saved replies of the content being served now."""
    return app.content.section(HANDOFF)
