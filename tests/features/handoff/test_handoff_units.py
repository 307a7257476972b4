"""The handoff's parts on their own: office hours, phone numbers, its content files and
texts, coach management in chat and on the command line."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from bot.catalogue.calendar import public_holidays
from bot.cli import main
from bot.engine.texts import load_texts_collecting
from bot.features.handoff.cards import OUTCOMES, Labels, card_text
from bot.features.handoff.office_hours import OfficeHours
from bot.features.handoff.section import check_handoff_content
from bot.features.handoff.service import normalise_phone
from db.repositories import CoachRepository, RequestInfo
from tests.features.handoff.support import ADMIN, HELSINKI, make_handoff_app, texts_to
from tests.support import ROOT, Harness

CONTENT = ROOT / "content"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=HELSINKI)  # type: ignore[misc]


@pytest.fixture
def office() -> OfficeHours:
    content, problems = check_handoff_content(CONTENT)
    assert content is not None, problems
    return content.office


# -- office hours --------------------------------------------------------------------------


def test_office_hours_and_holidays(office: OfficeHours) -> None:
    assert office.is_open(local(2026, 3, 2, 10, 0))  # Monday
    assert not office.is_open(local(2026, 3, 2, 16, 0))  # closes at 16
    assert not office.is_open(local(2026, 3, 6, 15, 30))  # Friday closes at 15
    assert not office.is_open(local(2026, 3, 7, 10, 0))  # Saturday
    assert not office.is_open(local(2026, 12, 24, 10, 0))  # Christmas Eve
    assert not office.is_open(local(2026, 6, 19, 10, 0))  # Midsummer Eve
    assert not office.is_open(local(2027, 3, 26, 10, 0))  # Good Friday 2027
    assert office.is_open(local(2027, 3, 30, 10, 0))


def test_working_hours_arithmetic(office: OfficeHours) -> None:
    friday = local(2026, 3, 6, 14, 30)
    assert office.add_working_hours(friday, 2) == local(2026, 3, 9, 9, 30)
    assert office.working_hours_between(friday, local(2026, 3, 9, 9, 30)) == pytest.approx(2)
    # Easter: Good Friday to Easter Monday are closed
    thursday = local(2026, 4, 2, 15, 0)
    assert office.add_working_hours(thursday, 4) == local(2026, 4, 7, 11, 0)
    assert office.next_opening(local(2026, 4, 3, 9, 0)) == local(2026, 4, 7, 8, 0)
    # across the change to summer time (29 March 2026)
    assert office.working_hours_between(
        local(2026, 3, 27, 14, 0), local(2026, 3, 30, 9, 0)
    ) == pytest.approx(2)
    assert office.working_days_between(friday, local(2026, 3, 11, 8, 0)) == 3
    assert office.working_hours_between(local(2026, 3, 2, 12), local(2026, 3, 2, 11)) == 0


def test_the_promise(office: OfficeHours) -> None:
    assert office.promises_hours(local(2026, 3, 2, 10, 0))
    assert office.promises_hours(local(2026, 3, 2, 6, 0))  # opens later today
    assert not office.promises_hours(local(2026, 3, 2, 17, 0))
    assert not office.promises_hours(local(2026, 3, 8, 10, 0))  # Sunday
    assert not office.promises_hours(local(2026, 12, 25, 9, 0))
    assert office.digest_due(local(2026, 3, 2, 8, 15))
    assert not office.digest_due(local(2026, 3, 2, 8, 14))
    assert not office.digest_due(local(2026, 3, 7, 9, 0))


def _finnish_days_off(year: int) -> set[date]:
    """The public holidays and the de-facto days off, computed here independently."""
    from datetime import timedelta

    from dateutil.easter import easter

    e = easter(year)
    midsummer_eve = next(date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4)
    all_saints = next(
        d for d in (date(year, 10, 31) + timedelta(days=k) for k in range(7)) if d.weekday() == 5
    )
    return {
        date(year, 1, 1),
        date(year, 1, 6),
        e - timedelta(days=2),
        e,
        e + timedelta(days=1),
        date(year, 5, 1),
        e + timedelta(days=39),
        e + timedelta(days=49),
        midsummer_eve,
        midsummer_eve + timedelta(days=1),
        all_saints,
        date(year, 12, 6),
        date(year, 12, 24),
        date(year, 12, 25),
        date(year, 12, 26),
    }


def test_office_hours_know_every_years_holidays_without_a_yearly_edit(
    office: OfficeHours,
) -> None:
    data = yaml.safe_load((CONTENT / "office_hours.yaml").read_text(encoding="utf-8"))
    assert "holidays" not in data  # nothing typed in by hand per year
    for year in range(2026, 2036):
        days_off = _finnish_days_off(year)
        assert set(public_holidays(year)) == days_off, year
        for day in days_off:
            if day.weekday() < 5:
                assert not office.is_working_day(day), day
                assert not office.is_open(local(day.year, day.month, day.day, 10, 0)), day
    # Good Friday 2031 is 11 April: a year nobody typed in; the next opening is Tuesday
    assert office.next_opening(local(2031, 4, 10, 16, 30)) == local(2031, 4, 15, 8, 0)


def test_local_closures_and_public_holidays_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "office_hours.yaml").write_text(
        "version: 1\n"
        "week: {mon: '08:00-16:00', tue: '08:00-16:00', wed: '08:00-16:00'}\n"
        "closures:\n"
        "  2027-03-30: Koulutuspäivä\n",
        encoding="utf-8",
    )
    content, problems = check_handoff_content(tmp_path)
    assert content is not None, problems
    assert not content.office.is_working_day(date(2027, 3, 29))  # Easter Monday
    assert not content.office.is_working_day(date(2027, 3, 30))  # the local closure
    assert content.office.is_working_day(date(2027, 3, 31))
    (tmp_path / "office_hours.yaml").write_text(
        "version: 1\nweek: {mon: '08:00-16:00'}\npublic_holidays: false\n", encoding="utf-8"
    )
    content, problems = check_handoff_content(tmp_path)
    assert content is not None, problems
    assert content.office.is_working_day(date(2027, 3, 29))  # open on Easter Monday


# -- phone numbers -------------------------------------------------------------------------

GOOD_PHONES = {
    "040 123 4567": "+358401234567",
    "0401234567": "+358401234567",
    "+358 40 123 4567": "+358401234567",
    "+358 (0)40 123 4567": "+358401234567",
    "00358 50 123 4567": "+358501234567",
    "050-123 456": "+35850123456",
    "09 123 4567": "+35891234567",
    "(09) 123 4567": "+35891234567",
    "02 2345 678": "+35822345678",
    "045 1234 5678": "+3584512345678",
}
#: numbers of other countries, with their country code (international students …)
FOREIGN_PHONES = {
    "+44 7700 900123": "+447700900123",
    "0044 7700 900123": "+447700900123",
    "+46 70 123 4567": "+46701234567",
    "+1 202 555 0143": "+12025550143",
}
BAD_PHONES = [
    "123",
    "040",
    "hello",
    "00000000",
    "040 12",
    "+358 0",
    "+44 12",
    "+999 1234567",
    "call 040 123 4567",
]


@pytest.mark.parametrize(("typed", "normal"), sorted({**GOOD_PHONES, **FOREIGN_PHONES}.items()))
def test_phone_numbers(typed: str, normal: str) -> None:
    assert normalise_phone(typed) == normal


@pytest.mark.parametrize("typed", BAD_PHONES)
def test_not_phone_numbers(typed: str) -> None:
    assert normalise_phone(typed) is None


def test_the_dialog_checks_phone_numbers_the_same_way() -> None:
    """The phone step of dialogs/handoff.yaml checks with the same rule the request stores."""
    dialog = yaml.safe_load((ROOT / "dialogs" / "handoff.yaml").read_text(encoding="utf-8"))
    [step] = [s for s in dialog["steps"] if s.get("save_as") == "phone"]
    assert step["validate"].get("phone") is True
    assert "pattern" not in step["validate"]


# -- content files -------------------------------------------------------------------------


def test_broken_content_files_give_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "office_hours.yaml").write_text(
        "version: 1\n"
        "timezone: Europe/Helsingfors\n"
        "week:\n"
        "  mon: '8-16'\n"
        "holidays:\n"
        "  2026-01-01: Uusivuosi\n",
        encoding="utf-8",
    )
    (tmp_path / "saved_replies.yaml").write_text(
        "version: 1\n"
        "replies:\n"
        "  - id: hello\n"
        "    label: {fi: Hei, sv: Hej, en: Hi}\n"
        "    text: {fi: Hei!, en: Hi!}\n"
        "  - id: hello\n"
        "    label: {fi: X, sv: X, en: X}\n"
        "    text: {fi: X, sv: X, en: X}\n",
        encoding="utf-8",
    )
    content, problems = check_handoff_content(tmp_path)
    assert content is None
    shown = [str(p).replace(str(tmp_path) + "/", "") for p in problems]
    assert shown == [
        "office_hours.yaml:2:1: error: 'timezone': 'Europe/Helsingfors' is not a known time zone "
        "(e.g. Europe/Helsinki)",
        "office_hours.yaml:3:1: error: 'week': mon: write the hours as \"08:00-16:00\", or closed",
        "saved_replies.yaml:5:5: error: the saved reply 'hello' has no text in 'sv' "
        "(every saved reply needs fi, sv, en)",
        "saved_replies.yaml:6:5: error: the saved reply 'hello' appears twice",
    ]
    (tmp_path / "saved_replies.yaml").write_text(
        "version: 1\nreplies:\n  - id: Bad Id\n    label: {fi: X}\n    text: {fi: X}\n",
        encoding="utf-8",
    )
    _, problems = check_handoff_content(tmp_path)
    assert str(problems[-1]).replace(str(tmp_path) + "/", "") == (
        "saved_replies.yaml:3:5: error: 'id' has characters that are not allowed: string should "
        "match pattern '^[a-z0-9][a-z0-9_]{0,23}$'"
    )


def test_saved_replies_in_plain_finnish_for_people_who_read_it() -> None:
    """The bundled saved replies each have a plain-Finnish text; a variant without one gets
    its base language's text, an unknown language the default's."""
    content, problems = check_handoff_content(ROOT / "content")
    assert problems == []
    assert content is not None
    assert content.saved_replies
    for reply in content.saved_replies:
        plain, standard = reply.text_in("fi-selko", "fi"), reply.text_in("fi", "fi")
        assert plain, reply.id
        assert plain != standard, reply.id
        assert reply.text_in("sv-lätt", "fi") == reply.text_in("sv", "fi")
        assert reply.text_in("xx", "fi") == standard


def test_missing_files_are_defaults_not_errors(tmp_path: Path) -> None:
    content, problems = check_handoff_content(tmp_path)
    assert content is not None
    assert content.saved_replies == ()
    assert [p.severity.value for p in problems] == ["warning"]


def test_bundled_files_are_valid_and_every_text_exists_in_every_language() -> None:
    content, problems = check_handoff_content(CONTENT)
    assert content is not None
    assert problems == []
    catalogue, text_problems = load_texts_collecting(CONTENT / "texts", "fi")
    assert not [p for p in text_problems if "handoff" in p.file or "defined twice" in p.message]
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "bot" / "features" / "handoff").glob("*.py")
    )
    keys = set(re.findall(r"""["']((?:coach|handoff)\.[a-z_]+(?:\.[a-z_]+)*)["']""", source))
    keys -= {"handoff.outbox", "handoff.timers", "handoff.roster"}  # job names
    keys |= {f"coach.outcome.{o}" for o in OUTCOMES}
    keys |= {f"coach.language.{lang}" for lang in ("fi", "sv", "en")}
    keys |= {f"handoff.how_{m}" for m in ("chat", "phone", "meeting")}
    keys |= {
        f"coach.alert.what.{k}"
        for k in ("card", "reannounce", "relay_in", "to_person", "group_text", "digest")
    }
    keys = {k for k in keys if not k.endswith(".")}
    assert len(keys) > 100
    for language in ("fi", "sv", "en"):
        missing = sorted(k for k in keys if not catalogue.has(k, language))
        assert missing == [], language


async def test_long_card_is_cut_at_line_ends(tmp_path: Path) -> None:
    app = await make_handoff_app(tmp_path)
    try:
        now = datetime(2026, 3, 2, 8, tzinfo=UTC)
        req = RequestInfo(
            id=7, person_id=1, person_telegram_id=1, person_language="fi", status="new",
            language="fi", first_name="<" * 64, topic="other", details="&" * 2000,
            contact_method="chat", phone=None, meeting_preference=None, share_answers=True,
            municipality=None, age_group=None,
            shared_answers={f"q{i}": "<>" * 100 for i in range(40)},
            created_at=now, announced_at=now, reannouncements=0, coach_id=None,
            coach_name=None, coach_telegram_id=None, claimed_at=None, last_activity_at=now,
            reminded_at=None, closed_at=None, outcome=None, feedback=None,
            telegram_chat_id=None, card_message_id=None, topic_thread_id=None,
        )  # fmt: skip
        text = card_text(Labels(app), req)
    finally:
        await app.db.dispose()
    assert len(text) <= 4096
    assert text.splitlines()[-2] == "…"
    assert text.endswith("<b>Saapui:</b> 2.3.2026 10:00")
    assert "\n<b>Omin sanoin:</b> " + "&amp;" * 299 + "…\n" in text
    assert "<b>Nimi:</b> " + "&lt;" * 64 + "\n" in text


async def test_card_shows_municipality_and_age_only_when_shared(tmp_path: Path) -> None:
    app = await make_handoff_app(tmp_path)
    try:
        now = datetime(2026, 3, 2, 8, tzinfo=UTC)
        texts = {}
        for share in (False, True):
            req = RequestInfo(
                id=8, person_id=1, person_telegram_id=1, person_language="fi", status="new",
                language="fi", first_name="Aino", topic="job_search", details=None,
                contact_method="chat", phone=None, meeting_preference=None, share_answers=share,
                municipality="karkkila", age_group="50_plus", shared_answers=None,
                created_at=now, announced_at=now, reannouncements=0, coach_id=None,
                coach_name=None, coach_telegram_id=None, claimed_at=None, last_activity_at=now,
                reminded_at=None, closed_at=None, outcome=None, feedback=None,
                telegram_chat_id=None, card_message_id=None, topic_thread_id=None,
            )  # fmt: skip
            texts[share] = card_text(Labels(app), req)
    finally:
        await app.db.dispose()
    assert "karkkila" not in texts[False].lower()
    assert "karkkila" in texts[True].lower()


# -- coaches -------------------------------------------------------------------------------


async def test_admin_manages_coaches_in_private_chat(h: Harness) -> None:
    admin = h.person(ADMIN, first_name="Aino", language_code="fi")
    await admin.send("/start")
    calls = await admin.send("/coach add 777 Liisa Laine")
    assert texts_to(calls, ADMIN) == ["Liisa Laine (777) on nyt valmentaja."]
    calls = await admin.send("/coach list")
    assert texts_to(calls, ADMIN) == [
        "Valmentajat:\n• Anna (501)\n• Ben (502)\n• Liisa Laine (777)\n• 9001 (ylläpitäjä)"
    ]
    calls = await admin.send("/coach remove 777")
    assert texts_to(calls, ADMIN) == ["777 ei ole enää valmentaja."]
    calls = await admin.send("/coach remove 777")
    assert texts_to(calls, ADMIN) == ["777 ei ole valmentaja."]
    calls = await admin.send("/coach add nobody")
    assert texts_to(calls, ADMIN)[0].startswith("/coach add <Telegram-id> <nimi>")
    async with h.app.db.read() as session:
        assert await CoachRepository(session).active(777) is None
        assert (await CoachRepository(session).by_telegram_id(777)) is not None  # kept, inactive


async def test_coach_command_is_for_admins_only(h: Harness) -> None:
    person = h.person(1234)
    await person.send("/start")
    await person.click("Suomi")
    await person.click("Kyllä")
    calls = await person.send("/coach add 1234 Minä")
    assert texts_to(calls, 1234)[0] == "HELP-fi"
    async with h.app.db.read() as session:
        assert await CoachRepository(session).active(1234) is None


def test_cli_coach_add_list_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("ADMIN_IDS", "42")
    assert main(["coach", "add", "501", "Anna", "Virtanen"]) == 0
    assert main(["coach", "list"]) == 0
    assert main(["coach", "remove", "501"]) == 0
    assert main(["coach", "remove", "501"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "Anna Virtanen (501) is a coach",
        "501\tAnna Virtanen",
        "42\t(admin, from ADMIN_IDS)",
        "501 is no longer a coach",
    ]
    assert err.strip() == "urapolku: 501 is not a coach"
    with pytest.raises(SystemExit):
        main(["coach", "add", "not-a-number", "X"])
