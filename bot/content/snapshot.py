"""The content the bot serves (dialogs, texts, catalogue and each feature's section), loaded
and checked as one snapshot.

:func:`check_content` loads and checks everything and returns the :class:`Content` (or None when
anything has errors); the features' own files are checked by the :class:`ContentSection` list
the caller passes (``bot.features.content_sections()``). A snapshot is replaced only by another
complete, valid snapshot: a broken file never takes the live bot down; the last good content
keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from bot.catalogue import tags
from bot.catalogue.loader import check_catalogue
from bot.content.languages import LANGUAGES as LANGUAGES  # also imported from here
from bot.content.section import ContentSection
from bot.content.source import (
    ContentError,
    Loc,
    Problem,
    Severity,
    YamlDocument,
    load_yaml,
    suggest,
)
from bot.engine.actions import ActionRegistry
from bot.engine.lint import lint_dialogs
from bot.engine.loader import MAX_MESSAGE, DialogSet, load_dialogs
from bot.engine.runner import BUILTIN_ACTIONS
from bot.engine.schema import ActionStep, ChoiceStep, ConditionStep
from bot.engine.texts import TextCatalogue, load_texts_collecting
from bot.engine.variants import OVERRIDE_PREFIX, apply_text_overrides, lint_variants
from bot.engine.words import WordList, normalise

log = logging.getLogger(__name__)

T = TypeVar("T")
ENTRY_DIALOG = "onboarding"
HOME = ("onboarding", "menu")


@dataclass(frozen=True, slots=True)
class Content:
    dialogs: DialogSet
    texts: TextCatalogue
    warnings: list[Problem] = field(default_factory=list)
    catalogue: Any = None
    #: the files this snapshot was loaded from (see :func:`fingerprint`); live reload compares it
    fingerprint: str = ""
    #: each feature section's checked value (read it with :meth:`section`)
    sections: Mapping[ContentSection[Any], object] = field(default_factory=dict)

    def section(self, key: ContentSection[T]) -> T:
        """The checked value of a feature's section, e.g. ``content.section(HANDOFF)``."""
        try:
            return cast(T, self.sections[key])
        except KeyError:
            raise LookupError(
                f"this content was loaded without the {key.name!r} section; pass "
                "sections=bot.features.content_sections() to check_content or load_content"
            ) from None

    @property
    def languages(self) -> list[str]:
        """The languages a person can choose: the base ones, then the others the text files
        add (a new language, or a variant such as fi-selko)."""
        base = [lang for lang in LANGUAGES if lang in self.texts.texts] or list(LANGUAGES)
        return base + [lang for lang in self.texts.languages if lang not in base]

    def keywords(self, name: str) -> frozenset[str]:
        """Trigger words such as ``keywords.help`` from every language, compared the forgiving
        way (:func:`~bot.engine.words.normalise`)."""
        words: set[str] = set()
        for table in self.texts.texts.values():
            raw = table.get(f"keywords.{name}", "")
            words.update(normalise(w) for w in raw.split(",") if normalise(w))
        return frozenset(words)

    def is_keyword(self, name: str, typed: str) -> bool:
        """Whether ``typed`` is one of the trigger words ``keywords.<name>`` on its own, as a
        person types it ("Apua!", " ihminen ")."""
        return normalise(typed) in self.keywords(name)

    def word_list(self, name: str) -> WordList:
        """Words and stems (``stem*``) such as ``keywords.coach_in_text`` from every language,
        to look for inside a sentence (see :class:`~bot.engine.words.WordList`)."""
        found = WordList()
        for table in self.texts.texts.values():
            found |= WordList.parse(table.get(f"keywords.{name}", ""))
        return found


