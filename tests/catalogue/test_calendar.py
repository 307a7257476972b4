"""A calendar that knows Finland, and a catalogue that says what is confirmed: public holidays
skipped unless an item opts in, breaks for the catalogue, a series or an item, local times
the clock skips or repeats refused, confirmations per item or file, sign-up links that are
home pages, and the bundled catalogue held to all of it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from holidays.countries.finland import Finland

from bot.catalogue import HELSINKI, collect_catalogue, load_catalogue
from bot.catalogue.calendar import holiday_name, local_time_problem, public_holidays
from bot.catalogue.schedule import iter_occurrences, next_joinable, next_occurrences
from bot.content.source import Severity
from tests.support import ROOT

BUNDLED = ROOT / "content" / "catalogue"

HEAD = "version: 1\n"


def item(
    item_id: str,
    schedule: str,
    *,
    extra: str = "",
    series: str | None = None,
) -> str:
    """One valid item; ``schedule`` is the YAML under ``schedule:`` (indented 6)."""
    return (
        f"  - id: {item_id}\n"
        + (f"    series: {series}\n" if series else "")
        + "    kind: info_session\n"
        "    title: {fi: Info, sv: Info, en: Info}\n"
        "    summary: {fi: Tietoa työstä., sv: Info om arbete., en: About work.}\n"
        "    organiser: Luksia\n"
        "    municipalities: [lohja]\n"
        '    place: {name: Luksia, address: Toivonkatu 4, postcode: "08100", city: Lohja}\n'
        "    languages: [fi]\n"
        "    topics: [job_search]\n"
        "    schedule:\n"
        f"{schedule}"
        "    duration_minutes: 60\n"
        f"{extra}"
    )


def write(directory: Path, text: str, name: str = "a.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def starts(catalogue_dir: Path, item_id: str, after: datetime, limit: int = 10) -> list[datetime]:
    catalogue = load_catalogue(catalogue_dir)
    found = catalogue.get(item_id)
    assert found is not None
    return [o.start for o in next_occurrences(found, after, limit=limit)]


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=HELSINKI)  # type: ignore[misc]


# -- public holidays ---------------------------------------------------------------------------


def test_finnish_public_holidays_for_any_year() -> None:
    assert holiday_name(date(2027, 3, 26)) == "Pitkäperjantai"
    assert holiday_name(date(2027, 6, 25)) == "Juhannusaatto"  # a de-facto day off too
    assert holiday_name(date(2027, 12, 24)) == "Jouluaatto"
    assert holiday_name(date(2027, 11, 6)) == "Pyhäinpäivä"  # the Saturday of its week
    assert holiday_name(date(2027, 3, 30)) is None
    assert len(public_holidays(2040)) == 15


def test_the_holidays_agree_with_the_holidays_package_from_1991_to_2100() -> None:
    """The rules in bot/catalogue/calendar.py against a maintained list (a test dependency:
    the bot does not load it)."""
    for year in range(1991, 2101):
        assert public_holidays(year) == dict(Finland(years=year, language="fi")), year


def test_weekly_items_skip_public_holidays_unless_they_opt_in(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: mon, time: '9:00', from: 2027-03-01}\n"
    write(
        tmp_path,
        HEAD
        + "items:\n"
        + item("skips", weekly)
        + item("opts-in", weekly, extra="    on_holidays: true\n"),
    )
    after = local(2027, 3, 22, 0, 0)
    # Easter Monday 29.3.2027 is skipped
    assert [s.date() for s in starts(tmp_path, "skips", after, 2)] == [
        date(2027, 3, 22),
        date(2027, 4, 5),
    ]
    assert [s.date() for s in starts(tmp_path, "opts-in", after, 2)] == [
        date(2027, 3, 22),
        date(2027, 3, 29),
    ]


def test_course_runs_number_only_the_days_they_meet(tmp_path: Path) -> None:
    # Tuesday to Thursday around Ascension Day (Thursday 6.5.2027)
    run = "      range: {start: 2027-05-04, end: 2027-05-06, days: [tue, wed, thu], time: '9:00'}\n"
    write(tmp_path, HEAD + "items:\n" + item("course", run))
    catalogue = load_catalogue(tmp_path)
    course = catalogue.get("course")
    assert course is not None
    found = list(iter_occurrences(course, local(2027, 5, 1, 0, 0)))
    assert [(o.start.date(), o.session, o.sessions) for o in found] == [
        (date(2027, 5, 4), 1, 2),
        (date(2027, 5, 5), 2, 2),
    ]


def test_a_one_off_date_on_a_holiday_is_not_shown_and_check_says_why(tmp_path: Path) -> None:
    dates = "      dates: [2027-03-26 10:00, 2027-03-30 10:00]\n"
    write(tmp_path, HEAD + "items:\n" + item("expo", dates))
    assert starts(tmp_path, "expo", local(2027, 3, 1, 0, 0)) == [local(2027, 3, 30, 10, 0)]
    _, problems = collect_catalogue(tmp_path)
    [warning] = [p for p in problems if p.code == "holiday"]
    assert warning.severity is Severity.WARNING
    assert warning.line == 13  # the dates line
    assert "2027-03-26 is a public holiday (Pitkäperjantai)" in warning.message


def test_no_bundled_occurrence_falls_on_a_public_holiday() -> None:
    catalogue = load_catalogue(BUNDLED)
    start = local(2026, 12, 1, 0, 0)
    end = start + timedelta(days=400)
    seen = 0
    for entry in catalogue:
        for occurrence in iter_occurrences(entry, start):
            if occurrence.start > end:
                break
            seen += 1
            day = occurrence.start.date()
            assert entry.on_holidays or holiday_name(day) is None, (entry.id, day)
            assert day.month != 7, (entry.id, day)  # the catalogue's summer break
    assert seen > 200


# -- breaks ------------------------------------------------------------------------------------


def test_catalogue_series_and_item_breaks(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: wed, time: '10:00', from: 2027-06-02}\n"
    write(
        tmp_path,
        HEAD
        + "items:\n"
        + item("expo-a", weekly, series="expo")
        + item("other", weekly)
        + item(
            "own-break",
            weekly,
            extra="    breaks: {from: 2027-06-09, until: 2027-06-09, name: koulutuspäivä}\n",
        ),
    )
    write(
        tmp_path,
        "version: 1\n"
        "breaks:\n"
        "  - {name: Kesätauko, from: 2027-07-01, until: 2027-07-31, yearly: true, series: expo}\n",
        name="calendar.yaml",
    )
    after = local(2027, 6, 28, 0, 0)
    expo = [s.date() for s in starts(tmp_path, "expo-a", after, 2)]
    assert expo == [date(2027, 6, 30), date(2027, 8, 4)]  # all of July off, every year
    assert [s.date() for s in starts(tmp_path, "expo-a", local(2028, 7, 1, 0, 0), 1)] == [
        date(2028, 8, 2)
    ]
    assert [s.date() for s in starts(tmp_path, "other", after, 1)] == [date(2027, 6, 30)]
    own = [s.date() for s in starts(tmp_path, "own-break", local(2027, 6, 8, 0, 0), 2)]
    assert own == [date(2027, 6, 16), date(2027, 6, 23)]


def test_a_break_naming_an_unknown_series_is_a_warning(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: wed, time: '10:00', from: 2027-06-02}\n"
    write(tmp_path, HEAD + "items:\n" + item("expo-a", weekly, series="expo"))
    write(
        tmp_path,
        "version: 1\nbreaks:\n  - {from: 2027-07-01, until: 2027-07-31, series: [expoo]}\n",
        name="calendar.yaml",
    )
    _, problems = collect_catalogue(tmp_path)
    assert [p.message for p in problems if p.code == "break"] == [
        "the break from 2027-07-01 names an unknown series 'expoo'"
    ]


def test_a_course_run_wholly_in_a_break_needs_its_own_run_to_join(tmp_path: Path) -> None:
    runs = (
        "      range:\n"
        "        - {start: 2027-07-05, end: 2027-07-09, time: '9:00'}\n"
        "        - {start: 2027-08-02, end: 2027-08-06, time: '9:00'}\n"
    )
    write(
        tmp_path,
        HEAD
        + "breaks: [{from: 2027-07-01, until: 2027-07-31}]\n"
        + "items:\n"
        + item("course", runs),
    )
    catalogue, problems = collect_catalogue(tmp_path)
    course = catalogue.get("course")
    assert course is not None
    joinable = next_joinable(course, local(2027, 6, 1, 0, 0))
    assert joinable is not None
    assert joinable.start == local(2027, 8, 2, 9, 0)
    assert [p.message for p in problems if p.code == "schedule"] == [
        "every meeting day of the run of 'course' from 2027-07-05 is a public holiday or in a break"
    ]


# -- local times that do not exist or happen twice ---------------------------------------------


def test_local_time_problems() -> None:
    assert local_time_problem(date(2027, 3, 28), time(3, 30)) == "missing"  # spring forward
    assert local_time_problem(date(2027, 10, 31), time(3, 30)) == "ambiguous"  # fall back
    assert local_time_problem(date(2027, 3, 28), time(4, 0)) is None
    assert local_time_problem(date(2027, 3, 29), time(3, 30)) is None


def test_check_rejects_a_time_the_clock_skips_or_repeats(tmp_path: Path) -> None:
    write(
        tmp_path,
        HEAD
        + "items:\n"
        + item("night", "      dates: [2027-03-28 03:30]\n")
        + item("autumn", "      weekly: {weekday: sun, time: '3:15', from: 2027-09-05}\n")
        + item(
            "run", "      range: {start: 2027-03-27, end: 2027-03-29, days: [sun], time: '3:00'}\n"
        ),
    )
    catalogue, problems = collect_catalogue(tmp_path)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert [(p.line, p.message) for p in errors] == [
        (
            13,
            "2027-03-28 03:30 does not exist in Finnish time: the clocks jump from 03:00 to "
            "04:00 that night",
        ),
        (
            25,
            "2027-10-31 03:15 happens twice in Finnish time: the clocks go back from 04:00 to "
            "03:00 that night",
        ),
        (
            37,
            "2027-03-28 03:00 does not exist in Finnish time: the clocks jump from 03:00 to "
            "04:00 that night",
        ),
    ]
    assert len(catalogue) == 0  # none of them is served


# -- confirmed or not --------------------------------------------------------------------------


def test_confirmation_per_item_or_per_file_and_a_note_listing_the_rest(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: wed, time: '10:00', from: 2027-06-02}\n"
    write(
        tmp_path,
        HEAD
        + "items:\n"
        + item("checked", weekly, extra="    confirmed: {by: Matti Editor, on: 2026-11-30}\n")
        + item("not-checked", weekly)
        + item("also-not", weekly),
    )
    write(
        tmp_path,
        HEAD
        + "confirmed: {by: Liisa Editor, on: 2.12.2026}\nitems:\n"
        + item("whole-file", weekly),
        name="b.yaml",
    )
    catalogue, problems = collect_catalogue(tmp_path)
    checked, whole_file = catalogue.get("checked"), catalogue.get("whole-file")
    assert checked is not None
    assert checked.confirmed is not None
    assert (checked.confirmed.by, checked.confirmed.on) == ("Matti Editor", date(2026, 11, 30))
    assert whole_file is not None
    assert whole_file.confirmed is not None
    assert (whole_file.confirmed.by, whole_file.confirmed.on) == ("Liisa Editor", date(2026, 12, 2))
    not_checked = catalogue.get("not-checked")
    assert not_checked is not None
    assert not not_checked.is_confirmed
    notes = [str(p).replace(str(tmp_path) + "/", "") for p in problems]
    assert notes == [
        "a.yaml: info: 2 item(s) not confirmed with their organiser, shown to people as 'to be "
        "confirmed': not-checked, also-not (when you have checked an item's dates, place and "
        "details with the organiser, add 'confirmed: {by: <your name>, on: <date>}' to it (or "
        "to the file))"
    ]


def test_a_confirmation_needs_a_name_and_a_date(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: wed, time: '10:00', from: 2027-06-02}\n"
    write(tmp_path, HEAD + "items:\n" + item("xx", weekly, extra="    confirmed: {by: Matti}\n"))
    catalogue, problems = collect_catalogue(tmp_path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in problems] == [
        "a.yaml:15:5: error: 'on' is required here"
    ]
    assert len(catalogue) == 0


def test_a_sign_up_link_to_a_home_page_is_a_warning(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: wed, time: '10:00', from: 2027-06-02}\n"
    write(
        tmp_path,
        HEAD
        + "items:\n"
        + item("home", weekly, extra='    signup: {mode: link, url: "https://www.luksia.fi/"}\n')
        + item(
            "form",
            weekly,
            extra='    signup: {mode: link, url: "https://www.luksia.fi/ilmoittaudu"}\n',
        ),
    )
    _, problems = collect_catalogue(tmp_path)
    assert [(p.line, p.message) for p in problems if p.code == "signup"] == [
        (15, "https://www.luksia.fi/ is a home page, not a page where people sign up")
    ]


def test_the_bundled_catalogue_confirms_nothing_it_invented() -> None:
    """The bundled schedules, seats and prices were invented: no item may claim otherwise,
    and no sign-up link, phone or web address pretends to be a way to sign up."""
    catalogue = load_catalogue(BUNDLED)
    assert [entry.id for entry in catalogue if entry.is_confirmed] == []
    for entry in catalogue:
        assert entry.signup.mode != "link", entry.id
        assert entry.contact is None or entry.contact.phone is None, entry.id
    for new in (
        "ohjaamo-lohja",
        "kickoff-rovaniemi",
        "lyhytkoulutukset-rovaniemi",
        "tyokokeilu-palkkatuki-rovaniemi",
        "vastavalmistuneet-rovaniemi",
    ):
        found = catalogue.get(new)
        assert found is not None, new
        for text in (found.title, found.summary, found.description):
            assert text is not None, new
            assert not text.missing(), new
    for path in BUNDLED.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "träning" not in text, path  # "träning" is exercise
        assert "TE-palvelut" not in text, path  # since 2025, the municipalities' services
