"""The text catalogue: every sentence a person can see, per language, by dotted key.

Files ``content/texts/*.yaml`` look like::

    version: 1
    language: fi
    texts:
      menu:
        help: "Kirjoita /menu, niin pääset alkuun."

Several files may carry the same language; they are merged and a key defined twice is an
error. A text missing in one language falls back to the default language, so a person always
gets *something*; ``urapolku check`` reports every such fallback so editors can fill it in.

A *language variant* (plain Finnish, ``fi-selko``) is a text file with ``fallback:``::

    version: 1
    language: fi-selko
    fallback: fi
    name: Selkosuomi
    texts:
      bot:
        help: "Kirjoita /menu. Näet valikon."
      dialog:                      # texts written inline in dialogs/*.yaml, by place
        onboarding:
          intro:
            text: "Hei! Olen Urapolku. Olen botti."

Every text it lacks is taken from its fallback language. ``dialog.<dialog>.<step>.<field>``
(``text``, ``label``, ``reask``; ``options.<option id>`` for a button; ``dialog.<dialog>.title``)
overrides a text written inline in a dialog file, so a new language never needs the dialog
files to be edited (see :func:`bot.engine.variants.apply_text_overrides`).

A text that holds a number has *plural forms*, one per plural category of the language
(CLDR's rules, through Babel: Finnish, Swedish and English have ``one`` and ``other``)::

    failed:
      one: "Uudessa sisällössä on {count} virhe."
      other: "Uudessa sisällössä on {count} virhettä."

The form is chosen by the parameter ``count`` (or, when the text has no ``{count}``, by its
first whole-number parameter); ``other`` is required and is used when a category is missing.
A block is taken for plural forms when all its keys are plural categories and one is ``other``.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.plural import PluralRule

from bot.content.source import ContentError, Problem, YamlDocument, load_yaml

from .schema import TextRef

LANGUAGE_CODE = r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$"
#: CLDR's plural categories; a text block whose keys are all of these (with ``other``) is one
#: text in plural forms
PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})
#: the parameter that chooses a plural form
PLURAL_PARAM = "count"
#: a person's language is stored in 8 characters
MAX_LANGUAGE_CODE = 8


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_FORMATTER = string.Formatter()


def is_plural_block(node: object) -> bool:
    """Whether a block of a text file is one text in plural forms (see the module's doc)."""
    return (
        isinstance(node, dict)
        and "other" in node
        and all(isinstance(k, str) and k in PLURAL_CATEGORIES for k in node)
        and all(isinstance(v, str) for v in node.values())
    )


#: The CLDR plural rules of the bundled languages, exactly as Babel gives them (a test holds
#: them to it). Babel's own data is read only for another language: it reads a language's
#: whole CLDR data (dates, currencies, names of countries...) to give its rule, and keeps it,
#: about 2 MB a language the bot would never read.
BUNDLED_PLURAL_RULES: dict[str, dict[str, str]] = {
    "fi": {"one": "i in 1 and v in 0"},
    "sv": {"one": "i in 1 and v in 0"},
    "en": {"one": "i in 1 and v in 0"},
}


@functools.lru_cache(maxsize=64)
def _plural_rule(language: str) -> PluralRule:
    """The CLDR plural rule for ``language`` (a variant such as fi-selko uses its base's;
    an unknown language, English's)."""
    base = language.split("-")[0]
    rules: Mapping[str, str] | None = BUNDLED_PLURAL_RULES.get(base)
    if rules is None:
        from babel import Locale, UnknownLocaleError

        try:
            rules = Locale.parse(base).plural_form.rules
        except (UnknownLocaleError, ValueError):
            rules = BUNDLED_PLURAL_RULES["en"]
    return PluralRule(rules)


def plural_category(language: str, number: float) -> str:
    """The CLDR plural category of ``number`` in ``language`` ("one", "other", …)."""
    return str(_plural_rule(language)(abs(number)))


def _count_of(template: str, params: Mapping[str, Any]) -> int | float | None:
    """The number that chooses a plural form: ``count``, else the text's first number."""
    value = params.get(PLURAL_PARAM)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        names = [name for _, name, _, _ in _FORMATTER.parse(template) if name]
    except ValueError:
        return None
    for name in names:
        value = params.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    return None


def fill(template: str, params: Mapping[str, Any]) -> str:
    """``str.format_map`` that leaves unknown ``{placeholders}`` as they are instead of failing."""
    if "{" not in template:
        return template
    try:
        return _FORMATTER.vformat(template, (), _SafeDict(params))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


@dataclass(slots=True)
class TextCatalogue:
    """Texts by language and key, with a fallback language."""

    default_language: str
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    #: where each (language, key) was defined, for error messages
    origins: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)
    #: language -> the language it falls back to (declared with ``fallback:``)
    fallbacks: dict[str, str] = field(default_factory=dict)
    #: language -> its own name, from ``name:`` (e.g. "Selkosuomi")
    names: dict[str, str] = field(default_factory=dict)
    #: language -> key -> plural category -> text, for texts written in plural forms (their
    #: ``other`` form is also in :attr:`texts`, so every check sees them as ordinary texts)
    plurals: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.texts)

    @property
    def variants(self) -> list[str]:
        """Languages that are variants of another one (they declare a ``fallback``)."""
        return sorted(lang for lang in self.fallbacks if lang in self.texts)

    def has(self, key: str, language: str | None = None) -> bool:
        if language is None:
            return any(key in table for table in self.texts.values())
        return key in self.texts.get(language, {})

    def chain(self, language: str) -> list[str]:
        """The languages tried for ``language``: itself, its declared fallback, the default."""
        chain = [language]
        while chain[-1] in self.fallbacks and self.fallbacks[chain[-1]] not in chain:
            chain.append(self.fallbacks[chain[-1]])
        if self.default_language not in chain:
            chain.append(self.default_language)
        return chain

    def lookup(self, key: str, language: str) -> str | None:
        for lang in self.chain(language):
            text = self.texts.get(lang, {}).get(key)
            if text is not None:
                return text
        return None

    def lookup_plural(
        self, key: str, language: str, params: Mapping[str, Any]
    ) -> tuple[str | None, str]:
        """The text for ``key`` in the form its number asks for, and the language it is in."""
        for lang in self.chain(language):
            text = self.texts.get(lang, {}).get(key)
            if text is None:
                continue
            forms = self.plurals.get(lang, {}).get(key)
            if forms:
                number = _count_of(text, params)
                if number is not None:
                    text = forms.get(plural_category(lang, number), text)
            return text, lang
        return None, language

    def get(self, key: str, language: str, **params: Any) -> str:
        """The text for ``key``; the key itself if it exists nowhere (a bug ``check`` reports)."""
        text, _ = self.lookup_plural(key, language, params)
        return fill(text if text is not None else key, params)

    def resolve(self, ref: TextRef, language: str, params: Mapping[str, Any] | None = None) -> str:
        """Render an inline ``{lang: text}`` mapping or a catalogue key."""
        if isinstance(ref, str):
            text, _ = self.lookup_plural(ref, language, params or {})
            text = text if text is not None else ref
        else:
            text = next((ref[lang] for lang in self.chain(language) if lang in ref), None)
            if text is None:
                text = next(iter(ref.values()), "")
        return fill(text, params or {})


