"""Admins (ADMIN_IDS) manage coaches, in a private chat with the bot and from the command
line (``urapolku coach add|remove|list``), and decide about messages whose delivery Telegram
never confirmed ("send again")."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.app import App
from bot.telegram.callbacks import BIG_RANGE, parse_int
from bot.telegram.filters import PRIVATE_BUTTON, PRIVATE_CHAT, Magic
from bot.telegram.middlewares.unit_of_work import UnitOfWork
from db import Database
from db.repositories import AuditRepository, CoachInfo, CoachRepository, OutboxRepository, audit

from .cards import Labels, OutboxAdmin
from .outbox import kick
from .roster import CoachRoster

MAX_NAME = 64


async def add_coach(
    db: Database, telegram_id: int, name: str, *, added_by: int | None = None
) -> CoachInfo:
    async with db.transaction() as session:
        coach = await CoachRepository(session).add(
            telegram_id, name.strip()[:MAX_NAME], added_by=added_by
        )
        await AuditRepository(session).record(
            audit.COACH_ADDED, actor_id=added_by, target_id=telegram_id
        )
        return coach


async def remove_coach(db: Database, telegram_id: int, *, removed_by: int | None = None) -> bool:
    async with db.transaction() as session:
        removed = await CoachRepository(session).remove(telegram_id)
        if removed:
            await AuditRepository(session).record(
                audit.COACH_REMOVED, actor_id=removed_by, target_id=telegram_id
            )
        return removed


async def list_coaches(db: Database) -> list[CoachInfo]:
    async with db.read() as session:
        return await CoachRepository(session).list_active()


def _parse_id(text: str) -> int | None:
    """A Telegram user id (positive, within the database's BIGINT)."""
    return parse_int(text, low=1, high=BIG_RANGE[1])


async def coach_command(
    message: Message,
    command: CommandObject,
    app: App,
    uow: UnitOfWork,
    coach_roster: CoachRoster | None = None,
) -> None:
    """/coach add <telegram id> <name> · /coach remove <telegram id> · /coach list"""
    labels = Labels(app)
    args = (command.args or "").split(maxsplit=2)
    verb = args[0].casefold() if args else ""
    admin_id = message.from_user.id if message.from_user else None
    text = labels.t("coach.admin.usage")
    async with uow.transaction() as session:
        coaches = CoachRepository(session)
        if verb == "add" and len(args) == 3 and _parse_id(args[1]) is not None:
            coach = await coaches.add(
                int(args[1]), args[2].strip()[:MAX_NAME], added_by=admin_id, now=app.clock()
            )
            await AuditRepository(session).record(
                audit.COACH_ADDED, actor_id=admin_id, target_id=coach.telegram_id, at=app.clock()
            )
            text = labels.t("coach.admin.added", name=coach.name, telegram_id=coach.telegram_id)
        elif verb == "remove" and len(args) == 2 and _parse_id(args[1]) is not None:
            removed = await coaches.remove(int(args[1]), now=app.clock())
            if removed:
                await AuditRepository(session).record(
                    audit.COACH_REMOVED, actor_id=admin_id, target_id=int(args[1]), at=app.clock()
                )
            key = "coach.admin.removed" if removed else "coach.admin.not_found"
            text = labels.t(key, telegram_id=args[1])
        elif verb == "list" and len(args) == 1:
            found = await coaches.list_active()
            text = _listing(labels, found, app.settings.admin_ids)
    if coach_roster is not None and verb in ("add", "remove"):
        await coach_roster.refresh()  # the coaches' group knows at once
    with contextlib.suppress(TelegramAPIError):
        await message.answer(text)


def _listing(labels: Labels, coaches: list[CoachInfo], admin_ids: list[int]) -> str:
    lines = [labels.t("coach.admin.list_title")]
    listed = {c.telegram_id for c in coaches}
    for coach in coaches:
        mark = f" {labels.t('coach.admin.admin_mark')}" if coach.telegram_id in admin_ids else ""
        lines.append(f"• {coach.name} ({coach.telegram_id}){mark}")
    for admin in admin_ids:
        if admin not in listed:
            lines.append(f"• {admin} {labels.t('coach.admin.admin_mark')}")
    if len(lines) == 1:
        lines.append(labels.t("coach.admin.list_empty"))
    return "\n".join(lines)


async def resend(
    callback: CallbackQuery, callback_data: OutboxAdmin, app: App, uow: UnitOfWork
) -> None:
    """An admin decided that an unconfirmed message is to be sent again."""
    labels = Labels(app)
    async with uow.transaction() as session:
        queued = await OutboxRepository(session).resend(callback_data.oid, now=app.clock())
    await callback.answer(
        labels.t("coach.alert.resent" if queued else "coach.alert.nothing_to_resend")
    )
    if queued:
        kick(app)
    message = callback.message
    if isinstance(message, Message):
        with contextlib.suppress(TelegramAPIError):
            await message.edit_reply_markup(reply_markup=None)


def build_router(admin_ids: list[int]) -> Router:
    """Only for ADMIN_IDS; anyone else's /coach goes on to the private router (as unknown)."""
    router = Router(name="handoff-admin")
    router.message.filter(PRIVATE_CHAT, Magic(F.from_user.id.in_(set(admin_ids))))
    router.callback_query.filter(PRIVATE_BUTTON, Magic(F.from_user.id.in_(set(admin_ids))))
    router.message.register(coach_command, Command("coach"))
    router.callback_query.register(resend, OutboxAdmin.filter())
    return router
