"""Review by reading, as a test: no text in the bundled content holds a text listed in
``tests/content/banned_texts.yaml`` (out-of-date names, words Finland's Swedish-speaking
employment services do not use, abbreviations and article numbers in plain Finnish, typed
commands where a button exists) — except at the places listed there as still to be fixed."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

BANNED_FILE = Path(__file__).with_name("banned_texts.yaml")
LANGUAGES = frozenset({"fi", "sv", "en", "fi-selko"})
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Text:
    """One text a person can read: its file, its place in the file, its language."""

    file: str
    place: str
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}: {self.place}"


@dataclass(frozen=True, slots=True)
class Banned:
    text: str
    word: bool
    languages: frozenset[str]
    keys: tuple[str, ...]
    known: frozenset[str]
    why: str

    def matches(self, found: Text) -> bool:
        if found.language not in self.languages:
            return False
        if self.keys and not found.place.startswith(self.keys):
            return False
        needle = re.escape(self.text)
        pattern = rf"(?<!\w){needle}(?!\w)" if self.word else needle
        return re.search(pattern, found.text, re.IGNORECASE) is not None


def load_banned() -> list[Banned]:
    data = yaml.safe_load(BANNED_FILE.read_text(encoding="utf-8"))
    assert data["version"] == 1
    entries = []
    for entry in data["banned"]:
        languages = frozenset(entry.get("languages", LANGUAGES))
        assert languages <= LANGUAGES, entry
        entries.append(
            Banned(
                text=str(entry["text"]),
                word=bool(entry.get("word", False)),
                languages=languages,
                keys=tuple(entry.get("keys", ())),
                known=frozenset(entry.get("known", ())),
                why=str(entry["why"]),
            )
        )
    return entries


def _walk(node: Any, place: list[str]) -> Iterator[tuple[str, str, str]]:
    """(place, language, text) of every ``{language: text}`` mapping under ``node``."""
    if isinstance(node, dict):
        if (
            node
            and set(map(str, node)) <= LANGUAGES
            and all(isinstance(v, str) for v in node.values())
        ):
            for language, text in node.items():
                yield ".".join([*place, str(language)]), str(language), text
            return
        for key, value in node.items():
            yield from _walk(value, [*place, str(key)])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            name = value.get("id") if isinstance(value, dict) else None
            yield from _walk(value, [*place, str(name if name is not None else index)])


def _flatten(node: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, str):
        yield prefix, node


@functools.cache
def content_texts(root: Path = ROOT) -> tuple[Text, ...]:
    """Every text of the content people read, wherever it is written."""
    found: list[Text] = []
    for path in sorted((root / "content").rglob("*.yaml")) + sorted(
        (root / "dialogs").glob("*.yaml")
    ):
        file = str(path.relative_to(root))
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)
        if not isinstance(data, dict):
            continue
        if "texts" in data and isinstance(data.get("language"), str):  # a text file
            language = data["language"]
            found += [Text(file, key, language, text) for key, text in _flatten(data["texts"], "")]
            continue
        if file.startswith("dialogs/"):  # places as the text keys that override them
            steps = {str(s.get("id")): s for s in data.get("steps", []) if isinstance(s, dict)}
            node: Any = {"title": data.get("title"), **steps}
            start = ["dialog", str(data.get("id"))]
        else:
            node, start = data, []
        found += [Text(file, place, lang, text) for place, lang, text in _walk(node, start)]
    return tuple(found)


BANNED = load_banned()


def test_the_content_is_read_from_every_kind_of_file() -> None:
    texts = content_texts()
    files = {t.file.split("/")[1] if t.file.startswith("content/") else "dialogs" for t in texts}
    assert {"texts", "catalogue", "privacy.yaml", "saved_replies.yaml", "dialogs"} <= files
    places = {(t.where, t.language) for t in texts}
    assert ("content/texts/selko.yaml: dialog.handoff.contact_method.options.chat", "fi-selko") in (
        places
    )
    assert ("dialogs/onboarding.yaml: dialog.onboarding.consent.text.sv", "sv") in places
    assert ("content/privacy.yaml: legal_basis.fi-selko", "fi-selko") in places


@pytest.mark.parametrize("banned", BANNED, ids=[b.text for b in BANNED])
def test_no_banned_text_in_the_content(banned: Banned) -> None:
    found = {t.where for t in content_texts() if banned.matches(t)}
    new = sorted(found - banned.known)
    assert new == [], f"'{banned.text}' ({banned.why}) at:\n" + "\n".join(new)


def banned(
    text: str, languages: set[str], *, word: bool = False, keys: tuple[str, ...] = ()
) -> Banned:
    return Banned(text, word, frozenset(languages), keys, frozenset(), "")


@pytest.mark.parametrize(
    ("rule", "language", "text", "hit"),
    [
        (banned("träning", {"sv"}), "sv", "Gruppträning", True),
        (banned("träning", {"sv"}), "fi", "Gruppträning", False),  # another language
        (banned("klo", {"fi-selko"}, word=True), "fi-selko", "ma klo 10", True),
        (banned("klo", {"fi-selko"}, word=True), "fi-selko", "kello 10, kloori", False),
        (banned("/delete", LANGUAGES, keys=("privacy.consent",)), "en", "write /delete", True),
    ],
)
def test_a_banned_text_is_found_where_it_is_banned(
    rule: Banned, language: str, text: str, hit: bool
) -> None:
    assert rule.matches(Text("f", "privacy.consent.more", language, text)) is hit
    if rule.keys:  # not in another place
        assert not rule.matches(Text("f", "events.card.seated", language, text))
