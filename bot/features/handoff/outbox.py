"""Delivery of handoff messages through the ``outbox`` table: at least once, and never twice.

Everything the handoff sends to the coach chat (cards, re-announcements, people's messages,
reminders, the digest) and to people (a coach's messages, "a coach has your request", the
feedback question), and the removal of a request's messages from the coach chat when its
person's data is deleted (``scrub``), is first written to the outbox in the same transaction
as the change it belongs to, and delivered afterwards by :func:`deliver_outbox` (a scheduler
job, woken right after each commit). A row is delivered in three steps:

1. **claim** (a short transaction): a conditional UPDATE turns a due ``pending`` (or ``held``)
   row into ``sending`` until ``now + LEASE``; of several workers exactly one gets it;
2. **send**, with the :class:`OutboxGuard` active;
3. **record** (a short transaction): ``sent``, with the Telegram message id, and the card and
   link bookkeeping.

One chat's rows go in the order queued, with one exception: request cards (:data:`FIRST`) go
ahead of everything else queued for the coach chat, also when one is queued while a pass is
sending there. The group takes 20 messages a minute; a person chatting with their coach must
not keep a new request from the coaches.

What a failure means for the row:

* **429** — Telegram refused the message: ``pending`` again after ``retry_after``.
* **5xx, connection refused** — Telegram answered with an error, or the request never left:
  ``pending`` again after a growing backoff (5 s, 10 s, … 10 min), for ever.
* **400/403/404 from the coach chat** (bot removed, no rights, group upgraded) — ``held``:
  tried again every hour and the admins are told once, privately. The request stays in the
  database, in ``/queue`` and in the morning digest: it is never lost.
* **403 from a person** — they blocked the bot: the coach is told in the coach chat.
* **unknown outcome** — a timeout or a dropped connection after the request was written, or a
  crash between steps 2 and 3 (the lease runs out): the message may or may not be in the chat.

The unknown outcome is the one case where "never lost" and "never twice" pull apart, because
the Bot API has no idempotency key and a bot cannot read a group's history to check. We keep
"never twice": such a row becomes ``unknown`` and is **not** sent again automatically. Nothing
is lost either: the admins get a private message with a "send again" button, the request is
still listed by ``/queue`` and the digest, and an unclaimed request is re-announced (as a full
card with the claim button) after the configured working hours. A coach taking the request
settles the question (the row is skipped). The window is small: the guard turns aiogram's
automatic retries off for outbox sends, so only the one request in flight is ever ambiguous.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InlineKeyboardMarkup, ReactionTypeEmoji, ReplyParameters
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.telegram.handlers.errors import where
from db.repositories import (
    NEW,
    HandoffRepository,
    LinkRepository,
    OutboxItem,
    OutboxRepository,
    PersonRepository,
    RelayRepository,
    RequestInfo,
)

from . import cards
from .cards import Labels
from .section import handoff_content
from .service import (
    CARD,
    DIGEST,
    GROUP_TEXT,
    REANNOUNCE,
    RELAY_IN,
    SCRUB,
    TO_PERSON,
    TO_PERSON_DIR,
)

log = logging.getLogger(__name__)

#: sent ahead of everything else queued for the coach chat: the cards of requests
FIRST = (CARD, REANNOUNCE)
JOB = "handoff.outbox"
#: how long a claimed row belongs to its sender; past it, the outcome is unknown
LEASE = timedelta(minutes=5)
HELD_RETRY = timedelta(hours=1)
MAX_BACKOFF = 600.0
REQUEST_TIMEOUT = 30
MAX_PER_PASS = 500
#: destinations (chats) served at the same time in one pass; one chat's rows go in order
LANES = 16
#: a lane takes no new row after this many seconds of a pass: the next pass looks for new
#: cards (a long lane of messages to one person must not keep a card waiting)
LANE_S = 5.0
DELIVERED_REACTION = "👌"


# -- the guard: no blind retries for outbox sends -------------------------------------------


class DeliveryRetryError(Exception):
    """Telegram certainly did not deliver the message; try again (after ``after`` seconds)."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class DeliveryUnknownError(Exception):
    """The request may or may not have been carried out."""


