"""QR codes for printed posters: ``https://t.me/<bot>?start=ev_<item id>`` opens the item's
card in the bot (``urapolku qr <id>``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from bot.config import Settings

from .router import LINK_PREFIX

#: Telegram bot usernames: 5-32 characters, letters, digits and underscores
USERNAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")


class QrError(Exception):
    """A one-line explanation for the operator."""


def clean_username(name: str) -> str:
    name = name.strip().removeprefix("https://t.me/").removeprefix("@")
    if not USERNAME.match(name):
        raise QrError(f"'{name}' is not a Telegram bot username (like urapolku_bot)")
    return name


def deep_link(username: str, item_id: str) -> str:
    """The link a poster's QR code holds (the start parameter is at most 64 characters of
    A-Z, a-z, 0-9, _ and -; item ids are shorter and use only those)."""
    return f"https://t.me/{clean_username(username)}?start={LINK_PREFIX}{item_id}"


def qr_code(url: str) -> Any:
    """The ``qrcode.QRCode`` of ``url``: medium error correction (a poster may get a scratch),
    10 pixels a module and the standard quiet zone of 4 modules."""
    try:
        import qrcode
        from qrcode.constants import ERROR_CORRECT_M
    except ImportError:  # pragma: no cover - an optional dependency
        raise QrError("QR codes need the qrcode package: pip install 'urapolku[extras]'") from None
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def write_qr(url: str, path: Path) -> Path:
    """Write ``url`` as a black-on-white PNG QR code to ``path``."""
    image = qr_code(url).make_image(fill_color="black", back_color="white")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        image.save(file, format="PNG")
    return path


async def bot_username(settings: Settings) -> str:
    """The bot's username from Telegram (``getMe`` at TELEGRAM_API_URL with BOT_TOKEN)."""
    if settings.bot_token is None:
        raise QrError("give --bot-username NAME, or set BOT_TOKEN so that I can ask Telegram")
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramAPIError

    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(token=settings.token(), session=session)
    try:
        me = await bot.get_me(request_timeout=15)
    except (TelegramAPIError, OSError, TimeoutError) as exc:
        raise QrError(
            f"could not ask Telegram for the bot's username ({type(exc).__name__}); "
            "give --bot-username NAME"
        ) from None
    finally:
        await session.close()
    if not me.username:
        raise QrError("Telegram gave no username for this bot; give --bot-username NAME")
    return me.username
