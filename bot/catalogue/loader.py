"""Loading ``content/catalogue/*.yaml`` with errors editors can act on.

Every file is read with :mod:`bot.content.source`, so each problem names the file, line and
column. Items are validated one by one: a broken item is reported precisely and does not hide
the problems of the others, and *all* problems of *all* files are collected before anything
is raised. Misspelt kinds, topics, municipalities, languages and weekdays get a "did you mean"
hint; an id used twice names both places.

Entry points:

* :func:`load_catalogue` — the catalogue, or :class:`~bot.content.source.ContentError` listing
  every error (warnings are not raised).
* :func:`collect_catalogue` — the valid items and every problem, never raises (``urapolku
  check``).
* :func:`check_catalogue` — the hook ``bot.content.snapshot`` calls: problems including text-key and
  "everything is past" lint, and the catalogue only when there are no errors.
* :func:`lint_catalogue` — warnings that depend on the date (items whose dates are all past).

A file may also carry, next to ``items``, a ``confirmed: {by, on}`` for all its items (an
item's own ``confirmed`` wins) and ``breaks:`` (summer breaks) for the whole catalogue or for
the series and items they name; a file may hold only ``breaks``. Items nobody has confirmed
are listed as a note, one per file.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.content.source import (
    ContentError,
    Loc,
    Problem,
    Severity,
    YamlDocument,
    load_yaml,
    problems_from_validation_error,
    suggest,
)

from .calendar import TimeProblem, describe_time_problem, holiday_name, local_time_problem
from .field_topics import default_path, load_field_topics
from .schedule import is_past, meeting_days, range_days
from .schema import (
    HELSINKI,
    ITEM_FIELDS,
    Catalogue,
    CatalogueBreak,
    Confirmation,
    Item,
    Source,
)
from .tags import (
    AGE_GROUPS,
    FIELDS,
    KINDS,
    LANGUAGES,
    MUNICIPALITIES,
    SIGNUP_MODES,
    SITUATIONS,
    TOPICS,
    UNEMPLOYMENT_DURATIONS,
    WEEKDAYS,
    from_yaml_number,
    required_text_keys,
    text_params,
)

_FORMATTER: Final = string.Formatter()

FORMAT_VERSION: Final = 1
#: How :func:`problems_from_validation_error` names an error that belongs to no field.
_ITEM_LEVEL: Final = "'value': "
FILE_FIELDS: Final = ("version", "items", "confirmed", "breaks")
#: How far ahead a weekly rule without ``until`` is checked for times the clock skips.
_DST_LOOKAHEAD_DAYS: Final = 400

#: Weekday spellings editors are likely to use (Finnish, Swedish, English), for the hint only.
_WEEKDAY_SPELLINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "mon": ("ma", "maanantai", "monday", "må", "måndag"),
    "tue": ("ti", "tiistai", "tuesday", "tis", "tisdag"),
    "wed": ("ke", "keskiviikko", "wednesday", "ons", "onsdag"),
    "thu": ("to", "torstai", "thursday", "tor", "torsdag"),
    "fri": ("pe", "perjantai", "friday", "fre", "fredag"),
    "sat": ("la", "lauantai", "saturday", "lör", "lördag"),
    "sun": ("su", "sunnuntai", "sunday", "sön", "söndag"),
}
_WEEKDAY_ALIASES: Final[Mapping[str, str]] = {
    spelling: day for day, spellings in _WEEKDAY_SPELLINGS.items() for spelling in spellings
}

_LANGUAGE_NAMES: Final[Mapping[str, str]] = {"sv": "Swedish (sv)", "en": "English (en)"}

#: (path inside an item, vocabulary, what one value is called). ``*`` is every list element.
_VOCABULARIES: Final[tuple[tuple[tuple[str, ...], Sequence[str], str], ...]] = (
    (("kind",), KINDS, "kind"),
    (("topics", "*"), TOPICS, "topic"),
    (("fields", "*"), FIELDS, "field of work"),
    (("municipalities", "*"), MUNICIPALITIES, "municipality"),
    (("languages", "*"), LANGUAGES, "language"),
    (("audience", "age_groups", "*"), AGE_GROUPS, "age group"),
    (("audience", "situations", "*"), SITUATIONS, "situation"),
    (("audience", "unemployment", "*"), UNEMPLOYMENT_DURATIONS, "unemployment duration"),
    (("schedule", "weekly", "*", "weekday", "*"), WEEKDAYS, "weekday"),
    (("schedule", "range", "*", "days", "*"), WEEKDAYS, "weekday"),
    (("signup", "mode"), SIGNUP_MODES, "sign-up mode"),
)

#: Values an editor may write as a single value instead of a one-element list.
_LISTS: Final[tuple[tuple[str, ...], ...]] = (
    ("topics",),
    ("fields",),
    ("municipalities",),
    ("languages",),
    ("audience", "age_groups"),
    ("audience", "situations"),
    ("audience", "unemployment"),
    ("schedule", "dates"),
    ("schedule", "range"),
    ("schedule", "weekly"),
    ("schedule", "weekly", "*", "weekday"),
    ("schedule", "weekly", "*", "except"),
    ("schedule", "range", "*", "days"),
    ("breaks",),
)


def _display(path: Path) -> str:
    """The path as editors know it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- public API -------------------------------------------------------------------------------