class DeliveryRefusedError(Exception):
    """Telegram will never accept this message as it is."""


_OUTBOX_CALL: ContextVar[bool] = ContextVar("urapolku_outbox_call", default=False)


@contextlib.contextmanager
def outbox_call() -> Iterator[None]:
    """Bot API calls made inside are outbox sends (see :class:`OutboxGuard`)."""
    token = _OUTBOX_CALL.set(True)
    try:
        yield
    finally:
        _OUTBOX_CALL.reset(token)


class OutboxGuard(BaseRequestMiddleware):
    """The innermost request middleware: for outbox sends, turns Telegram's failures into
    the outbox's own exceptions, which the retrying middleware further out does not catch —
    so a send whose outcome is unknown is never repeated behind the outbox's back, and 429 and
    5xx are retried by the outbox (with its backoff kept in the database), not inline."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not _OUTBOX_CALL.get():
            return await make_request(bot, method)
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as exc:
            raise DeliveryRetryError("429", float(exc.retry_after)) from exc
        except TelegramServerError as exc:
            raise DeliveryRetryError("5xx") from exc
        except TelegramEntityTooLarge as exc:
            raise DeliveryRefusedError("413") from exc
        except TelegramNetworkError as exc:
            # aiogram names the aiohttp error; "cannot connect" means nothing was sent
            if exc.message.startswith("ClientConnector"):
                raise DeliveryRetryError("connect") from exc
            raise DeliveryUnknownError("network") from exc
        except TelegramAPIError:
            raise  # Telegram's answer, read: the outbox knows what each one means
        except Exception as exc:
            # The request went out and its answer could not be read (aiogram's
            # ClientDecodeError, when Telegram adds a field aiogram does not know yet): it may
            # well have been carried out.
            raise DeliveryUnknownError(f"unreadable answer ({type(exc).__name__})") from exc


def install_guard(bot: Bot) -> None:
    """Make sure ``bot``'s session has the guard innermost (idempotent)."""
    if not any(isinstance(m, OutboxGuard) for m in bot.session.middleware):
        bot.session.middleware(OutboxGuard())


def kick(app: App) -> None:
    """Deliver now rather than at the job's next tick (call after the commit)."""
    if app.scheduler is not None:
        app.scheduler.wake(JOB)


def backoff(attempts: int) -> float:
    return float(min(MAX_BACKOFF, 5 * 2 ** max(0, attempts - 1)))


# -- one pass ------------------------------------------------------------------------------

#: after one row: go on with the lane; stop the lane (its chat's order is kept); go on with
#: other requests' rows but not this request's (it failed in a way nobody expected)
CONTINUE, STOP, SET_ASIDE = "continue", "stop", "set aside"
#: a row that failed in a way nobody expected this many times is held for the admins
MAX_UNEXPECTED = 3


@dataclasses.dataclass(slots=True)
class _Pass:
    app: App
    bot: Bot
    labels: Labels
    forum: dict[int, bool] = dataclasses.field(default_factory=dict)
    sent: int = 0

    async def is_forum(self, chat_id: int) -> bool:
        if chat_id not in self.forum:
            try:
                chat = await self.bot.get_chat(chat_id)
                self.forum[chat_id] = bool(chat.is_forum)
            except Exception as exc:  # e.g. an answer aiogram cannot read: no topics then
                log.warning("could not look at the coach chat: %s", type(exc).__name__)
                self.forum[chat_id] = False
        return self.forum[chat_id]


