"""The catalogue format: loader errors with file:line, schedules, the bundled catalogue, texts."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from bot.catalogue import (
    HELSINKI,
    TextLookup,
    check_catalogue,
    collect_catalogue,
    is_past,
    load_catalogue,
    next_joinable,
    next_occurrences,
    render_occurrence,
    render_schedule,
    required_text_keys,
)
from bot.catalogue.schedule import range_days
from bot.catalogue.schema import Item
from bot.catalogue.tags import KINDS, MUNICIPALITIES, TOPICS, text_params
from bot.content.source import ContentError, Severity
from bot.engine.texts import load_texts_collecting

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "content" / "catalogue"
TEXT_FILES = [ROOT / "content" / "texts" / f"catalogue.{lang}.yaml" for lang in ("fi", "sv", "en")]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=HELSINKI)

# A valid item; tests replace single lines. Line numbers below refer to this text.
ITEM = """\
version: 1
items:
  - id: kortti-lohja
    kind: card_training
    title: {fi: Hygieniapassi, sv: Hygienpass, en: Hygiene passport}
    summary: {fi: Koulutus ja testi., sv: Utbildning och test., en: Training and test.}
    organiser: Luksia
    municipalities: [lohja]
    place: {name: Luksia, address: Toivonkatu 4, postcode: "08100", city: Lohja}
    languages: [fi]
    topics: [work_cards]
    schedule:
      weekly: {weekday: tue, time: 10:00, from: 2027-01-05}
    duration_minutes: 240
    signup: {mode: bot}
    confirmed: {by: Test Editor, on: 2026-11-30}
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_in(directory: Path) -> list[str]:
    """Errors and warnings; notes (e.g. unconfirmed items) are tested on their own."""
    _, problems = collect_catalogue(directory)
    return [
        str(p).replace(str(directory) + "/", "")
        for p in problems
        if p.severity is not Severity.INFO
    ]


def errors_in(directory: Path) -> list[str]:
    _, problems = collect_catalogue(directory)
    return [
        str(p).replace(str(directory) + "/", "") for p in problems if p.severity is Severity.ERROR
    ]


def item_yaml(**replace: str) -> str:
    """ITEM with lines replaced: ``kind="    kind: x"`` replaces the line starting 'kind:'."""
    lines = ITEM.splitlines()
    for key, new in replace.items():
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:"))
        lines[index] = new
    return "\n".join(lines) + "\n"


# --- loader -----------------------------------------------------------------------------------


def test_valid_item_loads_without_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ITEM)
    catalogue = load_catalogue(tmp_path)
    assert problems_in(tmp_path) == []
    item = catalogue.get("kortti-lohja")
    assert item is not None
    assert item.kind == "card_training"
    # unquoted 10:00 is the YAML 1.1 number 600; it must still mean ten o'clock
    assert item.schedule.weekly is not None
    assert item.schedule.weekly[0].time.hour == 10
    assert catalogue.sources["kortti-lohja"].line == 3


def test_unknown_kind_has_file_line_and_hint(tmp_path: Path) -> None:
    write(tmp_path, "rovaniemi.yaml", item_yaml(kind="    kind: card_trainig"))
    assert errors_in(tmp_path) == [
        "rovaniemi.yaml:4:5: error: 'kind': unknown kind 'card_trainig' "
        "(did you mean 'card_training'?)"
    ]


def test_unknown_topic_and_municipality_point_at_the_list_element(tmp_path: Path) -> None:
    text = item_yaml(
        municipalities="    municipalities: [lohja, rovanimi]",
        topics="    topics: [work_cards, jobsearch]",
    )
    write(tmp_path, "a.yaml", text)
    assert errors_in(tmp_path) == [
        "a.yaml:11:26: error: 'topics': unknown topic 'jobsearch' (did you mean 'job_search'?)",
        "a.yaml:8:29: error: 'municipalities': unknown municipality 'rovanimi' "
        "(did you mean 'rovaniemi'?)",
    ]


