"""Texts that replace a dialog's own (``dialog.<dialog>.<step>.<field>`` keys in the text files),
and checks of language variants such as plain Finnish against the dialogs."""

from __future__ import annotations

import re

from bot.content.source import (
    Problem,
    Severity,
    suggest,
)

from .loader import DialogSet
from .schema import (
    ChoiceStep,
    Dialog,
    TextRef,
    step_texts,
)
from .texts import TextCatalogue

#: text keys under this prefix override texts written inline in the dialog files
OVERRIDE_PREFIX = "dialog"
_STEP_TEXT_FIELDS = ("text", "label", "reask")

#: The one rule of which texts a language variant (plain Finnish) must have: by namespace (the
#: start of a text key, up to a dot). Texts under these namespaces are not read by the
#: variant's readers: the coaches' and admins' texts (shown in the bot's default language), the
#: funders' reports, and the command menu and typed keywords (Telegram shows the command menu in
#: the app's own language, which is never a variant). Every other text — and every text of a
#: dialog — is person-facing: a variant that lacks one is an error.
NOT_PERSON_FACING = frozenset(
    {"attendance", "coach", "commands", "events.coach", "keywords", "reload", "reports"}
)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def person_facing(key: str) -> bool:
    """Whether readers of a language variant see the text ``key``."""
    parts = key.split(".")
    return not any(".".join(parts[:n]) in NOT_PERSON_FACING for n in range(1, len(parts)))


def has_words(text: str) -> bool:
    """Whether ``text`` has anything to put in other words: a letter outside its
    ``{placeholders}`` (``"✔ {answer}"`` or ``"{day}.{month}."`` read the same in a variant)."""
    return any(ch.isalpha() for ch in _PLACEHOLDER.sub("", text))


def needs_variant(key: str, text: str) -> bool:
    """Whether a language variant must give its own wording of the base text ``key``."""
    return person_facing(key) and has_words(text)


def apply_text_overrides(dialogs: DialogSet, texts: TextCatalogue) -> list[Problem]:
    """Put ``dialog.<dialog>.<step>.<field>`` texts into the dialogs' inline texts.

    A language (usually a variant such as ``fi-selko``) can so give its own wording for a text
    that is written inline in ``dialogs/*.yaml`` without anyone editing the dialog file. The
    inline ``{language: text}`` mappings of ``dialogs`` gain the language; the engine then finds
    it through :meth:`TextCatalogue.resolve` like any other. ``dialogs`` must be a freshly
    loaded set (it is changed in place). Returns warnings for overrides that point nowhere.
    """
    problems: list[Problem] = []
    for language, table in texts.texts.items():
        for key, text in table.items():
            parts = key.split(".")
            if parts[0] != OVERRIDE_PREFIX:
                continue
            file, line = texts.origins.get((language, key), (language, None))
            target, message, hint = _override_target(dialogs, parts[1:])
            if target is None:
                problems.append(
                    Problem(
                        file,
                        line,
                        None,
                        f"'{key}': {message}",
                        hint,
                        Severity.WARNING,
                        "override",
                    )
                )
                continue
            if isinstance(target, str):
                problems.append(
                    Problem(
                        file,
                        line,
                        None,
                        f"'{key}': the dialog uses the text key '{target}' here",
                        f"give the {language} text under '{target}' instead",
                        Severity.WARNING,
                        "override",
                    )
                )
                continue
            target[language] = text
    return problems


def _override_target(
    dialogs: DialogSet, parts: list[str]
) -> tuple[dict[str, str] | str | None, str, str | None]:
    """(the inline text or text key at ``parts``, or None with a message and a hint)."""
    if not parts:
        return None, "name a dialog, a step and a field", None
    dialog = dialogs.get(parts[0])
    if dialog is None:
        return None, f"unknown dialog '{parts[0]}'", suggest(parts[0], dialogs.dialogs)
    if parts[1:] == ["title"]:
        if dialog.title is None:
            return None, f"the dialog '{dialog.id}' has no title", None
        return dialog.title, "", None
    if len(parts) < 3:
        return None, "name a step and a field (text, label, reask or options.<id>)", None
    step = dialog.step(parts[1])
    if step is None:
        return (
            None,
            f"unknown step '{parts[1]}' in '{dialog.id}'",
            suggest(parts[1], [s.id for s in dialog.steps]),
        )
    rest = parts[2:]
    if rest[0] == "options" and len(rest) == 2 and isinstance(step, ChoiceStep):
        option = next((o for o in step.options if o.id == rest[1]), None)
        if option is None:
            return (
                None,
                f"the step '{step.id}' has no option '{rest[1]}'",
                suggest(rest[1], [o.id for o in step.options]),
            )
        return option.label, "", None
    ref = getattr(step, rest[0], None) if len(rest) == 1 else None
    if rest[0] not in _STEP_TEXT_FIELDS or ref is None or not isinstance(ref, str | dict):
        fields = [f for f in _STEP_TEXT_FIELDS if getattr(step, f, None) is not None]
        if isinstance(step, ChoiceStep):
            fields.append("options.<option id>")
        return (
            None,
            f"the step '{step.id}' has no text '{'.'.join(rest)}'",
            "it has: " + ", ".join(fields) if fields else "it shows no text",
        )
    return ref, "", None


