"""What a turn produces, independent of Telegram: texts, buttons, files — and how the
messages of a turn share one message with the question that ends it (:func:`fold`)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: the longest text of one Telegram message
MAX_MESSAGE = 4096
#: what separates texts that share a message
PARAGRAPH = "\n\n"


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
    ``question_below`` lets the dialog's next question join this message although it has
    buttons of its own (the question's buttons come after them); see :func:`fold`.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    document: Document | None = None
    question_below: bool = False

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
    #: the person left the dialog they were in other than by its own steps (the menu, another
    #: dialog started by a command or a word, a feature taking the conversation over)
    left: bool = False


def _joins(reply: Reply) -> bool:
    """Whether ``reply`` may share the message of a question that follows it."""
    if reply.edit or reply.document is not None:
        return False
    return not reply.buttons or reply.question_below


def fold(replies: list[Reply], question: Reply) -> tuple[Reply, Reply | None]:
    """Join ``question`` with the new messages just before it into one message.

    Editors write small message steps; the person gets them with the question they lead to,
    one message, texts a blank line apart. Taken from the end of ``replies`` (and removed
    there): text-only messages, and at most one message with buttons marked
    ``question_below``, which then starts the run (a message with buttons may be replaced in
    place by its feature when one of them is pressed: text above it stays a message of its
    own, so the replacement never erases it). Edits and files stay as they are, and a run
    stops before the joined text would pass Telegram's limit. Returns the joined question and
    what sits above the question in it (None when nothing joined), which edits of that
    message keep.
    """
    size = len(question.text)
    start = len(replies)
    while start > 0:
        before = replies[start - 1]
        size += len(before.text) + len(PARAGRAPH)
        if not _joins(before) or size > MAX_MESSAGE:
            break
        start -= 1
        if before.buttons:
            break
    run = replies[start:]
    if not run:
        return question, None
    del replies[start:]
    lead = Reply(PARAGRAPH.join(r.text for r in run), tuple(row for r in run for row in r.buttons))
    joined = Reply(
        lead.text + PARAGRAPH + question.text, lead.buttons + question.buttons, edit=question.edit
    )
    return joined, lead
