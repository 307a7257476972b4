"""Live reload with a running bot: broken content never goes live, valid content does, and people
standing on a step that disappeared are moved on with a word."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage

from bot.app import App
from bot.factory import build_scheduler
from bot.runtime.reload import JOB_NAME, ContentReloader, reloader_for
from bot.runtime.scheduler import Scheduler
from tests.support import FIXTURES, ROOT, Harness, make_app, make_harness, make_settings, texts_of

ADMIN = 9001
STEP_GONE = "Tämä osa keskustelusta on muuttunut. Jatketaan tästä."


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Harness]:
    """A bot serving a copy of the fixture content that the test may edit."""
    shutil.copytree(FIXTURES / "dialogs", tmp_path / "dialogs")
    shutil.copytree(FIXTURES / "content", tmp_path / "content")
    for path in (ROOT / "content" / "texts").glob("editing.*.yaml"):
        shutil.copy(path, tmp_path / "content" / "texts")
    settings = make_settings(
        tmp_path,
        dialogs_dir=tmp_path / "dialogs",
        content_dir=tmp_path / "content",
        admin_ids=[ADMIN],
    )
    app = await make_app(settings)
    yield make_harness(app)
    await app.db.dispose()


def edit(h: Harness, name: str, old: str, new: str) -> None:
    path = h.app.settings.dialogs_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


async def settle(reloader: ContentReloader, h: Harness) -> None:
    """Two looks at the files, as the job makes one second apart: the change is seen, then
    seen unchanged (the save is finished), and only then loaded."""
    first = await reloader.poll(h.bot)
    assert not first.loaded
    await reloader.poll(h.bot)


def sent(calls: list[object]) -> list[SendMessage]:
    return [c for c in calls if isinstance(c, SendMessage)]


def to_admin(h: Harness) -> list[str]:
    return [c.text for c in h.session.calls_of(SendMessage) if c.chat_id == ADMIN]


async def at_age_question(h: Harness) -> object:
    person = h.person()
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä")
    calls = await person.click("Demo")
    assert texts_of(calls)[-1] == "Hei Testi!\n\nIkäryhmä?"
    return person


async def test_broken_content_keeps_the_old_serving_and_tells_the_admins(live: Harness) -> None:
    h = live
    person = await at_age_question(h)
    reloader = reloader_for(h.app)
    old_content = h.app.content

    # a new question text, and a typo in a step reference: the whole change is refused
    edit(h, "demo.yaml", '"Ikäryhmä?"', '"Mikä on ikäryhmäsi?"')
    edit(h, "demo.yaml", "next: by_age", "next: by_aeg")
    await settle(reloader, h)
    assert h.app.content is old_content
    assert to_admin(h) == [
        "⚠️ Uudessa sisällössä on 1 virhe. Vanha sisältö on yhä käytössä. Korjaa se:\n"
        "• dialogs/demo.yaml:18: unknown step 'by_aeg'"
    ]
    calls = await person.send("/help")  # type: ignore[attr-defined]
    assert texts_of(calls) == ["HELP-fi", "Ikäryhmä?"]
    # the same broken files are not reported again at every look
    await settle(reloader, h)
    assert len(to_admin(h)) == 1

    # fixed: live within the next two looks; the admins hear that it is fine again
    edit(h, "demo.yaml", "next: by_aeg", "next: by_age")
    await settle(reloader, h)
    assert h.app.content is not old_content
    assert to_admin(h)[1:] == ["✅ Uusi sisältö on käytössä: 2 dialogia."]
    calls = await person.send("/help")  # type: ignore[attr-defined]
    assert texts_of(calls) == ["HELP-fi", "Mikä on ikäryhmäsi?"]


async def test_person_on_a_removed_step_restarts_the_dialog_with_a_notice(live: Harness) -> None:
    h = live
    person = await at_age_question(h)
    # 'age' is renamed: the person's step no longer exists
    edit(h, "demo.yaml", "  - id: age\n", "  - id: age_group\n")
    edit(h, "demo.yaml", "    next: age\n", "    next: age_group\n")
    await settle(reloader_for(h.app), h)
    assert to_admin(h) == []
    assert h.app.content.dialogs.step("demo", "age") is None

    calls = await person.click("Alle 30")  # type: ignore[attr-defined]
    assert [c.text for c in calls if isinstance(c, AnswerCallbackQuery)] == [STEP_GONE]
    assert texts_of(sent(calls)) == [f"{STEP_GONE}\n\nHei Testi!\n\nIkäryhmä?"]
    calls = await person.click("Alle 30")  # type: ignore[attr-defined]
    assert texts_of(calls)[-1] == "Mitkä alat kiinnostavat?"


async def test_person_in_a_removed_dialog_goes_to_the_menu_with_a_notice(live: Harness) -> None:
    h = live
    person = await at_age_question(h)
    dialogs = h.app.settings.dialogs_dir
    (dialogs / "demo.yaml").rename(dialogs / "trial.yaml")
    edit(h, "trial.yaml", "id: demo", "id: trial")
    edit(h, "onboarding.yaml", "dialog: demo", "dialog: trial")
    await settle(reloader_for(h.app), h)
    assert h.app.content.dialogs.get("demo") is None

    calls = await person.send("50")  # type: ignore[attr-defined]
    assert texts_of(calls) == [f"{STEP_GONE}\n\nMitä haluat tehdä?"]


async def test_reload_command_for_admins_only(live: Harness) -> None:
    h = live
    admin = h.person(ADMIN)
    await admin.send("/start")
    await admin.click("Suomi")
    await admin.click("Kyllä")

    calls = await admin.send("/reload")
    assert texts_of(calls) == ["Sisältö ei ole muuttunut. Käytössä on edelleen sama sisältö."]

    edit(h, "demo.yaml", "kind: condition", "kind: conditon")
    calls = await admin.send("/reload")
    assert texts_of(calls) == [
        "⚠️ Uudessa sisällössä on 2 virhettä. Vanha sisältö on yhä käytössä. Korjaa nämä:\n"
        "• dialogs/demo.yaml:20: 'kind' cannot be 'conditon'; it must be one of: message, "
        "choice, input, condition, action, goto, end\n"
        "• dialogs/onboarding.yaml:44: unknown dialog 'demo'"
    ]
    # the watcher does not tell the admins again about what /reload already showed
    told = len(to_admin(h))
    await settle(reloader_for(h.app), h)
    assert len(to_admin(h)) == told

    edit(h, "demo.yaml", "kind: conditon", "kind: condition")
    edit(h, "demo.yaml", '"Ikäryhmä?"', '"Ikä?"')
    calls = await admin.send("/reload")
    assert texts_of(calls) == ["✅ Uusi sisältö on käytössä: 2 dialogia."]

    someone = h.person(1002)
    await someone.send("/start")
    await someone.click("Suomi")
    await someone.click("Kyllä")
    calls = await someone.send("/reload")
    assert texts_of(calls) == ["HELP-fi", "Mitä haluat tehdä?"]  # an unknown command to them


async def test_the_running_scheduler_serves_a_valid_change(live: Harness) -> None:
    h = live
    scheduler = build_scheduler(h.app, h.bot)
    assert JOB_NAME in [job.name for job in scheduler.jobs]
    watcher = Scheduler(h.app, h.bot)
    watcher.every(0.05, JOB_NAME, reloader_for(h.app).job)  # the real job, looking often
    # a job that reads the content (as events.moved does) runs at once when it changes
    served: list[object] = []

    async def reader(app: App, bot: object) -> int:
        served.append(app.content)
        return 0

    watcher.every(3600, "reads.content", reader, on_content_change=True)
    h.app.scheduler = watcher
    old = h.app.content
    watcher.start()
    try:
        edit(h, "demo.yaml", '"Ikäryhmä?"', '"Ikä?"')
        for _ in range(400):
            if h.app.content is not old and len(served) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await watcher.stop()
        h.app.scheduler = None
    assert served == [old, h.app.content]  # at start, then woken by the reload
    step = h.app.content.dialogs.step("demo", "age")
    assert step is not None
    assert h.app.content.texts.resolve(step.text, "fi") == "Ikä?"  # type: ignore[union-attr]


async def test_unchanged_files_are_not_checked_again(live: Harness) -> None:
    reloader = reloader_for(live.app)
    assert reloader is reloader_for(live.app)
    content = live.app.content
    for _ in range(3):
        result = await reloader.poll(live.bot)
        assert (result.loaded, result.changed) == (False, False)
    assert live.app.content is content


def test_reloader_is_made_once_per_app(app: App) -> None:
    assert reloader_for(app) is app.reloader
