"""What a turn produces, independent of Telegram: texts, buttons, files."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    #: callback data (≤ 64 bytes) or, with ``url``, a link button
    data: str = ""
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the person.

    ``edit`` replaces the message whose button was pressed (when there is one) instead of
    sending a new message: used to mark an answered question and to tick multi-choice boxes.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    document: Document | None = None

    @staticmethod
    def column(text: str, buttons: list[Button], *, edit: bool = False) -> Reply:
        """One button per row: big targets for thumbs and for people who read slowly."""
        return Reply(text, tuple((b,) for b in buttons), edit=edit)


@dataclass(slots=True)
class Turn:
    """The result of handling one input: messages to send and answers to persist."""

    replies: list[Reply] = field(default_factory=list)
    #: answers given in this turn: (dialog, key, value); value None means "skipped/removed"
    answered: list[tuple[str, str, object]] = field(default_factory=list)
    #: a short toast for the button press (answerCallbackQuery text)
    notice: str | None = None
    #: the notice is worth showing only as a toast: when the press was already answered, it is
    #: dropped rather than sent as a message (the person was just told the same)
    notice_toast_only: bool = False
    #: the person's language changed in this turn
    language: str | None = None
    #: dialogs finished in this turn
    finished: list[str] = field(default_factory=list)