async def deliver_outbox(app: App, bot: Bot) -> int:
    """One pass over the due outbox rows; returns how many were delivered.

    Cards go first (:data:`FIRST`): in each pass, and, in the coach chat's lane, ahead of what
    is left of the pass when one is queued meanwhile. No lane takes a new row after
    :data:`LANE_S`, so that the next pass (at once, while there is work) soon looks again."""
    install_guard(bot)
    await _expire_leases(app, bot)
    async with app.db.read() as session:
        due = await OutboxRepository(session).due(app.clock(), limit=MAX_PER_PASS, first=FIRST)
    if not due:
        return 0
    run = _Pass(app, bot, Labels(app))
    lanes: dict[int, list[OutboxItem]] = {}
    for item in due:
        chat_id = item.telegram_chat_id or app.settings.coach_chat_id
        if chat_id is None:
            await _hold(run, item, "COACH_CHAT_ID is not set", now=app.clock())
            continue
        lanes.setdefault(chat_id, []).append(item)
    limit = asyncio.Semaphore(LANES)
    loop = asyncio.get_running_loop()
    ends = loop.time() + LANE_S
    seen = {item.id for item in due}

    async def lane(chat_id: int, items: list[OutboxItem]) -> None:
        async with limit:
            set_aside: set[int] = set()  # requests whose earlier item failed unexpectedly
            queue = deque(items)
            while queue and loop.time() < ends:
                item = queue.popleft()
                if item.request_id is not None and item.request_id in set_aside:
                    continue  # keeps the request's order: it goes on at the next pass
                outcome = await _deliver_one(run, item, chat_id)
                if outcome == STOP:
                    return
                if outcome == SET_ASIDE and item.request_id is not None:
                    set_aside.add(item.request_id)
                if queue and item.telegram_chat_id is None:
                    queue.extendleft(reversed(await _new_cards(run, seen)))

    await asyncio.gather(*(lane(c, items) for c, items in lanes.items()))
    return run.sent


async def _new_cards(run: _Pass, seen: set[int]) -> list[OutboxItem]:
    """Cards for the coach chat queued since the pass began (a new request must not wait
    behind a chatty person's relayed messages: the group takes 20 messages a minute)."""
    async with run.app.db.read() as session:
        due = await OutboxRepository(session).due(run.app.clock(), limit=LANES, only=FIRST)
    fresh = [item for item in due if item.id not in seen and item.telegram_chat_id is None]
    seen.update(item.id for item in fresh)
    return fresh


async def _expire_leases(app: App, bot: Bot) -> None:
    async with app.db.transaction() as session:
        repo = OutboxRepository(session)
        expired = await repo.expired_leases(app.clock())
        for item in expired:
            await repo.mark_unknown(item.id, error="lease expired")
    for item in expired:
        log.error(
            "outbox %s (%s): the sender vanished mid-send; outcome unknown", item.id, item.kind
        )
        await alert_admins(app, bot, "coach.alert.unknown", item)