def load_catalogue(
    directory: Path, *, known_text_keys: Mapping[str, Collection[str]] | None = None
) -> Catalogue:
    """Load every ``*.yaml`` in ``directory``; raise :class:`ContentError` with all errors.

    ``known_text_keys`` maps a language to the text keys it has; when given, every text the
    catalogue code needs must exist (see :func:`check_text_keys`).
    """
    catalogue, problems = collect_catalogue(directory, known_text_keys=known_text_keys)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise ContentError(errors)
    return catalogue


def collect_catalogue(
    directory: Path,
    *,
    known_text_keys: Mapping[str, Collection[str]] | None = None,
    now: datetime | None = None,
    field_topics: Path | None = None,
) -> tuple[Catalogue, list[Problem]]:
    """Every problem (errors and warnings) of every file, and a catalogue of the valid items.

    Never raises for content mistakes. With ``now``, also lints for items that are all past.
    The field → topic map is read from ``field_topics`` (default: ``field_topics.yaml`` next
    to ``directory``; see :mod:`.field_topics`).
    """
    problems: list[Problem] = []
    items: list[Item] = []
    sources: dict[str, Source] = {}
    breaks: list[CatalogueBreak] = []
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        problems.append(
            Problem(
                _display(directory),
                None,
                None,
                "no catalogue files (*.yaml) found",
                severity=Severity.WARNING,
                code="empty",
            )
        )
    for path in files:
        try:
            doc = load_yaml(path, _display(path))
        except ContentError as exc:
            problems += exc.problems
            continue
        problems += _load_file(doc, items, sources, breaks)
    problems += _unknown_break_targets(breaks, items)
    map_path = field_topics or default_path(directory)
    topics_map, map_problems = load_field_topics(
        map_path, _display(map_path), item_topics={t for item in items for t in item.topics}
    )
    problems += map_problems
    catalogue = Catalogue(
        tuple(_with_breaks(item, breaks) for item in items),
        sources,
        tuple(breaks),
        field_topics=topics_map,
    )
    problems += _closed_runs(catalogue)
    if known_text_keys is not None:
        problems += check_text_keys(known_text_keys)
    if now is not None:
        problems += lint_catalogue(catalogue, now=now)
    return catalogue, problems