def _flatten(
    doc: YamlDocument, node: Any, prefix: str, loc: tuple[str | int, ...], out: dict[str, Any]
) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(node, dict):
        return [doc.problem(loc, "'texts' must be a block of 'key: text' lines")]
    for key, value in node.items():
        child_loc = (*loc, str(key))
        name = f"{prefix}.{key}" if prefix else str(key)
        if is_plural_block(value):
            out[name] = (dict(value), child_loc)
        elif isinstance(value, dict):
            problems += _flatten(doc, value, name, child_loc, out)
        elif isinstance(value, str):
            out[name] = (value, child_loc)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = (str(value), child_loc)
        else:
            problems.append(
                doc.problem(child_loc, f"the text '{name}' must be text", hint="put it in quotes")
            )
    return problems


def load_texts(directory: Path, default_language: str) -> TextCatalogue:
    """Load every ``*.yaml`` in ``directory``; raise :class:`ContentError` listing all problems."""
    catalogue, problems = load_texts_collecting(directory, default_language)
    if problems:
        raise ContentError(problems)
    return catalogue


def load_texts_collecting(
    directory: Path, default_language: str
) -> tuple[TextCatalogue, list[Problem]]:
    catalogue = TextCatalogue(default_language=default_language)
    problems: list[Problem] = []
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        problems.append(Problem(str(directory), None, None, "no text files (*.yaml) found"))
    for path in files:
        try:
            doc = load_yaml(path)
        except ContentError as exc:
            problems += exc.problems
            continue
        problems += _load_text_file(doc, catalogue)
    if default_language not in catalogue.texts and files:
        problems.append(
            Problem(
                str(directory),
                None,
                None,
                f"no texts for the default language '{default_language}'",
            )
        )
    return catalogue, problems


def _load_text_file(doc: YamlDocument, catalogue: TextCatalogue) -> list[Problem]:
    import re

    data = doc.data
    if not isinstance(data, dict):
        return [doc.problem((), "a text file must start with 'version:', 'language:' and 'texts:'")]
    problems: list[Problem] = []
    unknown = set(data) - {"version", "language", "texts", "fallback", "name"}
    for key in sorted(map(str, unknown)):
        problems.append(
            doc.problem(
                (key,),
                f"'{key}' is not a known field here",
                hint="known: version, language, texts, fallback, name",
            )
        )
    if data.get("version") != 1:
        problems.append(doc.problem(("version",), "'version' must be 1"))
    language = data.get("language")
    if not isinstance(language, str) or not re.match(LANGUAGE_CODE, language):
        problems.append(
            doc.problem(("language",), "'language' must be a language code such as fi, sv or en")
        )
        return problems
    if len(language) > MAX_LANGUAGE_CODE:
        problems.append(
            doc.problem(
                ("language",),
                f"the language code '{language}' is longer than {MAX_LANGUAGE_CODE} characters",
                hint="use a shorter one, such as fi-selko",
            )
        )
        return problems
    fallback = data.get("fallback")
    if fallback is not None:
        if not isinstance(fallback, str) or not re.match(LANGUAGE_CODE, fallback):
            problems.append(doc.problem(("fallback",), "'fallback' must be a language code"))
        else:
            catalogue.fallbacks[language] = fallback
    name = data.get("name")
    if isinstance(name, str) and name.strip():
        catalogue.names[language] = name.strip()
    flat: dict[str, Any] = {}
    problems += _flatten(doc, data.get("texts", {}), "", ("texts",), flat)
    table = catalogue.texts.setdefault(language, {})
    for key, (value, loc) in flat.items():
        line, _ = doc.position(loc)
        if key in table:
            first_file, first_line = catalogue.origins[(language, key)]
            problems.append(
                doc.problem(
                    loc,
                    f"the text '{key}' ({language}) is defined twice",
                    hint=f"first at {first_file}:{first_line}",
                )
            )
            continue
        if isinstance(value, dict):
            catalogue.plurals.setdefault(language, {})[key] = value
            table[key] = value["other"]
        else:
            table[key] = value
        catalogue.origins[(language, key)] = (doc.name, line)
    return problems
