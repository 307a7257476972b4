"""The recommendation test set (content/recommend_tests.yaml) and the rules that hold for every
person: no suggestion outside their age group, situation or read languages — checked over
every combination of age group, language and municipality on the bundled catalogue."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import HELSINKI, Catalogue, load_catalogue, render_reasons
from bot.catalogue.recommend import recommend
from bot.catalogue.recommend.profile import Profile, audience_gaps
from bot.catalogue.recommend.testset import (
    DEFAULT_LIMIT,
    broken_rules,
    load_test_set,
    run_test_set,
)
from bot.catalogue.tags import AGE_GROUPS, MUNICIPALITIES
from bot.content.source import ContentError
from bot.engine.texts import TextCatalogue, load_texts_collecting

ROOT = Path(__file__).resolve().parents[2]
TEST_SET = ROOT / "content" / "recommend_tests.yaml"


@pytest.fixture(scope="module")
def bundled() -> Catalogue:
    return load_catalogue(ROOT / "content" / "catalogue")


@pytest.fixture(scope="module")
def texts() -> TextCatalogue:
    loaded, _ = load_texts_collecting(ROOT / "content" / "texts", "fi")
    return loaded


# --- the editors' test set --------------------------------------------------------------------


def test_the_bundled_test_set_passes(bundled: Catalogue) -> None:
    tests = load_test_set(TEST_SET)
    assert run_test_set(tests, bundled) == []
    names = " | ".join(case.name for case in tests.cases)
    for wanted in ("Lohja", "Karkkila", "English", "restaurants", "Swedish", "Plain-Finnish"):
        assert wanted in names
    # the two promises, stated in the set itself
    by_name = {case.name: case for case in tests.cases}
    assert by_name["55 in Karkkila, wants to start a business"].first == (
        "yrittajakaverit-karkkila",
    )
    assert "hygieniapassi" in by_name["22 in Rovaniemi, into restaurants"].must


def test_the_22_year_old_into_restaurants_is_told_why_the_hygiene_passport(
    bundled: Catalogue, texts: TextCatalogue
) -> None:
    tests = load_test_set(TEST_SET)
    case = next(c for c in tests.cases if "restaurants" in c.name)
    recs = recommend(bundled, case.answers, now=tests.at, limit=DEFAULT_LIMIT)
    passport = next(r for r in recs if r.item.series == "hygieniapassi")
    sentence = render_reasons(passport.reasons, lambda k, p: texts.get(k, "en", **p))
    assert sentence == (
        "Because you are interested in restaurants and tourism and you get the hygiene "
        "passport that work with food needs."
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recommend_tests.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_failed_expectation_names_the_profile_and_its_line(
    bundled: Catalogue, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "version: 1\n"
        "at: 2026-12-07 09:00\n"
        "profiles:\n"
        "  - name: Karkkila\n"
        "    answers: {language: fi, age_group: 50_plus, municipality: karkkila,"
        " situation: unemployed, help_wanted: [own_business]}\n"
        "    first: duunikaverit-karkkila\n"
        "    must: [hygieniapassi]\n"
        "    must_not: [yrittajakaverit]\n"
        "  - name: Young\n"
        "    answers: {language: fi, age_group: under_30, municipality: lohja}\n"
        "    must_not: [verkkoagentti]\n",
    )
    problems = run_test_set(load_test_set(path), bundled)
    messages = [(p.line, p.message.split(";")[0]) for p in problems]
    assert messages == [
        (4, "Karkkila: expected duunikaverit-karkkila first"),
        (4, "Karkkila: expected hygieniapassi among the suggestions"),
        (4, "Karkkila: yrittajakaverit-karkkila should not be suggested"),
    ]
    assert "got yrittajakaverit-karkkila, " in problems[0].message


def test_unknown_answers_items_and_fields_are_reported(bundled: Catalogue, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\n"
        "at: 2026-12-07 09:00\n"
        "profiles:\n"
        "  - name: Typos\n"
        "    answers: {language: fi, age_grop: under_30, municipality: lohjaa}\n"
        "    muts: [x]\n"
        "  - name: Unknown item\n"
        "    answers: {language: fi}\n"
        "    must: [duuniexpo-lohjaa]\n",
    )
    problems = run_test_set(load_test_set(path), bundled)
    text = [str(p) for p in problems]
    assert any("unknown answer 'age_grop'" in t and "age_group" in t for t in text)
    assert any("unknown value 'lohjaa'" in t for t in text)
    assert any("'muts' is not a known field" in t and "must" in t for t in text)
    assert any(":7: error: Unknown item: no catalogue item or series" in t for t in text)
    assert any("duuniexpo-lohja" in (p.hint or "") for p in problems)


def test_a_file_without_a_time_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nprofiles: []\n")
    with pytest.raises(ContentError, match="'at' must be a date and time"):
        load_test_set(path)


# --- every combination ------------------------------------------------------------------------

#: the UI language and the languages read besides it (the career plan asks sv and en readers)
READERS: tuple[dict[str, Any], ...] = (
    {"language": "fi"},
    {"language": "fi-selko"},
    {"language": "sv"},
    {"language": "sv", "languages_read": ["sv"]},
    {"language": "sv", "languages_read": ["fi", "sv"]},
    {"language": "en"},
    {"language": "en", "languages_read": ["en"]},
    {"language": "en", "languages_read": ["fi"]},
    {"language": "en", "languages_read": ["sv", "en"]},
)
#: what else people say, so that items meant for situations and needs come up too
OTHERS: tuple[dict[str, Any], ...] = (
    {},
    {"situation": "unemployed", "unemployment_duration": "over_12m", "help_wanted": ["job"]},
    {"situation": "soon_unemployed", "help_wanted": ["own_business", "digital_skills"]},
    {"situation": "studying", "international_student": "yes", "help_wanted": ["studies"]},
    {"situation": "employed_looking", "interests": ["construction"], "help_wanted": ["new_field"]},
    {"situation": "recent_graduate", "interests": ["social_health", "other"]},
)
MOMENTS = tuple(
    datetime(2026, 12, 7, 9, 0, tzinfo=HELSINKI) + timedelta(days=d) for d in (0, 35, 70, 120)
)


def test_no_suggestion_outside_age_group_or_read_languages_for_every_combination(
    bundled: Catalogue,
) -> None:
    checked = suggested = 0
    seen: set[str] = set()
    ages: tuple[str | None, ...] = (*AGE_GROUPS, None)
    places: tuple[str | None, ...] = (*MUNICIPALITIES, "other", None)
    for age, reader, place, other, now in itertools.product(ages, READERS, places, OTHERS, MOMENTS):
        answers: dict[str, Any] = {**reader, **other}
        if age is not None:
            answers["age_group"] = age
        if place is not None:
            answers["municipality"] = place
        profile = Profile.from_answers(answers)
        for rec in recommend(bundled, answers, now=now, limit=20):
            assert broken_rules(rec, answers) == [], (answers, rec.item.id)
            # the same, said plainly
            item = rec.item
            assert not item.audience.age_groups or age in item.audience.age_groups
            assert not item.audience.situations or (profile.situation in item.audience.situations)
            assert set(item.languages) & profile.reads, (answers, item.id)
            assert audience_gaps(item.audience, profile) == ()
            suggested += 1
            seen.add(item.id)
        checked += 1
    assert checked == len(ages) * len(READERS) * len(places) * len(OTHERS) * len(MOMENTS)
    assert suggested > checked  # most people get something
    # items meant for a group did come up, for the people in it
    assert {"verkkoagentti", "duunikaverit-lohja", "ohjaamo-rovaniemi"} <= seen
    assert "international-students" in seen