def check_catalogue(
    directory: Path, texts: Any = None, *, now: datetime | None = None
) -> tuple[Catalogue | None, list[Problem]]:
    """The hook of ``bot.content.snapshot.check_content``: (catalogue or None on errors, problems).

    ``texts`` is the loaded text catalogue (anything with a ``texts`` mapping of language to
    ``{key: text}``); when given, missing catalogue texts are reported too.
    """
    known: Mapping[str, Collection[str]] | None = None
    table = getattr(texts, "texts", None)
    if isinstance(table, Mapping):
        known = {str(lang): keys for lang, keys in table.items()}
    catalogue, problems = collect_catalogue(
        directory, known_text_keys=known, now=now or datetime.now(HELSINKI)
    )
    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    return catalogue, problems


def lint_catalogue(catalogue: Catalogue, *, now: datetime) -> list[Problem]:
    """Warnings that depend on today: items none of whose dates are still ahead."""
    problems: list[Problem] = []
    for item in catalogue.items:
        if is_past(item, now):
            source = catalogue.sources.get(item.id, Source("?", None))
            problems.append(
                Problem(
                    source.file,
                    source.line,
                    None,
                    f"all dates of '{item.id}' are in the past, so nobody is shown it",
                    "add new dates, or remove the item",
                    Severity.WARNING,
                    "past",
                )
            )
    return problems


def check_text_keys(
    known: Mapping[str, Collection[str]],
    *,
    languages: Sequence[str] = LANGUAGES,
    where: str = "content/texts",
) -> list[Problem]:
    """Every text the catalogue code uses must exist in every language.

    Missing everywhere is an error (a person would see the bare key); missing in some
    languages is a warning (they fall back to the default language). When ``known`` maps
    keys to the texts themselves, a ``{placeholder}`` the code does not fill is an error too.
    """
    problems: list[Problem] = []
    for lang, table in sorted(known.items()):
        if isinstance(table, Mapping):
            problems += _placeholder_problems(lang, table, where)
    for key in sorted(required_text_keys()):
        missing = [lang for lang in languages if key not in known.get(lang, ())]
        if not missing:
            continue
        everywhere = len(missing) == len(languages)
        problems.append(
            Problem(
                where,
                None,
                None,
                f"the text '{key}' is missing"
                + ("" if everywhere else f" in: {', '.join(missing)}"),
                "add it to content/texts/catalogue.<language>.yaml",
                Severity.ERROR if everywhere else Severity.WARNING,
                "missing-text",
            )
        )
    return problems


def _placeholder_problems(lang: str, table: Mapping[str, Any], where: str) -> list[Problem]:
    problems: list[Problem] = []
    for key in sorted(required_text_keys() & set(table)):
        text = table[key]
        allowed = text_params(key)
        try:
            used = {name for _, name, _, _ in _FORMATTER.parse(str(text)) if name is not None}
        except ValueError:
            used = {"{"}
        unknown = sorted(used - allowed)
        if unknown:
            problems.append(
                Problem(
                    where,
                    None,
                    None,
                    f"the text '{key}' ({lang}) uses "
                    + ", ".join("{" + name.strip("{") + "}" for name in unknown)
                    + ", which is not filled in here",
                    "it may use: " + ", ".join("{" + p + "}" for p in sorted(allowed))
                    if allowed
                    else "this text takes no {placeholders}; write '{{' for a brace",
                    Severity.ERROR,
                    "placeholder",
                )
            )
    return problems


# --- one file ---------------------------------------------------------------------------------


