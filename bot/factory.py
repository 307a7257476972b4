"""Builds the Bot, the Dispatcher and the App. Tests, the terminal chat and ``urapolku run``
all use these same functions, so what is tested is what runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Update,
)
from sqlalchemy.engine import make_url

from bot.app import App
from bot.config import ConfigError, Settings
from bot.content.languages import LANGUAGES
from bot.content.snapshot import load_content
from bot.features import build_registry, content_sections
from bot.features.events import jobs as events_jobs
from bot.features.events import router as events
from bot.features.followup import attendance as followup_attendance
from bot.features.followup import jobs as followup_jobs
from bot.features.handoff import admin as handoff_admin
from bot.features.handoff import api as handoff_api
from bot.features.handoff import coach_router as handoff_coach
from bot.features.handoff import jobs as handoff_jobs
from bot.features.handoff import person_router as handoff_person
from bot.features.privacy import router as privacy_router
from bot.features.privacy import service as privacy_service
from bot.features.reports import router as reports_router
from bot.runtime import housekeeping
from bot.runtime import reload as content_reload
from bot.runtime.scheduler import Scheduler
from bot.telegram.arrival import ArrivalGate, Refusal
from bot.telegram.fsm.sql import SqlStorage
from bot.telegram.handlers import errors, private, updates
from bot.telegram.limits.local import FloodControl, OutgoingLimiter, RateLimitMiddleware
from bot.telegram.middlewares.observe import ObservedDispatcher, ObserveMiddleware
from bot.telegram.middlewares.person import PersonMiddleware
from bot.telegram.middlewares.state import ChatLockMiddleware, state_middleware
from bot.telegram.middlewares.unit_of_work import UnitOfWorkMiddleware
from bot.telegram.poison import Attempts, CountCalls
from bot.telegram.session import JsonBodySession, PinResponseTypes, RetryMiddleware
from db import Database
from db import types as crypto
from db.engine import normalise_url

log = logging.getLogger("urapolku")

#: what the bot asks Telegram for; anything else is not even delivered (see handlers/updates.py)
ALLOWED_UPDATES = updates.ALLOWED_UPDATES
COMMANDS = ("start", "menu", "help", "language", "restart", "mydata", "delete", "privacy")
#: the coaches' group's own menu (in DEFAULT_LANGUAGE, the group's language)
COACH_COMMANDS = ("queue", "mine", "event")
#: added to the menu in each admin's private chat
ADMIN_COMMANDS = ("coach", "report", "status", "reload")


#: development only: the data key kept beside the SQLite file (or in data/), never inside it
DEV_KEY_FILE = "dev-data.key"


def dev_key_path(database_url: str) -> Path:
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).expanduser().parent / DEV_KEY_FILE
    return Path("data") / DEV_KEY_FILE


def configure_data_key(settings: Settings) -> None:
    """Give :mod:`db.types` the keys that encrypt what people write, once at startup.

    DATA_KEY when set; otherwise production refuses (:class:`ConfigError`), and development
    uses a generated key kept in :func:`dev_key_path` (mode 0600). See docs/SECURITY.md.
    """
    if settings.data_key is not None:
        crypto.configure(settings.data_key.get_secret_value())
        return
    if settings.is_production:
        raise ConfigError(
            "DATA_KEY is not set; production needs the key that encrypts people's data "
            "(create one with `urapolku rekey --new-key`, see docs/SECURITY.md)"
        )
    crypto.configure(crypto.load_or_create_key_file(dev_key_path(settings.database_url)))


async def build_app(settings: Settings, *, migrate: bool = True) -> App:
    """Load and check the content, open the database (upgrading its schema)."""
    configure_data_key(settings)
    actions = build_registry()
    content = load_content(
        settings.dialogs_dir,
        settings.content_dir,
        default_language=settings.default_language,
        actions=actions,
        sections=content_sections(),
    )
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    if migrate:
        # imported only to migrate: Alembic stays out of a bot that does not (upgrade_in_child)
        from db.migrate import upgrade

        await upgrade(database)
    return App(settings=settings, db=database, content=content, actions=actions)


async def upgrade_in_child(settings: Settings) -> None:
    """Upgrade the database schema in a short-lived child process (``urapolku migrate``).

    Alembic and its templating stay out of the long-running bot: importing them costs each
    worker ~25 MB of memory that is never given back."""
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    if settings.data_key is not None:
        env["DATA_KEY"] = settings.data_key.get_secret_value()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(
            "the database schema could not be upgraded (urapolku migrate):\n"
            + output.decode(errors="replace")[-4000:]
        )


async def start_app(settings: Settings) -> App:
    """The app of a long-running process: the schema upgraded in a child process first
    (:func:`upgrade_in_child`), so Alembic stays out of this one."""
    await upgrade_in_child(settings)
    return await build_app(settings, migrate=False)


async def introduce(bot: Bot, app: App) -> None:
    """Check BOT_TOKEN with Telegram (``TelegramUnauthorizedError`` if it is refused) and set
    the command menu."""
    me = await bot.get_me()
    log.info("connected as bot id %s to %s", me.id, app.settings.telegram_api_url)
    await set_commands(bot, app)


def create_bot(
    settings: Settings,
    session: BaseSession | None = None,
    token: str | None = None,
    limiter: OutgoingLimiter | None = None,
) -> Bot:
    """A Bot whose every call retries 429/5xx and whose every send waits for its rate slot.

    With a given ``session`` (tests, the terminal chat) there is no rate limit unless a
    ``limiter`` is passed too.
    """
    if session is None:
        session = JsonBodySession(settings.telegram_api_url)
        if limiter is None and settings.outgoing_per_second > 0:
            limiter = OutgoingLimiter(
                global_per_second=settings.outgoing_per_second,
                global_burst=settings.outgoing_burst,
            )
    session.middleware(PinResponseTypes())
    session.middleware(CountCalls())
    session.middleware(RetryMiddleware())
    if limiter is not None:
        session.middleware(RateLimitMiddleware(limiter))
    return Bot(
        token=token or settings.token(),
        session=session,
        # link_preview, not link_preview_is_disabled: that also sets the removed
        # disable_web_page_preview parameter on every message
        default=DefaultBotProperties(
            parse_mode=None, link_preview=LinkPreviewOptions(is_disabled=True)
        ),
    )


def create_storage(app: App) -> tuple[BaseStorage, BaseEventIsolation]:
    """Conversation state in the database, or in Redis when REDIS_URL is set (several workers).

    In the database, the state is committed in the same transaction as the answers. Redis is
    written just before that commit: a crash between the two can leave the person one step
    ahead of their saved answers, never behind (they are asked again, nothing is lost).
    """
    url = app.settings.redis_url
    if url:
        # only with REDIS_URL: both need the optional redis package
        from aiogram.fsm.storage.redis import RedisEventIsolation

        from bot.telegram.fsm.redis import redis_storage

        storage = redis_storage(url)
        return storage, RedisEventIsolation(redis=storage.redis)
    return SqlStorage(app.db), SimpleEventIsolation()


def create_dispatcher(app: App, storage: BaseStorage | None = None) -> Dispatcher:
    if storage is None:
        storage, isolation = create_storage(app)
    else:
        isolation = SimpleEventIsolation()
    # The FSM middleware is split (bot/telegram/middlewares/state.py): the chat's lock first, the
    # state read together with the "handled?" mark and the person, then the FSM context.
    dispatcher = ObservedDispatcher(  # the update's id in every log record of its handling
        storage=storage, events_isolation=isolation, disable_fsm=True, app=app
    )
    # First: floods and the features' refusals, judged as updates arrive (bot/telegram/arrival.py)
    refusals: list[Refusal] = []
    if app.settings.coach_chat_id is not None:
        roster = handoff_api.CoachRoster(app)
        dispatcher[handoff_api.ROSTER] = roster
        refusals.append(roster.refuses)
    flood = FloodControl(limit=app.settings.flood_limit, on_flood=_slow_down)
    ArrivalGate(flood, refusals).install(dispatcher)
    dispatcher.update.outer_middleware(ObserveMiddleware())  # counts updates and failures
    dispatcher.update.outer_middleware(ChatLockMiddleware(dispatcher.fsm))
    # a try that failed before anything was done is tried again (bot/telegram/poison.py)
    dispatcher.update.outer_middleware(Attempts())
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(app.db, storage))
    dispatcher.update.outer_middleware(state_middleware(dispatcher.fsm))
    dispatcher.update.outer_middleware(PersonMiddleware())
    dispatcher.include_router(errors.build_router())
    if app.settings.admin_ids:
        dispatcher.include_router(handoff_admin.build_router(app.settings.admin_ids))
        # /reload: check the content files and serve them now
        dispatcher.include_router(content_reload.build_router(app.settings.admin_ids))
        # /report: the funder's figures and a chart
        dispatcher.include_router(reports_router.build_router())
    # /mydata, /delete, /privacy, their buttons, and consent asked again after a new version
    dispatcher.include_router(privacy_router.build_router())
    # events: browser buttons, poster links (/start ev_<id>), /mysignups
    dispatcher.include_router(events.build_router())
    # before the private router: while a coach has the person's request, it gets their messages
    dispatcher.include_router(handoff_person.build_router())
    dispatcher.include_router(private.build_router())
    if app.settings.coach_chat_id is not None:
        # /event <item id>: who came (before the coach router, which takes every message)
        dispatcher.include_router(
            followup_attendance.build_router(app.settings.coach_chat_id, handoff_api.coach_id)
        )
        dispatcher.include_router(handoff_coach.build_router(app.settings.coach_chat_id))
    # last: my_chat_member, and what every other router left (ignored on purpose)
    dispatcher.include_router(updates.build_router())
    return dispatcher


async def _slow_down(update: Update, data: dict[str, Any]) -> None:
    """The one answer to a flood; no database access (that is the point)."""
    app: App = data["app"]
    bot: Bot = data["bot"]
    user = data["event_from_user"]
    language = (user.language_code or "")[:2]
    if language not in LANGUAGES:
        language = app.settings.default_language
    with contextlib.suppress(TelegramAPIError):
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id)
        await bot.send_message(user.id, app.t("bot.slow_down", language))


def build_scheduler(app: App, bot: Bot, dispatcher: Dispatcher | None = None) -> Scheduler:
    """The background jobs of a running bot. Features add their jobs here.

    ``dispatcher``: the one serving updates; jobs that start a dialog in someone's
    conversation (follow-ups) use its storage and event isolation."""
    scheduler = Scheduler(app, bot)
    app.scheduler = scheduler
    if dispatcher is not None:
        fsm_storage, isolation = dispatcher.storage, dispatcher.fsm.events_isolation
    else:
        fsm_storage, isolation = create_storage(app)
    followup_jobs.register(scheduler, storage=fsm_storage, isolation=isolation)
    roster = dispatcher.workflow_data.get(handoff_api.ROSTER) if dispatcher is not None else None
    handoff_jobs.register(
        scheduler, roster if isinstance(roster, handoff_api.CoachRoster) else None
    )
    events_jobs.register(scheduler)
    privacy_service.register(scheduler)
    content_reload.register(scheduler)
    housekeeping.register(scheduler)
    return scheduler


async def set_commands(bot: Bot, app: App) -> None:
    """The command menu in each language, and in the default language for everyone else; the
    coaches' group and each admin's chat get their own (a chat Telegram does not know, e.g.
    an admin who has never written to the bot, is logged and skipped)."""

    def menu(names: tuple[str, ...], lang: str) -> list[BotCommand]:
        return [
            BotCommand(command=c, description=app.t(f"commands.{c}", lang)[:256]) for c in names
        ]

    for language in (None, *LANGUAGES):
        lang = language or app.settings.default_language
        await bot.set_my_commands(
            menu(COMMANDS, lang), scope=BotCommandScopeAllPrivateChats(), language_code=language
        )
    default = app.settings.default_language
    chats: list[tuple[int, tuple[str, ...]]] = [
        (chat_id, COMMANDS + ADMIN_COMMANDS) for chat_id in app.settings.admin_ids
    ]
    if app.settings.coach_chat_id is not None:
        chats.insert(0, (app.settings.coach_chat_id, COACH_COMMANDS))
    for chat_id, names in chats:
        try:
            await bot.set_my_commands(
                menu(names, default), scope=BotCommandScopeChat(chat_id=chat_id)
            )
        except TelegramAPIError as exc:  # the menu is a convenience: never stop the bot for it
            log.warning("no command menu for chat %s: %s", chat_id, exc.message)
