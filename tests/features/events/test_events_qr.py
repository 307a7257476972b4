"""``urapolku qr``: a PNG QR code of a poster's link, with the bot's username from a flag or
from Telegram's getMe; one clear line when neither works."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from bot.cli import main
from bot.features.events.qr import QrError, clean_username, deep_link, qr_code
from bot.telegram.standin import BotAPIStub
from tests.support import ROOT, TEST_TOKEN

ITEM = "yrittajakaverit-karkkila"
URL = f"https://t.me/urapolku_bot?start=ev_{ITEM}"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTENT_DIR", str(ROOT / "content"))
    monkeypatch.setenv("DIALOGS_DIR", str(ROOT / "dialogs"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'qr.sqlite3'}")
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)


def check_png(path: Path, url: str) -> None:
    """A real PNG of a sensible size that is exactly the QR code of ``url``."""
    content = path.read_bytes()
    assert content.startswith(PNG)
    assert 300 < len(content) < 50_000
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width == height
        assert 250 <= width <= 800  # 10 px a module: large enough to print
        written = image.convert("1")
    code = qr_code(url)
    assert code.data_list[0].data == url.encode()  # what the code says
    expected = code.make_image(fill_color="black", back_color="white").get_image().convert("1")
    assert ImageChops.difference(written, expected).getbbox() is None  # pixel for pixel


def test_qr_with_the_username_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "posters" / "yk.png"
    assert main(["qr", ITEM, "-o", str(out), "--bot-username", "@urapolku_bot"]) == 0
    assert capsys.readouterr().out == f"{out}: {URL}\n"
    check_png(out, URL)


async def test_qr_asks_telegram_for_the_username(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with BotAPIStub(token=TEST_TOKEN, bot_username="urapolku_test_bot") as stub:
        monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
        monkeypatch.setenv("TELEGRAM_API_URL", stub.base_url)
        assert await asyncio.to_thread(main, ["qr", ITEM]) == 0
        assert [c.method for c in stub.calls] == ["getMe"]
    url = f"https://t.me/urapolku_test_bot?start=ev_{ITEM}"
    assert capsys.readouterr().out == f"qr-{ITEM}.png: {url}\n"
    check_png(tmp_path / f"qr-{ITEM}.png", url)


def test_qr_without_a_username_or_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", ITEM]) == 2
    err = capsys.readouterr().err
    assert err == (
        "urapolku: give --bot-username NAME, or set BOT_TOKEN so that I can ask Telegram\n"
    )
    assert not Path(f"qr-{ITEM}.png").exists()


def test_qr_when_telegram_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(["qr", ITEM]) == 2
    err = capsys.readouterr().err
    assert err.startswith("urapolku: could not ask Telegram for the bot's username (")
    assert err.endswith("); give --bot-username NAME\n")
    assert err.count("\n") == 1


def test_qr_for_an_unknown_item_or_a_bad_username(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", "ei-ole", "--bot-username", "urapolku_bot"]) == 2
    assert capsys.readouterr().err == "urapolku: there is no item 'ei-ole' in the catalogue\n"
    assert main(["qr", ITEM, "--bot-username", "no"]) == 2
    assert capsys.readouterr().err == (
        "urapolku: 'no' is not a Telegram bot username (like urapolku_bot)\n"
    )


def test_deep_link() -> None:
    assert deep_link("@urapolku_bot", ITEM) == URL
    assert deep_link("https://t.me/urapolku_bot", ITEM) == URL
    assert len(f"ev_{'x' * 32}") <= 64  # Telegram's limit for the start parameter
    with pytest.raises(QrError):
        clean_username("urapolku bot")