def _load_file(
    doc: YamlDocument,
    items: list[Item],
    sources: dict[str, Source],
    breaks: list[CatalogueBreak],
) -> list[Problem]:
    data = doc.data
    if not isinstance(data, dict):
        return [doc.problem((), "a catalogue file must start with 'version: 1' and 'items:'")]
    problems: list[Problem] = []
    for key in data:
        if key not in FILE_FIELDS:
            problems.append(
                doc.problem(
                    (str(key),),
                    f"'{key}' is not a known field here",
                    hint=suggest(str(key), FILE_FIELDS) or "known: version, items",
                )
            )
    if data.get("version") != FORMAT_VERSION:
        problems.append(
            doc.problem(
                ("version",),
                f"'version' must be {FORMAT_VERSION}",
                hint="the file starts with the line 'version: 1'",
            )
        )
    confirmed = _file_model(doc, "confirmed", Confirmation, problems)
    for index, raw in enumerate(_as_list(data.get("breaks"))):
        found = _file_model(doc, ("breaks", index), CatalogueBreak, problems, raw)
        if found is not None:
            breaks.append(found)
    raw_items = data.get("items")
    if raw_items is None:
        if "breaks" not in data:
            problems.append(doc.problem((), "the file has no 'items:' list"))
        return problems
    if not isinstance(raw_items, list):
        problems.append(doc.problem(("items",), "'items' must be a list (lines starting '- ')"))
        return problems
    if not raw_items:
        problems.append(
            doc.problem(("items",), "'items' is empty", severity=Severity.WARNING, code="empty")
        )
    first = len(items)
    for index, raw in enumerate(raw_items):
        problems += _load_item(doc, index, raw, items, sources, confirmed)
    unconfirmed = [item.id for item in items[first:] if not item.is_confirmed]
    if unconfirmed:
        problems.append(
            Problem(
                doc.name,
                None,
                None,
                f"{len(unconfirmed)} item(s) not confirmed with their organiser, shown to "
                f"people as 'to be confirmed': {', '.join(unconfirmed)}",
                "when you have checked an item's dates, place and details with the organiser, "
                "add 'confirmed: {by: <your name>, on: <date>}' to it (or to the file)",
                Severity.INFO,
                "unconfirmed",
            )
        )
    return problems


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _file_model(
    doc: YamlDocument,
    where: str | tuple[str | int, ...],
    model: Any,
    problems: list[Problem],
    raw: Any = None,
) -> Any:
    """A file-level block (``confirmed``, one of ``breaks``) validated, or None."""
    loc: Loc = (where,) if isinstance(where, str) else where
    if raw is None:
        raw = doc.data.get(where) if isinstance(where, str) else None
        if raw is None:
            return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = (
            ["from", "until", "name", "series", "items"] if loc[0] == "breaks" else ["by", "on"]
        )
        problems.extend(
            problems_from_validation_error(doc, exc, base_loc=loc, known_fields={(): fields})
        )
        return None


def _with_breaks(item: Item, breaks: Sequence[CatalogueBreak]) -> Item:
    """``item`` with the catalogue's breaks that cover it added to its own."""
    extra = tuple(b.as_break() for b in breaks if b.applies_to(item))
    return item.model_copy(update={"breaks": item.breaks + extra}) if extra else item


def _closed_runs(catalogue: Catalogue) -> list[Problem]:
    """Course runs none of whose days are left once holidays and breaks are taken out."""
    problems: list[Problem] = []
    for item in catalogue:
        for run in item.schedule.range or ():
            if range_days(run) and not meeting_days(item, run):
                source = catalogue.sources.get(item.id, Source("?", None))
                problems.append(
                    Problem(
                        source.file,
                        source.line,
                        None,
                        f"every meeting day of the run of '{item.id}' from "
                        f"{run.start.isoformat()} is a public holiday or in a break",
                        "move the run, or shorten the break",
                        Severity.WARNING,
                        "schedule",
                    )
                )
    return problems


def _unknown_break_targets(
    breaks: Sequence[CatalogueBreak], items: Sequence[Item]
) -> list[Problem]:
    ids = {item.id for item in items}
    series = {item.series for item in items if item.series}
    problems: list[Problem] = []
    for pause in breaks:
        unknown = [f"series '{s}'" for s in pause.series if s not in series]
        unknown += [f"item '{i}'" for i in pause.items if i not in ids]
        if unknown:
            problems.append(
                Problem(
                    "content/catalogue",
                    None,
                    None,
                    f"the break from {pause.from_.isoformat()} names an unknown "
                    + ", ".join(unknown),
                    "check the spelling of the series and item ids",
                    Severity.WARNING,
                    "break",
                )
            )
    return problems


