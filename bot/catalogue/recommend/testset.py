"""The recommendation test set editors extend: ``content/recommend_tests.yaml``.

Each profile is a person's career-plan answers and what their suggestions ("⭐ For you", the
first :data:`DEFAULT_LIMIT`) must and must not contain::

    version: 1
    at: 2026-12-07 09:00          # when the suggestions are made (Finnish time)
    profiles:
      - name: 55 in Karkkila, wants to start a business
        answers: {language: fi, age_group: 50_plus, municipality: karkkila,
                  help_wanted: [own_business]}
        first: yrittajakaverit-karkkila
        must: [duunikaverit-karkkila]
        must_not: [verkkoagentti-sv]

``first``, ``must`` and ``must_not`` name items by id or a whole ``series`` (any item of it).
``first`` may be a list: one of them must come first. Every profile is also checked against
the rules that hold for everyone: nothing outside the person's age group, situation or read
languages. Run by the tests and by ``urapolku check --recommend``; problems name the file
and line of the profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from bot.content.source import ContentError, Problem, Severity, YamlDocument, load_yaml, suggest

from ..schema import Catalogue, Item, LocalDateTime
from ..tags import (
    AGE_GROUPS,
    FIELDS,
    FORMS,
    HELP_WANTED,
    LANGUAGES,
    MUNICIPALITIES,
    SITUATIONS,
    UNEMPLOYMENT_DURATIONS,
    from_yaml_number,
)
from .profile import Profile, Recommendation, audience_gaps
from .ranker import recommend

FILE_NAME: Final = "recommend_tests.yaml"
FORMAT_VERSION: Final = 1
#: how many suggestions a person sees in "⭐ For you"
DEFAULT_LIMIT: Final = 5

#: answer keys and the values each may hold (what the career plan can save)
ANSWERS: Final[Mapping[str, tuple[tuple[str, ...], bool]]] = {
    "language": ((*LANGUAGES, "fi-selko"), False),
    "languages_read": (LANGUAGES, True),
    "situation": (SITUATIONS, False),
    "unemployment_duration": (UNEMPLOYMENT_DURATIONS, False),
    "age_group": (AGE_GROUPS, False),
    "municipality": ((*MUNICIPALITIES, "other"), False),
    "international_student": (("yes", "no"), False),
    "interests": ((*FIELDS, "other"), True),
    "help_wanted": (HELP_WANTED, True),
    "preferred_form": (FORMS, True),
}
PROFILE_FIELDS: Final = ("name", "answers", "first", "must", "must_not", "limit")

_AT = TypeAdapter(LocalDateTime)


@dataclass(frozen=True, slots=True)
class Case:
    """One profile of the test set, as read (``line``: where it starts)."""

    name: str
    answers: Mapping[str, Any]
    line: int | None
    first: tuple[str, ...] = ()
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class TestSet:
    at: datetime
    cases: tuple[Case, ...] = ()
    file: str = FILE_NAME
    problems: tuple[Problem, ...] = field(default=())


def broken_rules(rec: Recommendation, answers: Mapping[str, Any]) -> list[str]:
    """Why a suggestion should never have been made to this person ([] when it is fine):
    an audience they have not said they belong to, or a language they do not read."""
    profile = Profile.from_answers(answers)
    wrong: list[str] = []
    gaps = audience_gaps(rec.item.audience, profile)
    if gaps:
        wrong.append(f"meant for others (their {', '.join(gaps)} does not fit)")
    if profile.reads and not set(rec.item.languages) & profile.reads:
        wrong.append(f"held in {', '.join(rec.item.languages)}, which they do not read")
    return wrong


def load_test_set(path: Path, display_name: str = "") -> TestSet:
    """The test set and the problems of its file (an unreadable file raises ContentError)."""
    doc = load_yaml(path, display_name or str(path))
    return _read(doc)


def _read(doc: YamlDocument) -> TestSet:
    data = doc.data
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ContentError(
            [doc.problem((), "the file must start with 'version: 1', 'at:' and 'profiles:'")]
        )
    for key in data:
        if key not in ("version", "at", "profiles"):
            problems.append(
                doc.problem(
                    (str(key),),
                    f"'{key}' is not a known field here",
                    hint="known: version, at, profiles",
                )
            )
    if data.get("version") != FORMAT_VERSION:
        problems.append(doc.problem(("version",), f"'version' must be {FORMAT_VERSION}"))
    try:
        at = _AT.validate_python(data.get("at"))
    except ValidationError:
        raise ContentError(
            [*problems, doc.problem(("at",), "'at' must be a date and time, e.g. 2026-12-07 09:00")]
        ) from None
    raw = data.get("profiles")
    if not isinstance(raw, list):
        raise ContentError([*problems, doc.problem(("profiles",), "'profiles' must be a list")])
    cases: list[Case] = []
    for index, entry in enumerate(raw):
        case, found = _case(doc, index, entry)
        problems += found
        if case is not None:
            cases.append(case)
    return TestSet(at=at, cases=tuple(cases), file=doc.name, problems=tuple(problems))


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _case(doc: YamlDocument, index: int, entry: Any) -> tuple[Case | None, list[Problem]]:
    loc = ("profiles", index)
    if not isinstance(entry, dict):
        return None, [doc.problem(loc, "a profile is a block with 'name:' and 'answers:'")]
    problems: list[Problem] = []
    for key in entry:
        if key not in PROFILE_FIELDS:
            problems.append(
                doc.problem(
                    (*loc, str(key)),
                    f"'{key}' is not a known field of a profile",
                    hint=suggest(str(key), PROFILE_FIELDS) or "known: " + ", ".join(PROFILE_FIELDS),
                )
            )
    name = entry.get("name")
    answers = entry.get("answers")
    if not isinstance(name, str) or not isinstance(answers, dict):
        problems.append(doc.problem(loc, "a profile needs 'name:' and 'answers:'"))
        return None, problems
    for key, value in answers.items():
        where = (*loc, "answers", str(key))
        if key not in ANSWERS:
            problems.append(
                doc.problem(
                    where,
                    f"unknown answer '{key}'",
                    hint=suggest(str(key), ANSWERS) or "known: " + ", ".join(ANSWERS),
                )
            )
            continue
        known, many = ANSWERS[key]
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not many:
            problems.append(doc.problem(where, f"'{key}' takes one value"))
        for one in values:
            one = from_yaml_number(one, known)
            if str(one) not in known:
                problems.append(
                    doc.problem(
                        where,
                        f"'{key}': unknown value '{one}'",
                        hint=suggest(str(one), known) or "known: " + ", ".join(known),
                    )
                )
    lists = {k: _names(entry.get(k)) for k in ("first", "must", "must_not")}
    for key, names in lists.items():
        if names is None:
            problems.append(
                doc.problem((*loc, key), f"'{key}' is an item id, a series, or a list of them")
            )
    limit = entry.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
        problems.append(doc.problem((*loc, "limit"), "'limit' is a whole number from 1 to 50"))
        limit = DEFAULT_LIMIT
    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    clean = {
        k: from_yaml_number(v, ANSWERS[k][0]) if not isinstance(v, list) else v
        for k, v in answers.items()
    }
    case = Case(
        name=name,
        answers=clean,
        line=doc.position(loc)[0],
        first=lists["first"] or (),
        must=lists["must"] or (),
        must_not=lists["must_not"] or (),
        limit=limit,
    )
    return case, problems


def _matches(item: Item, name: str) -> bool:
    return item.id == name or item.series == name


def run_test_set(tests: TestSet, catalogue: Catalogue) -> list[Problem]:
    """Every failed expectation and broken rule, one problem each, at the profile's line."""
    problems = list(tests.problems)
    known = {item.id for item in catalogue} | {item.series for item in catalogue if item.series}
    for case in tests.cases:

        def fail(message: str, hint: str | None = None, case: Case = case) -> None:
            problems.append(
                Problem(
                    tests.file,
                    case.line,
                    None,
                    f"{case.name}: {message}",
                    hint,
                    Severity.ERROR,
                    "recommend",
                )
            )

        unknown = [n for n in (*case.first, *case.must, *case.must_not) if n not in known]
        for name in unknown:
            fail(f"no catalogue item or series '{name}'", suggest(name, sorted(known)))
        if unknown:
            continue
        recs = recommend(catalogue, case.answers, now=tests.at, limit=case.limit)
        got = [rec.item for rec in recs]
        shown = ", ".join(item.id for item in got) or "nothing"
        if case.first and not (got and any(_matches(got[0], n) for n in case.first)):
            fail(f"expected {' or '.join(case.first)} first; got {shown}")
        for name in case.must:
            if not any(_matches(item, name) for item in got):
                fail(f"expected {name} among the suggestions; got {shown}")
        for name in case.must_not:
            for item in got:
                if _matches(item, name):
                    fail(f"{item.id} should not be suggested; got {shown}")
        for rec in recs:
            for wrong in broken_rules(rec, case.answers):
                fail(f"{rec.item.id} is {wrong}")
    return problems
