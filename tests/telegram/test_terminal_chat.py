"""`urapolku chat`: the real bot in a terminal, driven through stdin as a person would."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import BufferedInputFile, Chat, Message

from bot.app import App
from bot.cli import main
from bot.runtime.terminal import Printer, chat
from tests.support import FIXTURES, ROOT


def copy_dialogs(tmp_path: Path) -> Path:
    """The fixture dialogs, with the test-only 'echo' action replaced by a real one."""
    dialogs = tmp_path / "dialogs"
    dialogs.mkdir(exist_ok=True)
    for path in (FIXTURES / "dialogs").glob("*.yaml"):
        text = path.read_text(encoding="utf-8").replace("action: echo", "action: privacy")
        (dialogs / path.name).write_text(text, encoding="utf-8")
    return dialogs


def run_chat(tmp_path: Path, typed: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}",
        "DIALOGS_DIR": str(copy_dialogs(tmp_path)),
        "CONTENT_DIR": str(FIXTURES / "content"),
    }
    env.pop("BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input="\n".join(typed) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_chat_shows_numbered_buttons_and_takes_numbers_and_text(tmp_path: Path) -> None:
    # 1 = Suomi, 1 = Kyllä, 1 = Demo, 2 = Yli 50, then a typed number answer, then /quit
    result = run_chat(tmp_path, ["1", "1", "1", "2", "30", "/quit"], "--user-id", "7")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # no language chosen yet: how to use the chat, in each language (as the question)
    assert out.index("INTRO-fi") < out.index("INTRO-sv") < out.index("INTRO-en")
    assert out.index("INTRO-en") < out.index("[1] Suomi")
    assert "[3] English" in out
    assert "Mitä haluat tehdä?" in out
    assert "Hei Testi!" in out
    assert "Montako vuotta olet ollut töissä?" in out
    assert out.index("Montako vuotta") < out.index("Mitkä alat kiinnostavat?")
    assert "Traceback" not in result.stderr


def test_chat_with_a_language_says_how_to_use_it_in_that_language(tmp_path: Path) -> None:
    result = run_chat(tmp_path, ["quit"], "--user-id", "9", "--lang", "sv")
    assert result.returncode == 0, result.stderr
    assert "INTRO-sv" in result.stdout
    assert "INTRO-fi" not in result.stdout
    assert "INTRO-en" not in result.stdout


def test_chat_resumes_and_reset_starts_over(tmp_path: Path) -> None:
    run_chat(tmp_path, ["1", "1", "1"], "--user-id", "8")
    resumed = run_chat(tmp_path, [], "--user-id", "8")
    assert "WELCOME-BACK-fi" in resumed.stdout
    # someone known is told how to use the chat in their own language only
    assert "INTRO-fi" in resumed.stdout
    assert "INTRO-sv" not in resumed.stdout
    assert "Ikäryhmä?" in resumed.stdout
    fresh = run_chat(tmp_path, [], "--user-id", "8", "--reset")
    assert "WELCOME-BACK" not in fresh.stdout
    assert "Kieli? · Språk? · Language?" in fresh.stdout


def test_broken_content_stops_with_file_and_line(tmp_path: Path) -> None:
    dialogs = copy_dialogs(tmp_path)
    broken = dialogs / "demo.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("next: by_age", "next: by_aeg"), encoding="utf-8"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}",
        "DIALOGS_DIR": str(dialogs),
        "CONTENT_DIR": str(FIXTURES / "content"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "demo.yaml:" in result.stderr
    assert "unknown step 'by_aeg' (did you mean 'by_age'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_takes_any_language_the_content_has_texts_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "content", content)
    (content / "texts" / "de.yaml").write_text(
        "version: 1\nlanguage: de\nname: Deutsch\ntexts:\n  terminal:\n    intro: INTRO-de\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")
    monkeypatch.setenv("DIALOGS_DIR", str(copy_dialogs(tmp_path)))
    monkeypatch.setenv("CONTENT_DIR", str(content))
    monkeypatch.setattr(sys, "stdin", io.StringIO("quit\n"))
    assert main(["chat", "--user-id", "11", "--lang", "de"]) == 0
    out = capsys.readouterr().out
    assert "INTRO-de" in out
    assert "INTRO-fi" not in out

    assert main(["chat", "--lang", "xx"]) == 2
    assert capsys.readouterr().err == "urapolku: no texts in 'xx'; known: fi, sv, en, de\n"


def test_chat_in_plain_finnish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--lang fi-selko``: the person reads plain Finnish, not the Finnish its code starts
    with (Telegram never sends such a code; the chat passes it on)."""
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")
    monkeypatch.setenv("DIALOGS_DIR", str(ROOT / "dialogs"))
    monkeypatch.setenv("CONTENT_DIR", str(ROOT / "content"))
    # the language question is asked all the same: 4 is plain Finnish
    monkeypatch.setattr(sys, "stdin", io.StringIO("4\nquit\n"))
    assert main(["chat", "--user-id", "12", "--lang", "fi-selko"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Urapolku ilman Telegramia. Paina nappia: kirjoita napin numero.")
    assert "Urapolku terminaalissa" not in out  # the standard Finnish intro
    assert "Olen botti. Se tarkoittaa, että olen tietokoneohjelma." in out
    assert "Saanko tallentaa vastauksesi? Voit poistaa ne milloin vain" in out

    # someone new is a plain-Finnish reader from the first update on, before choosing
    monkeypatch.setattr(sys, "stdin", io.StringIO("quit\n"))
    assert main(["chat", "--user-id", "13", "--lang", "fi-selko"]) == 0
    with sqlite3.connect(tmp_path / "chat.sqlite3") as connection:
        rows = connection.execute("SELECT telegram_id, language FROM persons ORDER BY 1").fetchall()
    assert rows == [(12, "fi-selko"), (13, "fi-selko")]


# -- what the chat prints ----------------------------------------------------------------------


async def talk(app: App, typed: list[str], *, user_id: int = 5) -> str:
    out = io.StringIO()
    stdin = io.StringIO("".join(f"{line}\n" for line in typed))
    await chat(app, user_id=user_id, language="fi", stdin=stdin, stdout=out)
    return out.getvalue()


async def test_an_edited_message_is_printed_again_in_full_and_its_buttons_work(app: App) -> None:
    # Suomi, Kyllä, Demo, Yli 50, 30 years, tick Logistiikka, then [1] of the updated keyboard
    out = await talk(app, ["1", "1", "1", "2", "30", "2", "1", "4"])
    assert (
        "\n  ✎ Hei Testi!\n\n    Ikäryhmä?\n\n    ✔ Yli 50\n\n  Montako vuotta olet ollut töissä?\n"
        in out
    )
    ticked = (
        "  ✎ Mitkä alat kiinnostavat?\n"
        "    [1] Rakentaminen\n"
        "    [2] ✅ Logistiikka\n"
        "    [3] Toimisto ja IT\n"
        "    [4] Valmis ✅\n"
        "    [5] ◀ Takaisin\n"
    )
    assert ticked in out
    assert ticked.replace("[1] Rakentaminen", "[1] ✅ Rakentaminen") in out
    assert "\n  ✎ Mitkä alat kiinnostavat?\n\n    ✔ Rakentaminen, Logistiikka\n" in out
    assert out.endswith("\n  Muuta kerrottavaa?\n    [1] Ohita\n    [2] ◀ Takaisin\n\n> \n")


async def test_a_link_button_prints_its_address_and_sends_nothing(bundled_app: App) -> None:
    card = "/start ev_yrittajakaverit-karkkila"
    out = await talk(bundled_app, ["1", "1", card, "2"])
    assert "    [2] 🗺 Kartta ↗\n" in out
    *_, link, end = out.split("\n> ")
    # the address, and nothing else before the next prompt: nothing was sent
    assert link.startswith("\n  🔗 https://www.openstreetmap.org/?mlat=60.53460&mlon=24.20940")
    assert link.count("\n") == 2
    assert end == "\n"
    assert "jo ohi" not in out


def printed(text: str, columns: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    message = Message(message_id=1, date=0, chat=Chat(id=5, type="private"), text=text)
    Printer(out)(SendMessage(chat_id=5, text=text), message)
    return out.getvalue().splitlines()


def test_text_wraps_to_the_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    words = " ".join(f"sana{i}" for i in range(40))  # 279 characters
    narrow = printed(words, 40, monkeypatch)
    assert len(narrow) > 7
    assert all(len(line) <= 39 for line in narrow)
    assert all(line.startswith("  sana") for line in narrow[1:])
    wide = printed(words, 300, monkeypatch)
    assert wide == ["", "  " + words]


def test_a_file_prints_its_name_and_its_caption_below() -> None:
    out = io.StringIO()
    caption = "✅ Sinulla on paikka.\nAvaa tiedosto."
    method = SendDocument(
        chat_id=5, document=BufferedInputFile(b"BEGIN:VCALENDAR", "tapahtuma.ics"), caption=caption
    )
    Printer(out, width=60)(method, None)
    assert out.getvalue() == "\n  📎 tapahtuma.ics\n    ✅ Sinulla on paikka.\n    Avaa tiedosto.\n"