def _load_item(
    doc: YamlDocument,
    index: int,
    raw: Any,
    items: list[Item],
    sources: dict[str, Source],
    confirmed: Confirmation | None = None,
) -> list[Problem]:
    if not isinstance(raw, dict):
        return [doc.problem(("items", index), "an item must be a block of 'key: value' lines")]
    item_doc = _item_document(doc, index, raw)
    problems = _vocabulary_problems(item_doc)
    taken = {(p.line, p.column) for p in problems}
    item: Item | None = None
    try:
        item = Item.model_validate(item_doc.data)
    except ValidationError as exc:
        for problem in problems_from_validation_error(
            item_doc, exc, known_fields=_known_fields(item_doc.data)
        ):
            if (problem.line, problem.column) in taken:
                continue  # already reported with a "did you mean" hint
            if problem.message.startswith(_ITEM_LEVEL):
                # a rule about the whole item: there is no field name to show
                problem = replace(problem, message=problem.message[len(_ITEM_LEVEL) :])
            problems.append(problem)
    if item is None:
        # Still claim a readable id, so a duplicate of a broken item is reported too.
        raw_id = raw.get("id")
        if isinstance(raw_id, str) and raw_id not in sources:
            sources[raw_id] = Source(doc.name, item_doc.position(("id",))[0])
        return problems
    problems += _item_warnings(item_doc, item)
    line = item_doc.position(("id",))[0]
    if item.id in sources:
        problems.append(
            item_doc.problem(
                ("id",),
                f"the id '{item.id}' is also used at {sources[item.id]}",
                hint="every item needs its own id",
                code="duplicate-id",
            )
        )
        return problems
    if any(p.severity is Severity.ERROR for p in problems):
        return problems
    sources[item.id] = Source(doc.name, line)
    if item.confirmed is None and confirmed is not None:
        item = item.model_copy(update={"confirmed": confirmed})
    items.append(item)
    return problems