def test_missing_finnish_title(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", item_yaml(title="    title: {sv: Hygienpass, en: Hygiene passport}"))
    assert errors_in(tmp_path) == ["a.yaml:5:5: error: 'fi' is required here"]


def test_missing_swedish_text_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", item_yaml(title="    title: {fi: Hygieniapassi, en: Hygiene pass}"))
    problems = problems_in(tmp_path)
    assert problems == [
        "a.yaml:5:5: warning: 'title' has no Swedish (sv) text; those readers see the Finnish one"
    ]
    assert load_catalogue(tmp_path).get("kortti-lohja") is not None  # warnings do not stop it


def test_duplicate_id_across_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ITEM)
    write(tmp_path, "b.yaml", "# another file\n" + ITEM)
    assert errors_in(tmp_path) == [
        "b.yaml:4:5: error: the id 'kortti-lohja' is also used at a.yaml:3 "
        "(every item needs its own id)"
    ]


def test_bad_weekday(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        item_yaml(weekly="      weekly: {weekday: [tue, thx], time: 10:00, from: 2027-01-05}"),
    )
    assert errors_in(tmp_path) == [
        "a.yaml:13:31: error: 'weekday': unknown weekday 'thx' (did you mean 'thu'?)"
    ]


def test_finnish_weekday_gets_a_hint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        item_yaml(weekly="      weekly: {weekday: tiistai, time: 10:00, from: 2027-01-05}"),
    )
    assert errors_in(tmp_path) == [
        "a.yaml:13:16: error: 'weekday': unknown weekday 'tiistai' (write 'tue')"
    ]


def test_misspelt_field_gets_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", item_yaml(duration_minutes="    duration: 240"))
    assert errors_in(tmp_path) == [
        "a.yaml:3:5: error: 'duration_minutes' is required here",
        "a.yaml:14:5: error: 'duration' is not a known field here "
        "(did you mean 'duration_minutes'?)",
    ]


def test_all_problems_of_all_files_are_collected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", item_yaml(kind="    kind: group_coachin"))
    second = ITEM.replace("kortti-lohja", "kortti-vihti").replace("[fi]", "[fin]")
    write(tmp_path, "b.yaml", second.replace("version: 1", "version: 2"))
    write(tmp_path, "c.yaml", "version: 1\nitems:\n  - id: x\n    kind: [unclosed\n")
    with pytest.raises(ContentError) as caught:
        load_catalogue(tmp_path)
    files = sorted({Path(p.file).name for p in caught.value.problems})
    assert files == ["a.yaml", "b.yaml", "c.yaml"]
    messages = [p.message for p in caught.value.problems]
    assert "'kind': unknown kind 'group_coachin'" in messages
    assert "'languages': unknown language 'fin'" in messages
    assert "'version' must be 1" in messages
    assert any(m.startswith("YAML syntax") for m in messages)


def test_one_bad_item_does_not_hide_the_others(tmp_path: Path) -> None:
    good = ITEM.split("items:\n")[1]
    bad = good.replace("kortti-lohja", "Bad Id!").replace("card_training", "nonsense")
    write(tmp_path, "a.yaml", "version: 1\nitems:\n" + bad + good)
    catalogue, problems = collect_catalogue(tmp_path)
    assert [item.id for item in catalogue.items] == ["kortti-lohja"]
    assert {p.line for p in problems} == {3, 4}


def test_schedule_needs_exactly_one_shape(tmp_path: Path) -> None:
    text = item_yaml(
        weekly="      dates: [2027-01-05 10:00]\n"
        "      range: {start: 2027-01-05, end: 2027-01-08, time: '9:00'}"
    )
    write(tmp_path, "a.yaml", text)
    assert errors_in(tmp_path) == [
        "a.yaml:12:5: error: 'schedule': a schedule needs exactly one of: dates, range, weekly"
    ]


def test_date_without_time_in_dates(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", item_yaml(weekly="      dates: [2027-01-05, 2027-01-12 10:00]"))
    [error] = errors_in(tmp_path)
    assert error.startswith("a.yaml:13:15: error: 'dates': '2027-01-05' has no time")


def test_time_without_minutes_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        item_yaml(weekly="      weekly: {weekday: tue, time: 10, from: 1.1.2027}"),
    )
    [error] = errors_in(tmp_path)
    assert "write the time as hours and minutes" in error


