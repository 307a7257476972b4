"""The field → topic map editors own: ``content/field_topics.yaml``.

A person who is interested in a field of work is helped by items about some topics: someone
into restaurants needs a hygiene passport, someone into construction an occupational safety
card and a hot work card. The recommender scores an item for each interest whose topics it
has, and says so in its reasons ("you are interested in restaurants and tourism, and you get
the hygiene passport")::

    version: 1
    fields:
      hospitality_tourism: [hygiene_passport, first_aid]
      construction: [safety_card, hot_work]

Fields and topics are the catalogue's vocabularies (:mod:`.tags`); a misspelt one is an error
with a "did you mean" hint, a field left out is a note (its interest then counts only for
items that list the field in ``fields:``), and so is a topic no item has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from bot.content.source import ContentError, Problem, Severity, YamlDocument, load_yaml, suggest

from .tags import FIELDS, TOPICS

#: the file's name, next to the ``catalogue`` folder
FILE_NAME: Final = "field_topics.yaml"
FORMAT_VERSION: Final = 1

FieldTopics = Mapping[str, tuple[str, ...]]


def default_path(catalogue_dir: Path) -> Path:
    """Where the map of a catalogue folder lives: ``content/field_topics.yaml`` for
    ``content/catalogue``."""
    return catalogue_dir.parent / FILE_NAME


def load_field_topics(
    path: Path, display_name: str = "", *, item_topics: Iterable[str] | None = None
) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """The map and its problems; a missing file is an empty map (interests then count only
    for items that list the field). With ``item_topics`` (the topics the catalogue's items
    have), topics no item has are noted."""
    name = display_name or str(path)
    if not path.is_file():
        return {}, []
    try:
        doc = load_yaml(path, name)
    except ContentError as exc:
        return {}, list(exc.problems)
    return _read(doc, set(item_topics) if item_topics is not None else None)


def _read(
    doc: YamlDocument, item_topics: set[str] | None
) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    data = doc.data
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return {}, [doc.problem((), "the file must start with 'version: 1' and 'fields:'")]
    for key in data:
        if key not in ("version", "fields"):
            problems.append(
                doc.problem(
                    (str(key),), f"'{key}' is not a known field here", hint="known: version, fields"
                )
            )
    if data.get("version") != FORMAT_VERSION:
        problems.append(doc.problem(("version",), f"'version' must be {FORMAT_VERSION}"))
    fields = data.get("fields")
    if not isinstance(fields, dict):
        problems.append(
            doc.problem(("fields",), "'fields' must map each field of work to a list of topics")
        )
        return {}, problems
    found: dict[str, tuple[str, ...]] = {}
    for field, topics in fields.items():
        loc = ("fields", str(field))
        if field not in FIELDS:
            problems.append(
                doc.problem(
                    loc,
                    f"unknown field of work '{field}'",
                    hint=suggest(str(field), FIELDS) or "known: " + ", ".join(FIELDS),
                    code="vocabulary",
                )
            )
            continue
        values = [topics] if isinstance(topics, str) else topics if topics is not None else []
        if not isinstance(values, list):
            problems.append(doc.problem(loc, "write the topics as a list: [topic, topic]"))
            continue
        clean: list[str] = []
        for index, topic in enumerate(values):
            if topic not in TOPICS:
                problems.append(
                    doc.problem(
                        (*loc, index),
                        f"'{field}': unknown topic '{topic}'",
                        hint=suggest(str(topic), TOPICS) or "known: " + ", ".join(TOPICS),
                        code="vocabulary",
                    )
                )
            elif topic not in clean:
                clean.append(topic)
                if item_topics is not None and topic not in item_topics:
                    problems.append(
                        doc.problem(
                            (*loc, index),
                            f"no catalogue item has the topic '{topic}' yet",
                            severity=Severity.INFO,
                            code="field-topics",
                        )
                    )
        found[field] = tuple(clean)
    for field in FIELDS:
        if field not in found and field not in fields:
            problems.append(
                doc.problem(
                    ("fields",),
                    f"the field '{field}' has no topics: its interest counts only for items "
                    "that list it in 'fields:'",
                    severity=Severity.INFO,
                    code="field-topics",
                )
            )
    return found, problems