def _item_document(doc: YamlDocument, index: int, raw: dict[str, Any]) -> YamlDocument:
    """The item as a document of its own: its data (single values turned into lists, as the
    models accept them) and the positions of its keys, so errors find their lines."""
    prefix: Loc = ("items", index)
    marks = {loc[2:]: pos for loc, pos in doc.marks.items() if loc[:2] == prefix}
    data = _copy(raw)
    for path in _LISTS:
        _wrap_single(data, (), path, marks)
    for path, vocabulary, _ in _VOCABULARIES:
        _unnumber(data, path, vocabulary)
    return YamlDocument(path=doc.path, data=data, marks=marks, display_name=doc.name)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _wrap_single(
    node: Any, loc: Loc, path: tuple[str, ...], marks: dict[Loc, tuple[int, int]]
) -> None:
    """Turn ``node[path]`` into a one-element list if it is a single value, and give the new
    element (and everything under it) the position of the original."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for i, child in enumerate(node):
                _wrap_single(child, (*loc, i), rest, marks)
        return
    if not isinstance(node, dict) or head not in node:
        return
    here = (*loc, head)
    if rest:
        _wrap_single(node[head], here, rest, marks)
        return
    value = node[head]
    if isinstance(value, list) or value is None:
        return
    node[head] = [value]
    for mark_loc, pos in list(marks.items()):
        if mark_loc[: len(here)] == here:
            marks[(*here, 0, *mark_loc[len(here) :])] = pos


def _unnumber(node: Any, path: tuple[str, ...], vocabulary: Sequence[str]) -> None:
    """Give back vocabulary values YAML read as numbers (``30_49`` -> 3049 -> ``"30_49"``)."""
    head, rest = path[0], path[1:]
    children: list[tuple[Any, Any]]
    if head == "*":
        children = list(enumerate(node)) if isinstance(node, list) else []
    elif isinstance(node, dict) and head in node:
        children = [(head, node[head])]
    else:
        return
    for key, child in children:
        if rest:
            _unnumber(child, rest, vocabulary)
        else:
            node[key] = from_yaml_number(child, vocabulary)


def _values_at(node: Any, loc: Loc, path: tuple[str, ...]) -> list[tuple[Loc, Any]]:
    if not path:
        return [(loc, node)]
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            return [hit for i, c in enumerate(node) for hit in _values_at(c, (*loc, i), rest)]
        return []
    if isinstance(node, dict) and head in node:
        return _values_at(node[head], (*loc, head), rest)
    return []


def _vocabulary_problems(doc: YamlDocument) -> list[Problem]:
    problems: list[Problem] = []
    for path, vocabulary, noun in _VOCABULARIES:
        for loc, value in _values_at(doc.data, (), path):
            if not isinstance(value, str) or value in vocabulary:
                continue
            name = next(str(p) for p in reversed(loc) if isinstance(p, str))
            hint = suggest(value, vocabulary)
            if noun == "weekday" and value.casefold() in _WEEKDAY_ALIASES:
                hint = f"write '{_WEEKDAY_ALIASES[value.casefold()]}'"
            problems.append(
                doc.problem(
                    loc,
                    f"'{name}': unknown {noun} '{value}'",
                    hint=hint or f"known: {', '.join(vocabulary)}",
                    code="vocabulary",
                )
            )
    return problems


def _known_fields(data: dict[str, Any]) -> dict[Loc, list[str]]:
    """Field names per block, so a misspelt key gets 'did you mean …'."""
    known: dict[Loc, list[str]] = {(): list(ITEM_FIELDS[""])}
    for block in ("title", "summary", "description", "organiser", "contact", "place"):
        known[(block,)] = list(ITEM_FIELDS[block])
    known[("place", "name")] = ["fi", "sv", "en"]
    for block in ("audience", "schedule", "signup", "confirmed"):
        known[(block,)] = list(ITEM_FIELDS[block])
    breaks = data.get("breaks")
    if isinstance(breaks, list):
        for i in range(len(breaks)):
            known[("breaks", i)] = list(ITEM_FIELDS["breaks"])
    schedule = data.get("schedule")
    if isinstance(schedule, dict):
        for name in ("range", "weekly"):
            rules = schedule.get(name)
            if isinstance(rules, list):
                for i in range(len(rules)):
                    known[("schedule", name, i)] = list(ITEM_FIELDS[name])
    return known


def _item_warnings(doc: YamlDocument, item: Item) -> list[Problem]:
    """Checks on a valid item: missing translations, places, impossible schedules."""
    problems: list[Problem] = []
    for name in ("title", "summary", "description"):
        text = getattr(item, name)
        missing = text.missing() if text is not None else []
        if missing:
            languages = " and ".join(_LANGUAGE_NAMES[lang] for lang in missing)
            problems.append(
                doc.problem(
                    (name,),
                    f"'{name}' has no {languages} text; those readers see the Finnish one",
                    severity=Severity.WARNING,
                    code="translation",
                )
            )
    if item.municipalities and item.place is None:
        problems.append(
            doc.problem(
                ("municipalities",),
                "an item held in a municipality needs a 'place' (name and address)",
                severity=Severity.WARNING,
                code="place",
            )
        )
    if item.place is not None and not item.place.in_finland:
        problems.append(
            doc.problem(
                ("place", "lat"),
                "the coordinates are not in Finland",
                hint="are 'lat' and 'lon' the wrong way round? Lohja is lat 60.25, lon 24.07",
                severity=Severity.WARNING,
                code="place",
            )
        )
    if item.signup.url is not None and _is_home_page(item.signup.url):
        problems.append(
            doc.problem(
                ("signup", "url"),
                f"{item.signup.url} is a home page, not a page where people sign up",
                hint="link the sign-up page itself, or use the bot's own sign-up: "
                "'signup: {mode: bot}'",
                severity=Severity.WARNING,
                code="signup",
            )
        )
    if item.online and item.signup.url is None and (item.contact is None or not item.contact.url):
        problems.append(
            doc.problem(
                ("online",),
                "an online item needs a web address: 'signup: {mode: link, url: ...}' "
                "or 'contact: {url: ...}'",
                severity=Severity.WARNING,
                code="online",
            )
        )
    for i, run in enumerate(item.schedule.range or ()):
        if not range_days(run):
            problems.append(
                doc.problem(
                    ("schedule", "range", i, "days"),
                    "this course run has no meeting days between 'start' and 'end'",
                )
            )
    problems += _calendar_problems(doc, item)
    for i, rule in enumerate(item.schedule.weekly or ()):
        days = {WEEKDAYS.index(d) for d in rule.weekday}
        for k, skipped in enumerate(rule.except_):
            if skipped.weekday() not in days:
                problems.append(
                    doc.problem(
                        ("schedule", "weekly", i, "except", k),
                        f"{skipped.isoformat()} is a {WEEKDAYS[skipped.weekday()]}, "
                        "not a day this item meets",
                        severity=Severity.WARNING,
                        code="schedule",
                    )
                )
    return problems


def _is_home_page(url: str) -> bool:
    """``https://www.luksia.fi`` or ``…/``: a site's front page, with no path or query."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query and not parts.fragment