async def _deliver_one(run: _Pass, item: OutboxItem, chat_id: int) -> str:
    """Claim, send and record one row; whatever it raises stays with it (:func:`_unexpected`)."""
    app = run.app
    now = app.clock()
    try:
        async with app.db.transaction() as session:
            repo = OutboxRepository(session)
            if not await repo.claim(item.id, now=now, lease=LEASE):
                return CONTINUE  # another worker has it
            req = await HandoffRepository(session).get(item.request_id) if item.request_id else None
            if item.kind in (CARD, REANNOUNCE) and (
                req is None or (item.kind == REANNOUNCE and req.status != NEW)
            ):
                await repo.mark_skipped(item.id, reason="no longer needed")
                return CONTINUE
    except Exception as exc:  # not claimed (rolled back): nothing was sent
        return await _unexpected(run, item, exc, now=now, claimed=False)
    try:
        with outbox_call():
            message_id = await _send(run, item, chat_id, req)
    except DeliveryRetryError as exc:
        delay = exc.after + 1 if exc.after is not None else backoff(item.attempts + 1)
        log.warning("outbox %s: %s; retrying in %.0fs", item.id, exc.reason, delay)
        async with app.db.transaction() as session:
            await OutboxRepository(session).mark_retry(
                item.id, at=now + timedelta(seconds=delay), error=exc.reason
            )
        return STOP  # keep this chat's order: the rest waits for the next pass
    except DeliveryUnknownError:
        log.error(
            "outbox %s (%s): outcome unknown; not sent again automatically", item.id, item.kind
        )
        async with app.db.transaction() as session:
            await OutboxRepository(session).mark_unknown(item.id, error="network: outcome unknown")
        await alert_admins(app, run.bot, "coach.alert.unknown", item)
        return CONTINUE
    except DeliveryRefusedError as exc:
        return await _refused(run, item, req, str(exc), now=now)
    except TelegramMigrateToChat as exc:
        await _hold(run, item, "the group became a supergroup", now=now)
        await alert_admins(
            app, run.bot, "coach.alert.migrated", item, chat_id=exc.migrate_to_chat_id
        )
        return STOP
    except TelegramForbiddenError as exc:
        if item.telegram_chat_id is not None:
            return await _person_blocked(run, item, chat_id, req, now=now)
        return await _refused(run, item, req, f"403 {exc.message}", now=now)
    except TelegramBadRequest as exc:
        if item.telegram_chat_id is None and req is not None and "thread not found" in exc.message:
            return await _topic_gone(run, item, req, now=now)
        return await _refused(run, item, req, f"400 {exc.message}", now=now)
    except TelegramAPIError as exc:
        return await _refused(run, item, req, type(exc).__name__, now=now)
    except Exception as exc:  # a bug, bad data: the guard turns a send's own failures into ours
        return await _unexpected(run, item, exc, now=now, claimed=True)
    try:
        await _record(run, item, chat_id, req, message_id)
    except Exception as exc:
        log.error(
            "outbox %s (%s): sent but not recorded (%s at %s); counts as unknown once its "
            "lease runs out",
            item.id,
            item.kind,
            type(exc).__name__,
            where(exc),
        )
    return CONTINUE


# -- sending -------------------------------------------------------------------------------


def _placement(req: RequestInfo | None, chat_id: int) -> tuple[int | None, ReplyParameters | None]:
    """Where in the coach chat a request's message goes: its forum topic, or under its card."""
    if req is None or req.telegram_chat_id != chat_id:
        return None, None
    if req.topic_thread_id:
        return req.topic_thread_id, None
    if req.card_message_id:
        return None, ReplyParameters(
            message_id=req.card_message_id, allow_sending_without_reply=True
        )
    return None, None


async def _card_thread(run: _Pass, req: RequestInfo, chat_id: int) -> RequestInfo:
    """In a forum, give the request its own topic before its first card goes out."""
    if req.topic_thread_id or req.card_message_id or not await run.is_forum(chat_id):
        return req
    name = cards.topic_name(run.labels, req)
    try:
        topic = await run.bot.create_forum_topic(chat_id, name, request_timeout=REQUEST_TIMEOUT)
    except DeliveryUnknownError:
        # At worst an empty extra topic: retrying is harmless, unlike for the card itself.
        raise DeliveryRetryError("topic: outcome unknown") from None
    except TelegramBadRequest as exc:
        log.warning("no forum topic for request %s (%s); posting in General", req.id, exc.message)
        return req
    async with run.app.db.transaction() as session:
        await HandoffRepository(session).set_topic(req.id, chat_id, topic.message_thread_id)
    return dataclasses.replace(
        req, telegram_chat_id=chat_id, topic_thread_id=topic.message_thread_id
    )


