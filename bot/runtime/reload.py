"""Live reload: new content goes live while the bot runs, and broken content never does.

A scheduler job looks at every ``*.yaml`` under ``DIALOGS_DIR`` and ``CONTENT_DIR`` once a
second (a hash of their bytes, so no new dependency and no missed same-second edits). When the
files changed and then stayed the same for one more look (an editor's save is finished), the
whole content is loaded and checked again, off the event loop. Only a complete, valid snapshot
replaces :attr:`App.content` (one assignment: every update after it sees the new content,
a turn in progress keeps the engine it started with). Broken content leaves the old content
serving and the admins (``ADMIN_IDS``) get the errors, each as ``file:line: message``, once per
broken version. Admins can also send ``/reload`` to check and load at once.

People waiting at a step that is gone are moved lazily, on their next update, by the engine
(see ``Engine._lost``): to the start of the same dialog, or to the main menu when the dialog
itself is gone, with the text ``engine.step_gone``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import Message

from bot.app import App
from bot.content.snapshot import Content, check_content, fingerprint
from bot.content.source import Problem, Severity
from bot.engine.loader import MAX_MESSAGE
from bot.runtime.eventloop import settle_heap
from bot.runtime.scheduler import Scheduler
from bot.telegram.filters import PRIVATE_CHAT, Magic

log = logging.getLogger(__name__)

#: seconds between two looks at the files; a valid change is live within about two of these
POLL_SECONDS = 1.0
JOB_NAME = "content_reload"
#: at most this many errors in one message to the admins
MAX_LISTED = 10


@dataclass(slots=True)
class ReloadResult:
    """What one reload did: ``loaded`` (new content is live), or the errors that stopped it."""

    loaded: bool
    changed: bool
    errors: list[Problem] = field(default_factory=list)


class ContentReloader:
    """Watches the content files of one :class:`App` and swaps its content when they change."""

    def __init__(self, app: App) -> None:
        self.app = app
        #: the files as they were when the content now serving was loaded
        self.loaded = app.content.fingerprint or self._fingerprint()
        #: what the last look saw (a change is loaded once it is seen twice in a row)
        self._seen = self.loaded
        #: the broken version the admins were last told about (not told twice)
        self._reported: str | None = None
        self._lock = asyncio.Lock()
        #: tell the admins about broken and fixed content (with several workers, one should)
        self.notify = True

    def _fingerprint(self) -> str:
        settings = self.app.settings
        return fingerprint([settings.dialogs_dir, settings.content_dir])

    async def poll(self, bot: Bot | None = None) -> ReloadResult:
        """One look at the files (the scheduler job): load them if they changed and settled."""
        now = await asyncio.to_thread(self._fingerprint)
        settled = now == self._seen
        self._seen = now
        if now == self.loaded or not settled or now == self._reported:
            return ReloadResult(loaded=False, changed=False)
        return await self.reload(bot, fingerprint_now=now)

    async def reload(
        self, bot: Bot | None = None, *, fingerprint_now: str | None = None
    ) -> ReloadResult:
        """Check the content as a whole; serve it if it has no errors, else tell the admins."""
        async with self._lock:
            now: str = (
                fingerprint_now
                if fingerprint_now is not None
                else await asyncio.to_thread(self._fingerprint)
            )
            settings = self.app.settings
            content, problems = await asyncio.to_thread(
                check_content,
                settings.dialogs_dir,
                settings.content_dir,
                default_language=settings.default_language,
                actions=self.app.actions,
                # the same feature sections as the content serving now
                sections=tuple(self.app.content.sections),
            )
            changed = now != self.loaded
            if content is None:
                errors = [p for p in problems if p.severity is Severity.ERROR]
                log.warning("content not reloaded: %d error(s); the old content stays", len(errors))
                if now != self._reported:
                    self._reported = now
                    if bot is not None and self.notify:
                        await self.tell_admins(bot, errors)
                return ReloadResult(loaded=False, changed=changed, errors=errors)
            recovered = self._reported is not None
            self.app.replace_content(content)
            if self.app.scheduler is not None:
                self.app.scheduler.content_changed()
            settle_heap(again=True)
            self.loaded = content.fingerprint
            self._seen = now
            self._reported = None
            log.info("content reloaded: %d dialog(s)", len(content.dialogs.dialogs))
            if recovered and bot is not None and fingerprint_now is not None and self.notify:
                await self._send_all(bot, lambda lang: self.ok_text(content, lang))
            return ReloadResult(loaded=True, changed=changed)

    def ok_text(self, content: Content, language: str) -> str:
        return self.app.t("reload.ok", language, dialogs=len(content.dialogs.dialogs))

    def errors_text(self, errors: list[Problem], language: str) -> str:
        """The errors, short: ``file:line: message``, paths relative to the content folders."""
        lines = [self.app.t("reload.failed", language, count=len(errors))]
        for problem in errors[:MAX_LISTED]:
            where = self._short_path(problem.file)
            if problem.line is not None:
                where += f":{problem.line}"
            lines.append(f"• {where}: {problem.message}")
        if len(errors) > MAX_LISTED:
            lines.append(self.app.t("reload.more", language, count=len(errors) - MAX_LISTED))
        return "\n".join(lines)[:MAX_MESSAGE]

    def _short_path(self, file: str) -> str:
        path = Path(file)
        for base in (self.app.settings.dialogs_dir, self.app.settings.content_dir):
            with contextlib.suppress(ValueError, OSError):
                return str(Path(base.name) / path.resolve().relative_to(base.resolve()))
        return file

    async def tell_admins(self, bot: Bot, errors: list[Problem]) -> None:
        await self._send_all(bot, lambda lang: self.errors_text(errors, lang))

    async def _send_all(self, bot: Bot, text: Callable[[str], str]) -> None:
        language = self.app.settings.default_language
        for admin_id in self.app.settings.admin_ids:
            try:
                await bot.send_message(admin_id, text(language))
            except TelegramAPIError as exc:
                log.warning("could not tell admin %s about the content: %s", admin_id, exc)

    async def job(self, app: App, bot: Bot) -> int:
        """The scheduler job: 1 when new content went live, else 0."""
        return int((await self.poll(bot)).loaded)


def reloader_for(app: App) -> ContentReloader:
    """The app's reloader (made on first use, so the scheduler and /reload share one)."""
    if app.reloader is None:
        app.reloader = ContentReloader(app)
    reloader: ContentReloader = app.reloader
    return reloader


def register(scheduler: Scheduler) -> None:
    """Add the file watcher to the scheduler."""
    reloader = reloader_for(scheduler.app)
    # every worker holds its own copy of the content, so each one watches the files
    scheduler.every(POLL_SECONDS, JOB_NAME, reloader.job, local=True)


async def reload_command(message: Message, app: App, bot: Bot) -> None:
    """``/reload`` from an admin: check and load now; answer with the result or the errors."""
    reloader = reloader_for(app)
    result = await reloader.reload(None)
    language = app.settings.default_language
    if result.errors:
        text = reloader.errors_text(result.errors, language)
    elif not result.changed:
        text = app.t("reload.unchanged", language)
    else:
        text = reloader.ok_text(app.content, language)
    await message.answer(text)


def build_router(admin_ids: Iterable[int]) -> Router:
    """``/reload`` for the admins, in a private chat; include it before the private router."""
    router = Router(name="reload")
    router.message.filter(PRIVATE_CHAT, Magic(F.from_user.id.in_(set(admin_ids))))
    router.message.register(reload_command, Command("reload"))
    return router
