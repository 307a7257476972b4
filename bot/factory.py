"""Builds the Bot, the Dispatcher and the App. Tests, the terminal chat and ``urapolku run``
all use these same functions, so what is tested is what runs."""

from __future__ import annotations

import contextlib
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, Update

from bot.actions import build_registry
from bot.app import App
from bot.config import Settings
from bot.content import LANGUAGES, load_content
from bot.events import jobs as events_jobs
from bot.events import router as events
from bot.handlers import errors, private
from bot.handoff import admin as handoff_admin
from bot.handoff import coach_router as handoff_coach
from bot.handoff import jobs as handoff_jobs
from bot.handoff import person_router as handoff_person
from bot.middlewares.person import PersonMiddleware
from bot.middlewares.unit_of_work import UnitOfWorkMiddleware
from bot.ratelimit import FloodControlMiddleware, OutgoingLimiter, RateLimitMiddleware
from bot.scheduler import Scheduler
from bot.storage import SqlStorage
from bot.telegram_session import RetryMiddleware
from db import Database
from db.migrate import upgrade

#: what the bot asks Telegram for; anything else is not even delivered
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
COMMANDS = ("start", "menu", "help", "language", "restart")


async def build_app(settings: Settings, *, migrate: bool = True) -> App:
    """Load and check the content, open the database (upgrading its schema)."""
    actions = build_registry()
    content = load_content(
        settings.dialogs_dir,
        settings.content_dir,
        default_language=settings.default_language,
        actions=actions,
    )
    database = Database(settings.database_url)
    if migrate:
        await upgrade(database)
    return App(settings=settings, db=database, content=content, actions=actions)


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
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if limiter is None and settings.outgoing_per_second > 0:
            limiter = OutgoingLimiter(global_per_second=settings.outgoing_per_second)
    session.middleware(RetryMiddleware())
    if limiter is not None:
        session.middleware(RateLimitMiddleware(limiter))
    return Bot(
        token=token or settings.token(),
        session=session,
        default=DefaultBotProperties(parse_mode=None, link_preview_is_disabled=True),
    )


def create_storage(app: App) -> tuple[BaseStorage, BaseEventIsolation]:
    """Conversation state in the database, or in Redis when REDIS_URL is set (several workers).

    In the database, the state is committed in the same transaction as the answers. Redis is
    written just before that commit: a crash between the two can leave the person one step
    ahead of their saved answers, never behind (they are asked again, nothing is lost).
    """
    url = app.settings.redis_url
    if url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        redis_storage = RedisStorage.from_url(url, state_ttl=None, data_ttl=None)
        return redis_storage, RedisEventIsolation(redis=redis_storage.redis)
    return SqlStorage(app.db), SimpleEventIsolation()


def create_dispatcher(app: App, storage: BaseStorage | None = None) -> Dispatcher:
    if storage is None:
        storage, isolation = create_storage(app)
    else:
        isolation = SimpleEventIsolation()
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, app=app)
    dispatcher.update.outer_middleware(
        FloodControlMiddleware(limit=app.settings.flood_limit, on_flood=_slow_down)
    )
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(app.db))
    dispatcher.update.outer_middleware(PersonMiddleware())
    dispatcher.include_router(errors.build_router())
    if app.settings.admin_ids:
        dispatcher.include_router(handoff_admin.build_router(app.settings.admin_ids))
    # events: browser buttons, poster links (/start ev_<id>), /mysignups
    dispatcher.include_router(events.build_router())
    # before the private router: while a coach has the person's request, it gets their messages
    dispatcher.include_router(handoff_person.build_router())
    dispatcher.include_router(private.build_router())
    if app.settings.coach_chat_id is not None:
        dispatcher.include_router(handoff_coach.build_router(app.settings.coach_chat_id))
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


def build_scheduler(app: App, bot: Bot) -> Scheduler:
    """The background jobs of a running bot. Features add their jobs here."""
    scheduler = Scheduler(app, bot)
    app.scheduler = scheduler
    handoff_jobs.register(scheduler)
    events_jobs.register(scheduler)
    return scheduler


async def set_commands(bot: Bot, app: App) -> None:
    """The command menu in each language, and in the default language for everyone else."""
    for language in (None, *LANGUAGES):
        lang = language or app.settings.default_language
        commands = [
            BotCommand(command=c, description=app.t(f"commands.{c}", lang)[:256]) for c in COMMANDS
        ]
        await bot.set_my_commands(
            commands, scope=BotCommandScopeAllPrivateChats(), language_code=language
        )