async def _send(run: _Pass, item: OutboxItem, chat_id: int, req: RequestInfo | None) -> int:
    bot, labels, payload = run.bot, run.labels, item.payload
    if item.kind in (CARD, REANNOUNCE):
        assert req is not None
        req = await _card_thread(run, req, chat_id)
        header = (
            cards.reannounce_header(labels, req, run.app.clock())
            if item.kind == REANNOUNCE
            else None
        )
        saved = handoff_content(run.app).saved_replies
        thread, reply = (
            _placement(req, chat_id) if item.kind == REANNOUNCE else (req.topic_thread_id, None)
        )
        message = await bot.send_message(
            chat_id,
            cards.card_text(labels, req, header=header),
            parse_mode="HTML",
            reply_markup=cards.card_keyboard(labels, req, saved=saved),
            message_thread_id=thread,
            reply_parameters=reply,
            request_timeout=REQUEST_TIMEOUT,
        )
        return message.message_id
    if item.kind == RELAY_IN:
        assert req is not None
        thread, reply = _placement(req, chat_id)
        header = cards.person_header(labels, req)
        if payload.get("edited"):
            header += " " + labels.t("coach.edited")
        if "text" in payload:
            parts = int(payload.get("parts", 1))
            if parts > 1:
                header += f" ({payload.get('part')}/{parts})"
            message = await bot.send_message(
                chat_id,
                f"{header}\n{payload['text']}",
                parse_mode=None,  # plain text: nothing a person typed can become markup
                message_thread_id=thread,
                reply_parameters=reply,
                request_timeout=REQUEST_TIMEOUT,
            )
            return message.message_id
        caption = header + (f"\n{payload['caption']}" if payload.get("caption") else "")
        copied = await bot.copy_message(
            chat_id,
            from_chat_id=int(payload["person_chat"]),
            message_id=int(payload["person_message"]),
            caption=caption[:1024],
            parse_mode=None,
            message_thread_id=thread,
            reply_parameters=reply,
            request_timeout=REQUEST_TIMEOUT,
        )
        return copied.message_id
    if item.kind == TO_PERSON:
        if "copy_message" in payload:
            copied = await bot.copy_message(
                chat_id,
                from_chat_id=int(payload["copy_chat"]),
                message_id=int(payload["copy_message"]),
                caption=str(payload.get("text") or "")[:1024] or None,
                parse_mode=None,
                request_timeout=REQUEST_TIMEOUT,
            )
            return copied.message_id
        markup: InlineKeyboardMarkup | None = None
        if payload.get("feedback") and item.request_id is not None:
            markup = cards.feedback_keyboard(item.request_id)
        message = await bot.send_message(
            chat_id,
            str(payload["text"]),
            parse_mode=None,
            reply_markup=markup,
            request_timeout=REQUEST_TIMEOUT,
        )
        return message.message_id
    if item.kind == SCRUB:
        assert req is not None
        return await _scrub(run, item, req, chat_id)
    if item.kind in (GROUP_TEXT, DIGEST):
        thread, reply = _placement(req, chat_id)
        message = await bot.send_message(
            chat_id,
            str(payload["html"]),
            parse_mode="HTML",
            message_thread_id=thread,
            reply_parameters=reply,
            request_timeout=REQUEST_TIMEOUT,
        )
        return message.message_id
    raise DeliveryRefusedError(f"unknown kind {item.kind}")


async def _scrub(run: _Pass, item: OutboxItem, req: RequestInfo, chat_id: int) -> int:
    """The person asked for their data to be deleted: their request's messages leave the coach
    chat too. In a forum the request's topic goes, with everything in it. Otherwise each
    message the bot posted for the request is deleted; one Telegram no longer lets the bot
    delete (older than 48 hours) has its text or caption replaced, and the card says what
    happened. What is left anyway (a photo too old to delete) is reported to the admins.
    Deleting and editing again is harmless, so an unknown outcome is simply tried again."""
    bot = run.bot
    chat = req.telegram_chat_id or chat_id
    try:
        if req.topic_thread_id and await _done(
            bot.delete_forum_topic(chat, req.topic_thread_id, request_timeout=REQUEST_TIMEOUT)
        ):
            return 0
        async with run.app.db.read() as session:
            links = await LinkRepository(session).of_request(req.id)
        marker = run.labels.t("coach.erased.message")
        left = 0
        for link_chat, message_id, kind in links:
            if kind == "card":
                text = run.labels.t("coach.erased.card", id=req.id)
                done = await _done(
                    bot.edit_message_text(text, chat_id=link_chat, message_id=message_id)
                )
            else:
                done = (
                    await _done(bot.delete_message(link_chat, message_id))
                    or await _done(
                        bot.edit_message_text(marker, chat_id=link_chat, message_id=message_id)
                    )
                    or await _done(
                        bot.edit_message_caption(
                            chat_id=link_chat, message_id=message_id, caption=marker
                        )
                    )
                )
            left += not done
    except DeliveryUnknownError:
        raise DeliveryRetryError("scrub: outcome unknown") from None
    if left:
        log.warning("request %s: %d message(s) left in the coach chat after erasure", req.id, left)
        await alert_admins(run.app, bot, "coach.alert.scrub_left", item, count=left)
    return 0


