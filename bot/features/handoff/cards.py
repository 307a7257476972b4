"""What coaches see: the request card and its buttons, the queue, the digest, reminders.

Everything for the coach chat is HTML (bold labels, links to cards, mentions), so every value
put into it — above all what a person typed (first name, details, free-text answers) but also
coach names and content texts — goes through :func:`html.escape`. Nothing here touches the
database or Telegram: the functions take snapshots and return text and keyboards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import App
from bot.engine.runner import TurnContext
from bot.engine.schema import ChoiceStep, Step
from bot.telegram.callbacks import DatabaseInts
from db.repositories import CLAIMED, CLOSED, NEW, RequestInfo

from .section import SavedReply, handoff_content

MAX_MESSAGE = 4096
#: budgets in characters of the escaped HTML: a card stays under Telegram's limit
MAX_DETAILS = 1500
MAX_VALUE = 300
MAX_ANSWER = 300
MAX_ANSWER_LINES = 25


class CardAction(CallbackData, DatabaseInts, prefix="h"):
    """A button on a card. Only ``rid`` names the request, and it is checked against the card
    the button was pressed on (and the presser against the coaches table), never trusted."""

    op: str
    rid: int
    arg: str = ""


# card button operations (one letter: callback data is at most 64 bytes)
CLAIM, REPLY, SAVED, SEND_SAVED, RELEASE, CLOSE, OUTCOME, BACK = "crmslxob"

#: how a closed request ended (stored values; labels in ``coach.outcome.*``)
OUTCOMES = (
    "employed",
    "part_time",
    "subsidised_job",
    "work_trial",
    "education",
    "entrepreneurship",
    "other_services",
    "no_longer_needed",
    "no_answer",
)

#: keyboards a claimed card can show
MAIN, CLOSING, SAVED_LIST = "main", "close", "saved"


class Labels:
    """Texts of the coach chat in one language, and the labels of people's answers."""

    def __init__(self, app: App, language: str | None = None) -> None:
        self.app = app
        self.language = language or app.settings.default_language
        self.zone = handoff_content(app).office.zone
        self._steps: dict[str, Step] | None = None

    def t(self, key: str, **params: Any) -> str:
        return self.app.t(key, self.language, **params)

    def _step_for(self, key: str) -> Step | None:
        if self._steps is None:
            dialogs = self.app.content.dialogs.dialogs
            ordered = sorted(dialogs.values(), key=lambda d: d.id != "handoff")
            steps: dict[str, Step] = {}
            for dialog in ordered:
                for step in dialog.steps:
                    save_as = getattr(step, "save_as", None)
                    if save_as and save_as not in steps:
                        steps[save_as] = step
            self._steps = steps
        return self._steps.get(key)

    def answer(self, key: str, value: Any) -> str:
        """An answer as the option label the person pressed (or as typed)."""
        step = self._step_for(key)
        if isinstance(step, ChoiceStep):
            ctx = TurnContext(language=self.language)
            return self.app.engine.display_value(step, value, ctx)
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)

    def question(self, key: str) -> str:
        step = self._step_for(key)
        if step is not None and step.label is not None:
            return self.app.content.texts.resolve(step.label, self.language)
        return key

    def when(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        return f"{local.day}.{local.month}.{local.year} {local:%H:%M}"

    def age(self, since: datetime, now: datetime) -> str:
        minutes = max(0, int((now - since).total_seconds() // 60))
        if minutes < 60:
            return self.t("coach.age.minutes", n=minutes)
        if minutes < 48 * 60:
            return self.t("coach.age.hours", n=minutes // 60)
        return self.t("coach.age.days", n=minutes // (24 * 60))


def mention(name: str, telegram_id: int | None) -> str:
    """A coach's name that notifies them (HTML)."""
    if telegram_id is None:
        return escape(name)
    return f'<a href="tg://user?id={telegram_id}">{escape(name)}</a>'


def message_link(chat_id: int | None, message_id: int | None, thread_id: int | None = None) -> str:
    """A t.me link to a message of a supergroup ('' for other chats)."""
    text = str(chat_id or "")
    if not text.startswith("-100") or message_id is None:
        return ""
    internal = text[4:]
    if thread_id:
        return f"https://t.me/c/{internal}/{thread_id}/{message_id}"
    return f"https://t.me/c/{internal}/{message_id}"


def _status(labels: Labels, req: RequestInfo) -> tuple[str, str]:
    coach = req.coach_name or "?"
    if req.status == NEW:
        return "🆕", labels.t("coach.status.new")
    if req.status == CLAIMED:
        return "🙋", labels.t("coach.status.claimed", coach=coach)
    return "✅", labels.t("coach.status.closed", coach=coach)


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fit(text: str, budget: int) -> str:
    """``text`` escaped for HTML, shortened (before escaping, so no entity is cut in half)
    until the escaped form takes at most ``budget`` characters."""
    text = text.strip()
    escaped = escape(text)
    if len(escaped) <= budget:
        return escaped
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix whose escaped form fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if len(escape(text[:mid].rstrip())) + 1 <= budget:
            lo = mid
        else:
            hi = mid - 1
    return escape(text[:lo].rstrip()) + "…"


def contact_text(labels: Labels, req: RequestInfo) -> str:
    """How the person wants to be reached, as the coach reads it."""
    text = labels.answer("contact_method", req.contact_method)
    if req.contact_method == "phone" and req.phone:
        text += f": {req.phone}"
    if req.contact_method == "meeting" and req.meeting_preference:
        text += f" ({labels.answer('meeting_preference', req.meeting_preference)})"
    return text


def card_text(labels: Labels, req: RequestInfo, *, header: str | None = None) -> str:
    """The card of ``req`` (HTML): who, what about, how to reach them, what they shared."""
    dash = labels.t("coach.card.none")
    icon, status = _status(labels, req)
    top = [escape(header)] if header else []
    top.append(
        f"{icon} <b>{escape(labels.t('coach.card.title', id=req.id))}</b> · {escape(status)}"
    )

    def row(key: str, value: str | None, budget: int = MAX_VALUE) -> str:
        return f"<b>{escape(labels.t(key))}:</b> {_fit(value or dash, budget)}"

    body = [
        row("coach.card.name", req.first_name),
        row("coach.card.language", labels.t(f"coach.language.{req.language}")),
    ]
    if req.share_answers:  # coaches see only what the person agreed to share
        body += [
            row(
                "coach.card.municipality",
                labels.answer("municipality", req.municipality) if req.municipality else None,
            ),
            row(
                "coach.card.age_group",
                labels.answer("age_group", req.age_group) if req.age_group else None,
            ),
        ]
    body += [
        row("coach.card.topic", labels.answer("handoff_topic", req.topic)),
        row("coach.card.contact", contact_text(labels, req)),
    ]
    if req.details:
        body.append(row("coach.card.details", req.details, MAX_DETAILS))
    answers: list[str] = []
    if not req.share_answers:
        answers.append(f"<i>{escape(labels.t('coach.card.not_shared'))}</i>")
    elif req.shared_answers:
        answers.append(f"<b>{escape(labels.t('coach.card.answers'))}:</b>")
        for key, value in list(req.shared_answers.items())[:MAX_ANSWER_LINES]:
            line = f"{labels.question(key)}: {labels.answer(key, value)}"
            answers.append("• " + _fit(line, MAX_ANSWER))
    tail = [row("coach.card.received", labels.when(req.created_at))]
    if req.outcome:
        tail.append(row("coach.card.outcome", labels.t(f"coach.outcome.{req.outcome}")))
    if req.feedback:
        tail.append(
            row("coach.card.feedback", labels.t("coach.card.feedback_value", n=req.feedback))
        )
    truncated = False
    while True:
        shown = [*answers, "…"] if truncated else answers
        text = "\n".join([*top, *body, *shown, *tail])
        if len(text) <= MAX_MESSAGE or len(answers) <= 1:
            return text[:MAX_MESSAGE]
        answers = answers[:-1]
        truncated = True


def _button(label: str, op: str, req: RequestInfo, arg: str = "") -> InlineKeyboardButton:
    data = CardAction(op=op, rid=req.id, arg=arg).pack()
    return InlineKeyboardButton(text=label, callback_data=data)


def card_keyboard(
    labels: Labels,
    req: RequestInfo,
    mode: str = MAIN,
    saved: Sequence[SavedReply] = (),
) -> InlineKeyboardMarkup | None:
    """The buttons of a card in its current state (none once closed)."""
    t = labels.t
    if req.status == CLOSED:
        return None
    if req.status == NEW:
        rows = [[_button(t("coach.button.claim"), CLAIM, req)]]
    elif mode == CLOSING:
        rows = [[_button(t(f"coach.outcome.{o}"), OUTCOME, req, o)] for o in OUTCOMES]
        rows.append([_button(t("coach.button.back"), BACK, req)])
    elif mode == SAVED_LIST:
        fallback = labels.app.settings.default_language
        rows = [
            [_button(r.label_in(labels.language, fallback), SEND_SAVED, req, r.id)] for r in saved
        ]
        rows.append([_button(t("coach.button.back"), BACK, req)])
    else:
        first = [_button(t("coach.button.reply"), REPLY, req)]
        if saved:
            first.append(_button(t("coach.button.saved"), SAVED, req))
        rows = [
            first,
            [
                _button(t("coach.button.release"), RELEASE, req),
                _button(t("coach.button.close"), CLOSE, req),
            ],
        ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def topic_name(labels: Labels, req: RequestInfo) -> str:
    """The forum topic of a request (plain text, at most 128 characters)."""
    name = labels.t(
        "coach.topic_name",
        id=req.id,
        name=req.first_name or labels.t("coach.card.none"),
        topic=labels.answer("handoff_topic", req.topic),
    )
    return _cut(name, 128)


def person_header(labels: Labels, req: RequestInfo) -> str:
    """The first line of a person's relayed message in the coach chat (plain text)."""
    return labels.t("coach.from_person", name=req.first_name or "?", id=req.id)


def _queue_line(labels: Labels, req: RequestInfo, now: datetime) -> str:
    parts = [
        labels.t("coach.queue.request", id=req.id),
        labels.age(req.created_at, now),
        labels.answer("handoff_topic", req.topic),
    ]
    if req.municipality and req.share_answers:
        parts.append(labels.answer("municipality", req.municipality))
    parts.append(
        labels.t("coach.queue.unclaimed")
        if req.status == NEW
        else labels.t("coach.queue.claimed", coach=req.coach_name or "?")
    )
    line = escape(" · ".join(parts))
    link = message_link(req.telegram_chat_id, req.card_message_id, req.topic_thread_id)
    if link:
        line += f' · <a href="{escape(link)}">{escape(labels.t("coach.queue.open"))}</a>'
    return "• " + line


def queue_text(
    labels: Labels,
    requests: Iterable[RequestInfo],
    now: datetime,
    *,
    title: str,
    empty: str,
    limit: int = 30,
) -> str:
    """A list of requests with their age and a link to each card (HTML)."""
    items = list(requests)
    if not items:
        return escape(labels.t(empty))
    lines = [f"<b>{escape(labels.t(title, count=len(items)))}</b>"]
    lines += [_queue_line(labels, r, now) for r in items[:limit]]
    if len(items) > limit:
        lines.append(escape(labels.t("coach.queue.more", count=len(items) - limit)))
    return "\n".join(lines)[:MAX_MESSAGE]


def digest_text(
    labels: Labels,
    now: datetime,
    *,
    new_count: int,
    unclaimed: Sequence[RequestInfo],
    overdue: Sequence[RequestInfo],
) -> str:
    """The morning digest (HTML)."""
    lines = [
        f"<b>{escape(labels.t('coach.digest.title', date=labels.when(now).split()[0]))}</b>",
        escape(labels.t("coach.digest.new", count=new_count)),
        escape(labels.t("coach.digest.unclaimed", count=len(unclaimed))),
        escape(labels.t("coach.digest.overdue", count=len(overdue))),
    ]
    if overdue:
        lines.append("")
        lines += [_queue_line(labels, r, now) for r in overdue[:20]]
    elif not unclaimed:
        lines.append(escape(labels.t("coach.digest.none")))
    return "\n".join(lines)[:MAX_MESSAGE]


def reminder_text(labels: Labels, req: RequestInfo, days: int) -> str:
    """A nudge to the coach of a silent request (HTML, mentions the coach)."""
    text = escape(labels.t("coach.reminder", coach="\x00", id=req.id, days=days))
    return text.replace("\x00", mention(req.coach_name or "?", req.coach_telegram_id))


def reannounce_header(labels: Labels, req: RequestInfo, now: datetime) -> str:
    return labels.t("coach.card.reannounced", waited=labels.age(req.created_at, now))


# -- buttons outside the coach chat --------------------------------------------------------


class FeedbackData(CallbackData, DatabaseInts, prefix="hf"):
    """The person's answer to "did this help?" (checked against the request's owner)."""

    rid: int
    score: int


class OutboxAdmin(CallbackData, DatabaseInts, prefix="ha"):
    """An admin's "send it again" for an outbox message whose delivery is not confirmed."""

    oid: int


def feedback_keyboard(request_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=str(n), callback_data=FeedbackData(rid=request_id, score=n).pack()
                )
                for n in range(1, 6)
            ]
        ]
    )


def resend_keyboard(labels: Labels, outbox_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        text=labels.t("coach.alert.resend"), callback_data=OutboxAdmin(oid=outbox_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])