def lint_variants(dialogs: DialogSet, texts: TextCatalogue) -> list[Problem]:
    """The texts each language variant would take from its fallback.

    A person-facing text the variant lacks (:func:`needs_variant`; every dialog text) is an
    error, listed with its place (a dialog with none of its texts is one line); the texts its
    readers never see are one note with their count.
    """
    problems: list[Problem] = []
    for variant in texts.variants:
        base = texts.fallbacks[variant]
        own = texts.texts.get(variant, {})
        for dialog_id, dialog in dialogs.dialogs.items():
            doc = dialogs.sources[dialog_id]
            index = {s.id: i for i, s in enumerate(dialog.steps)}
            missing: list[tuple[tuple[str | int, ...], str]] = []
            total = 0
            found: list[tuple[tuple[str | int, ...], TextRef]] = []
            if dialog.title is not None:
                found.append((("title",), dialog.title))
            for step in dialog.steps:
                found += [(("steps", index[step.id], *rel), ref) for rel, ref in step_texts(step)]
            for loc, ref in found:
                if isinstance(ref, dict) and len(set(ref.values()) - {ref.get(variant)}) == 1:
                    continue  # the same in every language (a language picker, a name)
                total += 1
                has = ref in own if isinstance(ref, str) else variant in ref
                if not has:
                    missing.append((loc, _describe_loc(dialog, loc)))
            if not missing:
                continue
            if len(missing) == total:
                problems.append(
                    doc.problem(
                        ("id",),
                        f"no {variant} texts in '{dialog_id}': all {total} would be shown "
                        f"in {base}",
                        hint=f"write them under '{OVERRIDE_PREFIX}.{dialog_id}' in the {variant} "
                        "text file",
                        severity=Severity.ERROR,
                        code="fallback",
                    )
                )
                continue
            for loc, where in missing:
                problems.append(
                    doc.problem(
                        loc,
                        f"no {variant} text for {where}; {base} would be shown",
                        hint=f"add '{OVERRIDE_PREFIX}.{where}' to the {variant} text file",
                        severity=Severity.ERROR,
                        code="fallback",
                    )
                )
        table = texts.texts.get(base, {})
        keys = [k for k in table if not k.startswith(OVERRIDE_PREFIX + ".")]
        lacking = [k for k in keys if k not in own]
        for key in lacking:
            if not needs_variant(key, table[key]):
                continue
            file, line = texts.origins.get((base, key), (_variant_file(texts, base), None))
            problems.append(
                Problem(
                    file,
                    line,
                    None,
                    f"no {variant} text for '{key}'; {base} would be shown",
                    f"add '{key}' to {_variant_file(texts, variant)}",
                    Severity.ERROR,
                    "fallback",
                )
            )
        unseen = [k for k in lacking if not needs_variant(k, table[k])]
        if unseen:
            problems.append(
                Problem(
                    _variant_file(texts, variant),
                    None,
                    None,
                    f"{len(unseen)} of {len(keys)} texts in content/texts are shown in {base} "
                    f"to {variant} readers (texts they never see, or with no words to change)",
                    None,
                    Severity.INFO,
                    "fallback",
                )
            )
    return problems


def _variant_file(texts: TextCatalogue, language: str) -> str:
    files = sorted({f for (lang, _), (f, _) in texts.origins.items() if lang == language})
    return files[0] if files else f"content/texts ({language})"


def _describe_loc(dialog: Dialog, loc: tuple[str | int, ...]) -> str:
    """``career_plan.situation.options.unemployed`` for a location inside ``dialog``."""
    if loc == ("title",):
        return f"{dialog.id}.title"
    step = dialog.steps[int(loc[1])]
    rel = loc[2:]
    if rel and rel[0] == "options" and isinstance(step, ChoiceStep):
        return f"{dialog.id}.{step.id}.options.{step.options[int(rel[1])].id}"
    return f"{dialog.id}.{step.id}.{rel[0]}"