async def _done(call: Awaitable[Any]) -> bool:
    """Whether a delete or edit in the coach chat left the message without the person's data:
    done, or the message was already gone or already so."""
    try:
        await call
    except TelegramBadRequest as exc:
        return any(
            words in exc.message
            for words in ("not found", "not modified", "MESSAGE_ID_INVALID", "TOPIC_ID_INVALID")
        )
    return True


async def _record(
    run: _Pass, item: OutboxItem, chat_id: int, req: RequestInfo | None, message_id: int
) -> None:
    """Step 3. If this transaction fails, the row stays ``sending`` until its lease ends and
    then counts as unknown: never as unsent."""
    app = run.app
    async with app.db.transaction() as session:
        await OutboxRepository(session).mark_sent(item.id, message_id, now=app.clock())
        relay_id = item.payload.get("relay_id")
        if item.kind in (CARD, REANNOUNCE) and req is not None:
            await HandoffRepository(session).set_card(req.id, chat_id, message_id)
            await LinkRepository(session).link(chat_id, message_id, req.id, "card")
        elif item.kind in (RELAY_IN, GROUP_TEXT) and req is not None:
            kind = "relay" if item.kind == RELAY_IN else "note"
            await LinkRepository(session).link(chat_id, message_id, req.id, kind)
        if relay_id is not None:
            field = "coach_chat_message_id" if item.kind == RELAY_IN else "person_message_id"
            await RelayRepository(session).set_status(int(relay_id), "sent", **{field: message_id})
    run.sent += 1
    payload = item.payload
    if item.kind == RELAY_IN and payload.get("part", 1) == payload.get("parts", 1):
        # a quiet "delivered" for the person, on the message they wrote
        with contextlib.suppress(TelegramAPIError):
            await run.bot.set_message_reaction(
                int(payload["person_chat"]),
                int(payload["person_message"]),
                reaction=[ReactionTypeEmoji(emoji=DELIVERED_REACTION)],
            )


# -- failures ------------------------------------------------------------------------------


async def _unexpected(
    run: _Pass, item: OutboxItem, exc: Exception, *, now: datetime, claimed: bool
) -> str:
    """A row failed in a way nobody planned for (any exception type), before anything was sent
    (the guard turns a send's own failures into the outbox's exceptions): logged with its id,
    tried again with backoff, and after :data:`MAX_UNEXPECTED` tries held for the admins (told
    once, tried again hourly). The other rows go on; this request's next ones wait for it."""
    attempts = item.attempts + 1  # the claim counts each try (a failed claim did not)
    log.error(
        "outbox %s (%s) failed, try %d: %s at %s",
        item.id,
        item.kind,
        attempts,
        type(exc).__name__,
        where(exc),
    )
    reason = f"unexpected {type(exc).__name__}"
    try:
        if attempts >= MAX_UNEXPECTED:
            await _hold(run, item, reason, now=now)
        else:
            async with run.app.db.transaction() as session:
                await OutboxRepository(session).defer(
                    item.id,
                    at=now + timedelta(seconds=backoff(attempts)),
                    error=reason,
                    attempts=attempts,
                    claimed=claimed,
                )
    except Exception as failure:
        log.error("outbox %s: could not record its failure: %s", item.id, type(failure).__name__)
    return SET_ASIDE