def test_link_signup_needs_url(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", item_yaml(signup="    signup: {mode: link}"))
    assert errors_in(tmp_path) == ["a.yaml:15:5: error: 'signup': sign-up by link needs a 'url'"]


def test_item_needs_a_place_or_online(tmp_path: Path) -> None:
    text = item_yaml(municipalities="    online: false", place="    contact: {phone: 019 36961}")
    write(tmp_path, "a.yaml", text)
    assert errors_in(tmp_path) == [
        "a.yaml:3:5: error: say where it is: 'municipalities: [...]', 'online: true', or both"
    ]


def test_unquoted_age_group_30_49_is_understood(tmp_path: Path) -> None:
    text = item_yaml(
        topics="    topics: [work_cards]\n    audience: {age_groups: [30_49, 50_plus]}"
    )
    write(tmp_path, "a.yaml", text)
    item = load_catalogue(tmp_path).get("kortti-lohja")
    assert item is not None
    assert item.audience.age_groups == ("30_49", "50_plus")


def test_past_items_are_a_warning_from_lint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        item_yaml(weekly="      dates: [2020-01-07 10:00, 2020-01-14 10:00]"),
    )
    _, problems = collect_catalogue(tmp_path, now=NOW)
    assert [(p.severity, p.code, p.line) for p in problems] == [(Severity.WARNING, "past", 3)]
    assert "all dates of 'kortti-lohja' are in the past" in problems[0].message


def test_except_date_on_another_weekday_is_a_warning(tmp_path: Path) -> None:
    weekly = "      weekly: {weekday: tue, time: 10:00, from: 2027-01-05, except: [2027-01-07]}"
    write(tmp_path, "a.yaml", item_yaml(weekly=weekly))
    assert problems_in(tmp_path) == [
        "a.yaml:13:70: warning: 2027-01-07 is a thu, not a day this item meets"
    ]


def test_check_catalogue_reports_missing_texts(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ITEM)

    class Texts:
        texts: ClassVar[dict[str, dict[str, str]]] = {
            "fi": {"catalogue.kind.card_training": "Korttikoulutus"},
            "sv": {},
            "en": {},
        }

    catalogue, problems = check_catalogue(tmp_path, Texts(), now=NOW)
    assert catalogue is None  # keys missing everywhere are errors
    by_key = {p.message: p.severity for p in problems}
    assert by_key["the text 'catalogue.kind.card_training' is missing in: sv, en"] is (
        Severity.WARNING
    )
    assert by_key["the text 'catalogue.kind.peer_group' is missing"] is Severity.ERROR


def test_check_catalogue_reports_placeholders_the_code_does_not_fill(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ITEM)
    texts, _ = load_texts_collecting(ROOT / "content" / "texts", "fi")
    tables = {lang: dict(table) for lang, table in texts.texts.items()}
    tables["sv"]["catalogue.reason.place"] = "du bor {kommun}"

    class Texts:
        texts: ClassVar[dict[str, dict[str, str]]] = tables

    catalogue, problems = check_catalogue(tmp_path, Texts(), now=NOW)
    assert catalogue is None
    assert [str(p) for p in problems] == [
        "content/texts: error: the text 'catalogue.reason.place' (sv) uses {kommun}, which is "
        "not filled in here (it may use: {municipality}, {municipality_in})"
    ]


# --- schedules --------------------------------------------------------------------------------


def make_item(schedule: dict[str, object], **extra: object) -> Item:
    raw: dict[str, object] = {
        "id": "test-item",
        "kind": "peer_group",
        "title": {"fi": "Testi"},
        "summary": {"fi": "Testitapahtuma."},
        "organiser": "Testi",
        "online": True,
        "languages": ["fi"],
        "topics": ["peer_support"],
        "schedule": schedule,
        "duration_minutes": 120,
    }
    raw.update(extra)
    return Item.model_validate(raw)


def test_weekly_recurrence_with_exceptions_and_dst_change() -> None:
    # Finland moves to summer time on Sunday 28 March 2027.
    item = make_item(
        {
            "weekly": {
                "weekday": "tue",
                "time": "10:00",
                "from": "2027-03-02",
                "except": ["16.3.2027"],
            }
        }
    )
    after = datetime(2027, 3, 1, tzinfo=HELSINKI)
    starts = [o.start for o in next_occurrences(item, after, 4)]
    assert [s.date().isoformat() for s in starts] == [
        "2027-03-02",
        "2027-03-09",
        "2027-03-23",
        "2027-03-30",
    ]
    assert all((s.hour, s.minute) == (10, 0) for s in starts)  # wall clock stays 10:00
    assert [s.utcoffset() for s in starts] == [timedelta(hours=h) for h in (2, 2, 2, 3)]
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 8, 7]