def _calendar_problems(doc: YamlDocument, item: Item) -> list[Problem]:
    """Local times the clock skips or shows twice (errors), one-off dates on a public holiday
    (warnings: they are not shown unless the item says ``on_holidays: true``)."""
    problems: list[Problem] = []
    schedule = item.schedule
    for i, start in enumerate(schedule.dates or ()):
        day, clock = start.date(), start.timetz().replace(tzinfo=None)
        if start.fold == 0 and (problem := local_time_problem(day, clock)) is not None:
            problems.append(_time_problem(doc, ("schedule", "dates", i), day, problem, clock))
        name = holiday_name(day)
        if name is not None and not item.on_holidays:
            problems.append(
                doc.problem(
                    ("schedule", "dates", i),
                    f"{day.isoformat()} is a public holiday ({name}), so this date is not shown",
                    hint="move it to another day, or write 'on_holidays: true' if it really "
                    "is held on the holiday",
                    severity=Severity.WARNING,
                    code="holiday",
                )
            )
    for i, run in enumerate(schedule.range or ()):
        if (bad := _first_bad_time(range_days(run), run.time)) is not None:
            problems.append(_time_problem(doc, ("schedule", "range", i, "time"), *bad, run.time))
    for i, rule in enumerate(schedule.weekly or ()):
        wanted = {WEEKDAYS.index(d) for d in rule.weekday}
        last = rule.until or rule.from_ + timedelta(days=_DST_LOOKAHEAD_DAYS)
        days = (rule.from_ + timedelta(days=n) for n in range((last - rule.from_).days + 1))
        meetings = (day for day in days if day.weekday() in wanted)
        if (bad := _first_bad_time(meetings, rule.time)) is not None:
            problems.append(_time_problem(doc, ("schedule", "weekly", i, "time"), *bad, rule.time))
    return problems


def _first_bad_time(days: Iterable[date], clock: time) -> tuple[date, TimeProblem] | None:
    """The first of ``days`` on which ``clock`` is skipped or shown twice, with which."""
    for day in days:
        if (problem := local_time_problem(day, clock)) is not None:
            return day, problem
    return None


def _time_problem(
    doc: YamlDocument, loc: Loc, day: date, problem: TimeProblem, clock: time
) -> Problem:
    return doc.problem(
        loc, describe_time_problem(problem, day, clock), hint="choose another time", code="time"
    )