def fingerprint(directories: Collection[Path]) -> str:
    """A hash of the names and bytes of every YAML file under ``directories``."""
    digest = hashlib.sha256()
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*.yaml")):
            digest.update(str(path.relative_to(directory)).encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
            digest.update(b"\0")
    return digest.hexdigest()


def check_content(
    dialogs_dir: Path,
    content_dir: Path,
    *,
    default_language: str,
    actions: Collection[str],
    sections: Iterable[ContentSection[Any]] = (),
) -> tuple[Content | None, list[Problem]]:
    """Load everything and return (content, problems); content is None if there are errors.

    ``sections`` are the features' own content files (``bot.features.content_sections()``).
    """
    # taken first: a file saved while we read is seen as a change by the next look
    files = fingerprint([dialogs_dir, content_dir])
    texts, problems = load_texts_collecting(content_dir / "texts", default_language)
    dialogs, dialog_problems = load_dialogs(dialogs_dir)
    problems += dialog_problems
    problems += apply_text_overrides(dialogs, texts)
    problems += lint_dialogs(
        dialogs,
        texts,
        actions=set(actions) | BUILTIN_ACTIONS,
        languages=LANGUAGES,
        entry=(ENTRY_DIALOG, None),
        home=HOME,
        quiet=actions.quiet if isinstance(actions, ActionRegistry) else (),
    )
    problems += lint_variants(dialogs, texts)
    problems += lint_text_translations(texts, LANGUAGES)
    problems += lint_vocabulary(dialogs)
    catalogue = None
    catalogue_dir = content_dir / "catalogue"
    if catalogue_dir.is_dir():
        catalogue, catalogue_problems = check_catalogue(catalogue_dir, texts)
        problems += catalogue_problems
        if catalogue is not None:
            problems += lint_item_references(dialogs, catalogue)
    values: dict[ContentSection[Any], object] = {}
    for section in sections:
        value, section_problems = section.check(content_dir, texts)
        problems += section_problems
        values[section] = value
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        return None, problems
    content = Content(
        dialogs=dialogs,
        texts=texts,
        warnings=problems,
        catalogue=catalogue,
        fingerprint=files,
        sections=values,
    )
    return content, problems


def load_content(
    dialogs_dir: Path,
    content_dir: Path,
    *,
    default_language: str,
    actions: Collection[str],
    sections: Iterable[ContentSection[Any]] = (),
) -> Content:
    """:func:`check_content`, raising :class:`ContentError` with the errors if there are any."""
    content, problems = check_content(
        dialogs_dir,
        content_dir,
        default_language=default_language,
        actions=actions,
        sections=sections,
    )
    if content is None:
        raise ContentError([p for p in problems if p.severity is Severity.ERROR])
    return content


def lint_text_translations(texts: TextCatalogue, languages: Collection[str]) -> list[Problem]:
    """Texts in ``content/texts`` missing in one of ``languages`` (a warning: the default
    language is shown), and texts longer than one Telegram message (an error)."""
    problems: list[Problem] = []
    keys: dict[str, str] = {}
    for lang in languages:
        for key in texts.texts.get(lang, {}):
            keys.setdefault(key, lang)
    for key, first in keys.items():
        # overrides of dialog texts are checked with the dialogs; catalogue texts by the catalogue
        if key.startswith((OVERRIDE_PREFIX + ".", "catalogue.")):
            continue
        missing = [lang for lang in languages if not texts.has(key, lang)]
        if missing:
            file, line = texts.origins[(first, key)]
            problems.append(
                Problem(
                    file,
                    line,
                    None,
                    f"the text '{key}' has no {', '.join(missing)} translation",
                    f"add it to the {'/'.join(missing)} text file; until then "
                    f"{texts.default_language} is shown",
                    Severity.WARNING,
                    "translation",
                )
            )
    for lang, table in texts.texts.items():
        for key, text in table.items():
            if len(text) > MAX_MESSAGE:
                file, line = texts.origins[(lang, key)]
                problems.append(
                    Problem(
                        file,
                        line,
                        None,
                        f"the {lang} text '{key}' is {len(text)} characters; "
                        f"Telegram allows {MAX_MESSAGE}",
                        "split it into two texts",
                        Severity.ERROR,
                        "length",
                    )
                )
    return problems


def _answer_vocabularies() -> dict[str, tuple[str, ...]]:
    """Answer keys the recommender reads, with the catalogue tags each may hold ('other' is
    always allowed: "none of these")."""
    vocabularies: dict[str, tuple[str, ...]] = {
        "situation": tags.SITUATIONS,
        "unemployment_duration": tags.UNEMPLOYMENT_DURATIONS,
        "age_group": tags.AGE_GROUPS,
        "municipality": tags.MUNICIPALITIES,
        "interests": tags.FIELDS,
        "help_wanted": tags.HELP_WANTED,
        "preferred_form": tags.FORMS,
        "languages_read": tags.LANGUAGES,
    }
    return {key: (*values, "other") for key, values in vocabularies.items()}


#: action arguments that name catalogue vocabulary
_ARG_VOCABULARIES = {
    "kind": "KINDS",
    "kinds": "KINDS",
    "topic": "TOPICS",
    "topics": "TOPICS",
    "municipality": "MUNICIPALITIES",
}


def lint_vocabulary(dialogs: DialogSet) -> list[Problem]:
    """Dialog values that must be catalogue tags: answers the recommender reads (option values
    and conditions on them) and catalogue kinds, topics or municipalities in action arguments.
    An unknown answer value is a warning (the recommender ignores it); an unknown kind named in
    an action is an error."""
    vocab = _answer_vocabularies()
    problems: list[Problem] = []
    for dialog_id, dialog in dialogs.dialogs.items():
        doc = dialogs.sources[dialog_id]
        for si, step in enumerate(dialog.steps):
            if isinstance(step, ChoiceStep) and step.save_as in vocab:
                known = vocab[step.save_as]
                for oi, option in enumerate(step.options):
                    if option.stored_value not in known:
                        loc: Loc = ("steps", si, "options", oi, "value" if option.value else "id")
                        problems.append(_unknown_tag(doc, loc, option.stored_value, step.save_as))
            if isinstance(step, ConditionStep):
                for bi, branch in enumerate(step.branches):
                    for ci, cond in enumerate(branch.when):
                        if cond.key not in vocab:
                            continue
                        values = [
                            cond.equals,
                            cond.contains,
                            *(cond.in_ or []),
                            *(cond.contains_any or []),
                        ]
                        for value in values:
                            if value is not None and str(value) not in vocab[cond.key]:
                                where: Loc = ("steps", si, "branches", bi, "when", ci)
                                problems.append(_unknown_tag(doc, where, str(value), cond.key))
            if isinstance(step, ActionStep):
                for name, value in step.args.items():
                    if name not in _ARG_VOCABULARIES:
                        continue
                    known = getattr(tags, _ARG_VOCABULARIES[name])
                    for item in value if isinstance(value, list) else [value]:
                        if str(item) not in known:
                            problems.append(
                                doc.problem(
                                    ("steps", si, "args", name),
                                    f"unknown catalogue {name.rstrip('s')} '{item}'",
                                    hint=suggest(str(item), known) or "known: " + ", ".join(known),
                                    code="reference",
                                )
                            )
    return problems


def lint_item_references(dialogs: DialogSet, catalogue: Any) -> list[Problem]:
    """Action arguments ``items`` and ``series`` must name catalogue items and series (e.g.
    ``suggested``, which shows a next step only when that item is suggested): a name the
    catalogue lacks is a warning, since the step it guards is then never shown."""
    ids = {item.id for item in catalogue}
    series = {item.series for item in catalogue if item.series}
    problems: list[Problem] = []
    for dialog_id, dialog in dialogs.dialogs.items():
        doc = dialogs.sources[dialog_id]
        for si, step in enumerate(dialog.steps):
            if not isinstance(step, ActionStep):
                continue
            for name, known in (("items", ids), ("series", series)):
                value = step.args.get(name)
                for entry in value if isinstance(value, list) else [value] if value else []:
                    if str(entry) not in known:
                        problems.append(
                            doc.problem(
                                ("steps", si, "args", name),
                                f"no catalogue {'item' if name == 'items' else 'series'} "
                                f"'{entry}': this step's 'yes' is never taken",
                                hint=suggest(str(entry), sorted(known)),
                                severity=Severity.WARNING,
                                code="reference",
                            )
                        )
    return problems


def _unknown_tag(doc: YamlDocument, loc: Loc, value: str, key: str) -> Problem:
    known = _answer_vocabularies()[key]
    return doc.problem(
        loc,
        f"'{value}' is not a catalogue tag for '{key}', so recommendations ignore it",
        hint=suggest(value, known) or "known: " + ", ".join(known),
        severity=Severity.WARNING,
        code="vocabulary",
    )


def check_files(
    files: Collection[Path],
    dialogs_dir: Path,
    content_dir: Path,
    *,
    default_language: str,
    actions: Collection[str],
    sections: Iterable[ContentSection[Any]] = (),
) -> list[Problem]:
    """``urapolku check FILE…``: the problems of the named files only.

    Cross-references need everything, so the whole content is checked. A file inside
    ``dialogs_dir`` or ``content_dir`` is checked where it is; a file elsewhere (a draft) is
    checked as if it replaced the file of the same name: a copy of both folders is made with the
    draft in place (a dialog, a text file or a catalogue file, told apart by its top-level
    keys), and the problems found in the copy are reported under the draft's own name.
    """
    sections = tuple(sections)
    problems: list[Problem] = []
    roots = [dialogs_dir.resolve(), content_dir.resolve()]
    inside: dict[Path, str] = {}
    drafts: dict[Path, Path] = {}
    for file in files:
        resolved = file.resolve()
        if not resolved.is_file():
            problems.append(Problem(str(file), None, None, "no such file", code="io"))
        elif any(resolved.is_relative_to(root) for root in roots):
            inside[resolved] = str(file)
        else:
            drafts[resolved] = file
    if not inside and not drafts:
        return problems
    with tempfile.TemporaryDirectory(prefix="urapolku-check-") as tmp:
        shown: dict[Path, str] = dict(inside)
        if drafts:
            tmp_dialogs, tmp_content = Path(tmp) / "dialogs", Path(tmp) / "content"
            if dialogs_dir.is_dir():
                shutil.copytree(dialogs_dir, tmp_dialogs)
            tmp_dialogs.mkdir(exist_ok=True)
            if content_dir.is_dir():
                shutil.copytree(content_dir, tmp_content)
            tmp_content.mkdir(exist_ok=True)
            for resolved, original in drafts.items():
                try:
                    data = load_yaml(resolved, str(original)).data
                except ContentError as exc:
                    problems += exc.problems
                    continue
                keys = set(data) if isinstance(data, dict) else set()
                if "steps" in keys:
                    target = tmp_dialogs / original.name
                elif "texts" in keys:
                    target = tmp_content / "texts" / original.name
                elif "items" in keys:
                    target = tmp_content / "catalogue" / original.name
                else:
                    problems.append(
                        Problem(
                            str(original),
                            1,
                            1,
                            "cannot tell what this file is",
                            "a dialog has 'steps:', a text file 'texts:', a catalogue file 'items:'",
                        )
                    )
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(resolved, target)
                shown[target.resolve()] = str(original)
            dialogs_dir, content_dir = tmp_dialogs, tmp_content
        _, found = check_content(
            dialogs_dir,
            content_dir,
            default_language=default_language,
            actions=actions,
            sections=sections,
        )
        for problem in found:
            name = shown.get(Path(problem.file).resolve())
            if name is not None:
                problems.append(replace(problem, file=name))
    return problems