def test_duration_is_real_minutes_across_the_dst_night() -> None:
    item = make_item({"dates": ["2027-03-27 23:00"]}, duration_minutes=240)
    [occurrence] = next_occurrences(item, datetime(2027, 3, 1, tzinfo=UTC), 5)
    assert occurrence.duration == timedelta(hours=4)
    assert occurrence.end - occurrence.start == timedelta(hours=5)  # Python's wall-clock rule
    assert (occurrence.end.hour, occurrence.end.utcoffset()) == (4, timedelta(hours=3))
    # and back on 31 October 2027: 4 real hours from 01:00 summer time end at 04:00 winter time
    autumn = make_item({"dates": ["2027-10-31 01:00"]}, duration_minutes=240)
    [occurrence] = next_occurrences(autumn, datetime(2027, 10, 1, tzinfo=UTC), 5)
    assert occurrence.duration == timedelta(hours=4)
    assert (occurrence.end.hour, occurrence.end.utcoffset()) == (4, timedelta(hours=2))


def test_weekly_with_several_weekdays_and_until() -> None:
    item = make_item(
        {
            "weekly": {
                "weekday": ["thu", "mon"],
                "time": "9.30",
                "from": "2027-01-04",
                "until": "2027-01-14",
            }
        }
    )
    starts = next_occurrences(item, datetime(2027, 1, 1, tzinfo=HELSINKI), 10)
    assert [o.start.strftime("%a %d") for o in starts] == ["Mon 04", "Thu 07", "Mon 11", "Thu 14"]
    assert is_past(item, datetime(2027, 1, 14, 9, 31, tzinfo=HELSINKI))


def test_range_sessions_and_joining() -> None:
    run = {"start": "2027-01-11", "end": "2027-01-22", "days": ["mon", "wed"], "time": "9:00"}
    item = make_item({"range": [run, {**run, "start": "2027-02-01", "end": "2027-02-12"}]})
    first = next_occurrences(item, datetime(2027, 1, 1, tzinfo=HELSINKI), 10)
    assert [(o.session, o.sessions) for o in first[:4]] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert first[4].start.date().isoformat() == "2027-02-01"
    # The first run has begun: people join the second one.
    during = datetime(2027, 1, 12, tzinfo=HELSINKI)
    joinable = next_joinable(item, during)
    assert joinable is not None
    assert (joinable.start.date().isoformat(), joinable.session) == ("2027-02-01", 1)
    # With open entry, the next meeting of the running course is offered.
    open_item = make_item({"range": {**run, "open_entry": True}})
    joinable = next_joinable(open_item, during)
    assert joinable is not None
    assert (joinable.start.date().isoformat(), joinable.session) == ("2027-01-13", 2)


def test_naive_datetimes_are_refused() -> None:
    item = make_item({"dates": ["2027-01-05 10:00"]})
    with pytest.raises(ValueError, match="timezone-aware"):
        next_occurrences(item, datetime(2027, 1, 1), 1)


def test_dates_in_finnish_format_and_aware_times() -> None:
    item = make_item({"dates": ["5.1.2027 klo 10.00", "2027-01-12T08:00:00+00:00"]})
    starts = [o.start for o in next_occurrences(item, datetime(2027, 1, 1, tzinfo=UTC), 5)]
    assert [(s.day, s.hour) for s in starts] == [(5, 10), (12, 10)]
    assert all(s.tzinfo is HELSINKI for s in starts)


def fake_t(key: str, params: object) -> str:
    assert isinstance(params, dict)
    return key.rsplit(".", 1)[-1] + (repr(sorted(params.items())) if params else "")


def test_rendering_uses_only_text_keys() -> None:
    texts, _ = load_texts_collecting(ROOT / "content" / "texts", "fi")
    item = make_item({"weekly": {"weekday": ["tue", "thu"], "time": "9:00", "from": "2027-01-05"}})
    occurrence = next_occurrences(item, datetime(2027, 1, 1, tzinfo=HELSINKI), 1)[0]

    def t(lang: str) -> TextLookup:
        return lambda key, params: texts.get(key, lang, **params)

    assert render_occurrence(occurrence, t("fi")) == "tiistai 5.1.2027 klo 9.00–11.00"
    assert render_occurrence(occurrence, t("en")) == "Tuesday 5 January 2027, 9:00–11:00"
    assert render_schedule(item.schedule, t("sv")) == "varje tisdag och torsdag kl. 9.00"
    assert render_schedule(make_item({"dates": ["2027-01-05 10:00"]}).schedule, fake_t) is None