async def _hold(run: _Pass, item: OutboxItem, reason: str, *, now: datetime) -> None:
    async with run.app.db.transaction() as session:
        first = await OutboxRepository(session).mark_held(
            item.id, at=now + HELD_RETRY, error=reason
        )
    log.error("outbox %s (%s) held: %s", item.id, item.kind, reason)
    if first:
        await alert_admins(run.app, run.bot, "coach.alert.held", item, reason=reason)


async def _refused(
    run: _Pass, item: OutboxItem, req: RequestInfo | None, reason: str, *, now: datetime
) -> str:
    """Telegram will not take this message now: for the coach chat, hold it (never lost);
    for a person, give up on it and tell the coach."""
    if item.telegram_chat_id is None:  # the coach chat: keep it, never lose a request
        await _hold(run, item, reason, now=now)
        return STOP
    log.warning("outbox %s: not delivered to a person: %s", item.id, reason)
    async with run.app.db.transaction() as session:
        await OutboxRepository(session).mark_skipped(item.id, reason=reason)
        relay_id = item.payload.get("relay_id")
        if relay_id is not None:
            await RelayRepository(session).set_status(int(relay_id), "failed")
            if req is not None:
                await _notice(session, run, req, "coach.not_delivered", f"failed:{item.id}", now)
    kick(run.app)
    return CONTINUE


async def _person_blocked(
    run: _Pass, item: OutboxItem, chat_id: int, req: RequestInfo | None, *, now: datetime
) -> str:
    log.info("outbox %s: the person has blocked the bot", item.id)
    async with run.app.db.transaction() as session:
        outbox = OutboxRepository(session)
        await outbox.mark_skipped(item.id, reason="blocked")
        await outbox.skip_pending_for_chat(chat_id, reason="blocked")
        await PersonRepository(session).mark_blocked(chat_id, now=now)
        if req is not None:
            await RelayRepository(session).fail_queued(req.id, TO_PERSON_DIR, "blocked")
            await _notice(session, run, req, "coach.person_blocked", f"blocked:{item.id}", now)
    kick(run.app)
    return STOP


async def _topic_gone(run: _Pass, item: OutboxItem, req: RequestInfo, *, now: datetime) -> str:
    """The request's forum topic was deleted: post under the card in General from now on."""
    log.warning("outbox %s: the forum topic of request %s is gone", item.id, req.id)
    async with run.app.db.transaction() as session:
        await HandoffRepository(session).set_topic(req.id, req.telegram_chat_id or 0, None)
        await OutboxRepository(session).mark_retry(item.id, at=now, error="topic gone")
    await alert_admins(run.app, run.bot, "coach.alert.topic_gone", item)
    return STOP


async def _notice(
    session: AsyncSession, run: _Pass, req: RequestInfo, key: str, outbox_key: str, now: datetime
) -> None:
    """A short message about ``req`` for the coach chat (through the outbox as well)."""
    text = run.labels.t(key, name=req.first_name or "?", id=req.id)
    html = escape(text)
    await OutboxRepository(session).enqueue(
        outbox_key, GROUP_TEXT, payload={"html": html}, request_id=req.id, now=now
    )


async def alert_admins(app: App, bot: Bot, key: str, item: OutboxItem, **params: Any) -> None:
    """Tell every admin, privately, about a message that needs a human decision."""
    labels = Labels(app)
    what = labels.t(f"coach.alert.what.{item.kind}")
    text = labels.t(key, id=item.request_id or "–", what=what, **params)
    markup = cards.resend_keyboard(labels, item.id) if key == "coach.alert.unknown" else None
    if not app.settings.admin_ids:
        log.error("no ADMIN_IDS to tell about outbox %s (%s)", item.id, key)
    for admin in app.settings.admin_ids:
        try:
            await bot.send_message(admin, text, reply_markup=markup)
        except TelegramAPIError as exc:
            log.warning("could not alert an admin: %s", type(exc).__name__)