# --- the bundled catalogue --------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> object:
    return load_catalogue(BUNDLED)


def test_bundled_catalogue_has_no_errors_and_no_warnings() -> None:
    texts, _ = load_texts_collecting(ROOT / "content" / "texts", "fi")
    catalogue, problems = check_catalogue(BUNDLED, texts, now=NOW)
    assert [str(p) for p in problems if p.severity is not Severity.INFO] == []
    assert catalogue is not None
    assert len(catalogue) >= 30


def test_bundled_files_start_with_version() -> None:
    for path in sorted(BUNDLED.glob("*.yaml")):
        first = next(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        assert first == "version: 1", path.name


def test_bundled_catalogue_covers_every_named_service() -> None:
    catalogue = load_catalogue(BUNDLED)
    titles = {item.id: item.title.fi.casefold() for item in catalogue.items}

    def having(word: str) -> list[str]:
        return [i for i, title in titles.items() if word.casefold() in title]

    duuniexpo = {m for item in catalogue.series("duuniexpo") for m in item.municipalities}
    assert duuniexpo == {"lohja", "vihti", "raasepori", "hanko", "karkkila"}
    assert {i.kind for i in catalogue.series("duunikaverit")} == {"group_coaching"}
    assert {i.kind for i in catalogue.series("yrittajakaverit")} == {"entrepreneurship_coaching"}
    verkkoagentti = catalogue.get("verkkoagentti")
    assert verkkoagentti is not None
    assert verkkoagentti.online
    assert verkkoagentti.kind == "online_course"
    runs = verkkoagentti.schedule.range or ()
    assert runs
    assert all(len(range_days(run)) == 15 for run in runs)  # a 15-day course
    job_search_days = catalogue.by_kind("job_search_day")
    assert len(job_search_days) >= 3
    assert all(item.schedule.weekly for item in job_search_days)
    assert having("duunitreffit")
    assert having("speed dating")
    assert having("työpaikat tutuiksi")
    for card in ("hygieniapassi", "työturvallisuuskortti", "ensiapu", "tulityö"):
        assert having(card), card
    assert catalogue.by_kind("peer_group")
    ohjaamo = catalogue.get("ohjaamo-rovaniemi")
    assert ohjaamo is not None
    assert ohjaamo.audience.age_groups == ("under_30",)
    international = [i for i in catalogue.items if i.audience.international_students]
    assert any("rovaniemi" in i.municipalities for i in international)
    used = {m for item in catalogue.items for m in item.municipalities}
    assert used == set(MUNICIPALITIES)
    assert catalogue.by_kind("card_training")
    assert catalogue.online()
    assert {item.kind for item in catalogue.items} <= set(KINDS)
    assert {t for item in catalogue.items for t in item.topics} <= set(TOPICS)


def test_bundled_catalogue_has_something_ahead_today() -> None:
    catalogue = load_catalogue(BUNDLED)
    now = datetime(2026, 12, 1, tzinfo=HELSINKI)
    assert sum(not is_past(item, now) for item in catalogue.items) == len(catalogue)


# --- texts ------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"{(\w+)}")


def test_every_catalogue_text_exists_in_all_three_languages(tmp_path: Path) -> None:
    for path in TEXT_FILES:
        shutil.copy(path, tmp_path / path.name)
    texts, problems = load_texts_collecting(tmp_path, "fi")
    assert [str(p) for p in problems] == []
    for key in sorted(required_text_keys()):
        for lang in ("fi", "sv", "en"):
            assert texts.has(key, lang), f"{key} missing in {lang}"
        for lang in ("fi", "sv", "en"):
            used = set(_PLACEHOLDER.findall(texts.texts[lang][key]))
            assert used <= text_params(key), (key, lang, used)
    own = {k for lang in ("fi", "sv", "en") for k in texts.texts[lang]}
    assert own == set(required_text_keys()), "texts that no code uses"


def test_catalogue_package_imports_no_telegram_or_database() -> None:
    for path in (ROOT / "bot" / "catalogue").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("aiogram", "sqlalchemy", "db")), (path.name, name)
    code = (
        "import sys, bot.catalogue; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiogram', 'sqlalchemy')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
