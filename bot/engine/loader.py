"""Loading dialogs from YAML and checking them as a whole.

Each file is validated on its own (schema errors with file:line:column), then the set is
checked as a graph: references to unknown steps, dialogs, actions and text keys; steps no one
can reach; steps and loops with no way on; missing translations; texts too long for Telegram;
callback data that would not fit in 64 bytes. Errors make the content unusable; warnings are
reported but do not stop the bot.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bot.content.source import (
    ContentError,
    Problem,
    Severity,
    YamlDocument,
    load_yaml,
    problems_from_validation_error,
    suggest,
)

from .schema import (
    ActionStep,
    ChoiceStep,
    Dialog,
    EndStep,
    GotoStep,
    Step,
    TextRef,
    step_targets,
    step_texts,
)
from .texts import TextCatalogue

#: Telegram's limit for one message
MAX_MESSAGE = 4096
#: a button label longer than this is cut off on a phone screen
MAX_BUTTON_LABEL = 40
#: Telegram's limit for callback data, in bytes
MAX_CALLBACK_BYTES = 64
#: the longest prefix the engine puts before an option id: "s:<seq up to 10 digits>:"
CALLBACK_PREFIX_BYTES = len("s:") + 10 + 1


@dataclass(slots=True)
class DialogSet:
    """All dialogs, by id, with the parsed documents they came from (for error positions)."""

    dialogs: dict[str, Dialog] = field(default_factory=dict)
    sources: dict[str, YamlDocument] = field(default_factory=dict)

    def get(self, dialog_id: str) -> Dialog | None:
        return self.dialogs.get(dialog_id)

    def step(self, dialog_id: str, step_id: str) -> Step | None:
        dialog = self.dialogs.get(dialog_id)
        return dialog.step(step_id) if dialog else None


def load_dialogs(directory: Path) -> tuple[DialogSet, list[Problem]]:
    """Parse and validate every ``*.yaml`` file in ``directory`` (no cross-checks yet)."""
    result = DialogSet()
    problems: list[Problem] = []
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        problems.append(Problem(str(directory), None, None, "no dialog files (*.yaml) found"))
    for path in files:
        try:
            doc = load_yaml(path)
        except ContentError as exc:
            problems += exc.problems
            continue
        problems += _load_one(doc, result)
    return result, problems


def _load_one(doc: YamlDocument, result: DialogSet) -> list[Problem]:
    data = doc.data
    if not isinstance(data, dict):
        return [doc.problem((), "a dialog file must start with 'version:', 'id:' and 'steps:'")]
    problems: list[Problem] = []
    # Validate steps one by one so that one broken step does not hide the others' errors.
    raw_steps = data.get("steps")
    if isinstance(raw_steps, list):
        seen: dict[str, int] = {}
        for index, raw in enumerate(raw_steps):
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                step_id = raw["id"]
                if step_id in seen:
                    first_line, _ = doc.position(("steps", seen[step_id]))
                    problems.append(
                        doc.problem(
                            ("steps", index, "id"),
                            f"the step id '{step_id}' is used twice",
                            hint=f"first at line {first_line}; every step needs its own id",
                            code="duplicate-id",
                        )
                    )
                else:
                    seen[step_id] = index
    try:
        dialog = Dialog.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_validation_error(doc, exc, known_fields=_known_fields(data))
        return problems
    if problems:
        return problems
    expected = doc.path.stem
    if dialog.id in result.dialogs:
        other = result.sources[dialog.id]
        problems.append(
            doc.problem(
                ("id",),
                f"the dialog id '{dialog.id}' is also used in {other.name}",
                code="duplicate-id",
            )
        )
        return problems
    if dialog.id != expected:
        problems.append(
            doc.problem(
                ("id",),
                f"the dialog id '{dialog.id}' differs from the file name '{doc.path.name}'",
                hint=f"name the file {dialog.id}.yaml so it is easy to find",
                severity=Severity.WARNING,
                code="naming",
            )
        )
    result.dialogs[dialog.id] = dialog
    result.sources[dialog.id] = doc
    return problems


_STEP_FIELDS: dict[str, list[str]] = {
    "message": ["id", "kind", "label", "text", "next"],
    "choice": [
        "id",
        "kind",
        "label",
        "text",
        "save_as",
        "options",
        "multi",
        "min_selected",
        "next",
        "back",
    ],
    "input": [
        "id",
        "kind",
        "label",
        "text",
        "save_as",
        "validate",
        "reask",
        "next",
        "skippable",
        "back",
        "sensitive",
    ],
    "condition": ["id", "kind", "label", "branches", "default"],
    "action": ["id", "kind", "label", "action", "args", "next", "outcomes"],
    "goto": ["id", "kind", "label", "dialog", "step", "resume"],
    "end": ["id", "kind", "label", "text", "home"],
}


def _known_fields(data: dict[str, object]) -> dict[tuple[str | int, ...], list[str]]:
    """Field names per location, so 'extra field' errors can say 'did you mean …'."""
    known: dict[tuple[str | int, ...], list[str]] = {
        (): ["version", "id", "title", "description", "start", "steps"]
    }
    steps = data.get("steps")
    if isinstance(steps, list):
        for index, raw in enumerate(steps):
            kind = raw.get("kind") if isinstance(raw, dict) else None
            if isinstance(kind, str) and kind in _STEP_FIELDS:
                known[("steps", index)] = _STEP_FIELDS[kind]
                if (
                    kind == "choice"
                    and isinstance(raw, dict)
                    and isinstance(raw.get("options"), list)
                ):
                    for oi in range(len(raw["options"])):
                        known[("steps", index, "options", oi)] = ["id", "label", "value", "next"]
    return known


def lint_dialogs(
    dialogs: DialogSet,
    texts: TextCatalogue,
    *,
    actions: Collection[str],
    languages: Iterable[str],
    entry: tuple[str, str | None] = ("onboarding", None),
    home: tuple[str, str] = ("onboarding", "menu"),
) -> list[Problem]:
    """Check the dialogs as a whole; see the module docstring for what is checked."""
    problems: list[Problem] = []
    languages = list(languages)
    for dialog_id, dialog in dialogs.dialogs.items():
        doc = dialogs.sources[dialog_id]
        problems += _lint_dialog(dialog, doc, dialogs, texts, actions, languages)
    for what, (dialog_id, step_id) in (("entry", entry), ("home", home)):
        if dialog_id not in dialogs.dialogs:
            problems.append(
                Problem(
                    "dialogs",
                    None,
                    None,
                    f"the {what} dialog '{dialog_id}' is missing",
                    code="reference",
                )
            )
        elif step_id is not None and dialogs.step(dialog_id, step_id) is None:
            doc = dialogs.sources[dialog_id]
            problems.append(
                doc.problem(("steps",), f"the {what} step '{step_id}' is missing", code="reference")
            )
    return problems


def _lint_dialog(
    dialog: Dialog,
    doc: YamlDocument,
    dialogs: DialogSet,
    texts: TextCatalogue,
    actions: Collection[str],
    languages: list[str],
) -> list[Problem]:
    problems: list[Problem] = []
    ids = [s.id for s in dialog.steps]
    index = {s.id: i for i, s in enumerate(dialog.steps)}

    def at(step: Step, *rest: str | int) -> tuple[str | int, ...]:
        return ("steps", index[step.id], *rest)

    if dialog.start not in index:
        problems.append(
            doc.problem(
                ("start",),
                f"unknown step '{dialog.start}'",
                hint=suggest(dialog.start, ids),
                code="reference",
            )
        )
    for step in dialog.steps:
        for target in step_targets(step):
            if target not in index:
                loc = _target_loc(step, target)
                problems.append(
                    doc.problem(
                        at(step, *loc),
                        f"unknown step '{target}'",
                        hint=suggest(target, ids),
                        code="reference",
                    )
                )
        if isinstance(step, GotoStep):
            other = dialogs.get(step.dialog)
            if other is None:
                problems.append(
                    doc.problem(
                        at(step, "dialog"),
                        f"unknown dialog '{step.dialog}'",
                        hint=suggest(step.dialog, dialogs.dialogs),
                        code="reference",
                    )
                )
            elif step.step is not None and other.step(step.step) is None:
                problems.append(
                    doc.problem(
                        at(step, "step"),
                        f"the dialog '{step.dialog}' has no step '{step.step}'",
                        hint=suggest(step.step, [s.id for s in other.steps]),
                        code="reference",
                    )
                )
        if isinstance(step, ActionStep) and step.action not in actions:
            problems.append(
                doc.problem(
                    at(step, "action"),
                    f"unknown action '{step.action}'",
                    hint=suggest(step.action, actions) or "known: " + ", ".join(sorted(actions)),
                    code="reference",
                )
            )
        if isinstance(step, ChoiceStep):
            for oi, option in enumerate(step.options):
                size = CALLBACK_PREFIX_BYTES + len(option.id.encode())
                if size > MAX_CALLBACK_BYTES:  # pragma: no cover - slug length keeps this safe
                    problems.append(
                        doc.problem(
                            at(step, "options", oi, "id"), "option id too long for a button"
                        )
                    )
        problems += _lint_texts(step, at, doc, texts, languages)

    problems += _lint_graph(dialog, doc, index)
    return problems


def _target_loc(step: Step, target: str) -> tuple[str | int, ...]:
    if isinstance(step, ChoiceStep):
        for oi, option in enumerate(step.options):
            if option.next == target:
                return ("options", oi, "next")
    if isinstance(step, ActionStep):
        for name, value in step.outcomes.items():
            if value == target:
                return ("outcomes", name)
    if hasattr(step, "branches"):
        for bi, branch in enumerate(step.branches):
            if branch.next == target:
                return ("branches", bi, "next")
        return ("default",)
    return ("next",)


def _lint_texts(
    step: Step,
    at: object,
    doc: YamlDocument,
    texts: TextCatalogue,
    languages: list[str],
) -> list[Problem]:
    problems: list[Problem] = []
    locate = at  # callable(step, *rest)
    for rel, ref in step_texts(step):
        loc = locate(step, *rel)  # type: ignore[operator]
        is_label = rel[-1] == "label" and rel[0] == "options"
        if isinstance(ref, str):
            if not texts.has(ref):
                problems.append(
                    doc.problem(
                        loc,
                        f"unknown text key '{ref}'",
                        hint=suggest(ref, {k for table in texts.texts.values() for k in table}),
                        code="reference",
                    )
                )
                continue
            variants = {lang: texts.texts.get(lang, {}).get(ref) for lang in languages}
        else:
            variants = {lang: ref.get(lang) for lang in languages}
        for lang, text in variants.items():
            if text is None:
                fallback = texts.lookup(ref, lang) if isinstance(ref, str) else None
                problems.append(
                    doc.problem(
                        loc,
                        f"no {lang} text"
                        + (
                            " (the default language is shown instead)"
                            if fallback or not isinstance(ref, str)
                            else ""
                        ),
                        severity=Severity.WARNING,
                        code="translation",
                    )
                )
                continue
            if len(text) > MAX_MESSAGE:
                problems.append(
                    doc.problem(
                        loc,
                        f"the {lang} text is {len(text)} characters; Telegram allows {MAX_MESSAGE}",
                        code="length",
                    )
                )
            if is_label and len(text) > MAX_BUTTON_LABEL:
                problems.append(
                    doc.problem(
                        loc,
                        f"the {lang} button text is {len(text)} characters; more than {MAX_BUTTON_LABEL} is cut off on a phone",
                        severity=Severity.WARNING,
                        code="length",
                    )
                )
    return problems


def _lint_graph(dialog: Dialog, doc: YamlDocument, index: dict[str, int]) -> list[Problem]:
    """Unreachable steps, and steps from which the dialog can never end or leave."""
    problems: list[Problem] = []
    if dialog.start not in index:
        return problems
    edges = {s.id: [t for t in step_targets(s) if t in index] for s in dialog.steps}
    reachable = {dialog.start} | _reach(dialog.start, edges)
    for step in dialog.steps:
        if step.id not in reachable:
            problems.append(
                doc.problem(
                    ("steps", index[step.id], "id"),
                    f"no step leads to '{step.id}'",
                    hint="link it from another step or remove it",
                    severity=Severity.WARNING,
                    code="unreachable",
                )
            )
    # A step "can finish" if it is an end or a goto, or leads to a step that can finish. A way
    # to an unknown step is reported as such already, so it counts as a way out here.
    exits = {s.id for s in dialog.steps if isinstance(s, EndStep | GotoStep)}
    exits |= {s.id for s in dialog.steps if any(t not in index for t in step_targets(s))}
    can_finish = set(exits)
    changed = True
    while changed:
        changed = False
        for sid, targets in edges.items():
            if sid not in can_finish and any(t in can_finish for t in targets):
                can_finish.add(sid)
                changed = True
    stuck = [s.id for s in dialog.steps if s.id in reachable and s.id not in can_finish]
    # Every stuck step ends up in a loop; report each loop once, at its first step in the file.
    reach = {sid: _reach(sid, edges) for sid in stuck}
    reported: set[str] = set()
    for sid in stuck:
        if sid in reported or sid not in reach[sid]:
            continue  # leads into a loop reported at the loop itself
        loop = [other for other in stuck if other in reach[sid] and sid in reach[other]]
        reported.update(loop)
        if len(loop) == 1:
            what = f"'{sid}' leads only back to itself"
        else:
            names = ", ".join(f"'{other}'" for other in loop[:-1]) + f" and '{loop[-1]}'"
            what = f"the steps {names} form a loop with no exit"
        problems.append(
            doc.problem(
                ("steps", index[sid], "id"),
                f"the dialog can never end from '{sid}': {what}",
                hint="add a way out of the loop to an 'end' or 'goto' step",
                code="dead-end",
            )
        )
    return problems


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    """Steps reachable from ``start`` in one or more moves."""
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges[current])
    return seen


# --- language variants ------------------------------------------------------------------------

#: text keys under this prefix override texts written inline in the dialog files
OVERRIDE_PREFIX = "dialog"
_STEP_TEXT_FIELDS = ("text", "label", "reask")


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
    """Notes (not errors) on the texts each language variant takes from its fallback.

    In a dialog the variant has texts for, every text it lacks is listed with its place; a
    dialog with none of its texts is one line; so is the count for ``content/texts``.
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
                        f"no {variant} texts in '{dialog_id}': all {total} are shown in {base}",
                        severity=Severity.INFO,
                        code="fallback",
                    )
                )
                continue
            for loc, where in missing:
                problems.append(
                    doc.problem(
                        loc,
                        f"no {variant} text for {where}; {base} is shown",
                        hint=f"add '{OVERRIDE_PREFIX}.{where}' to the {variant} text file",
                        severity=Severity.INFO,
                        code="fallback",
                    )
                )
        keys = [k for k in texts.texts.get(base, {}) if not k.startswith(OVERRIDE_PREFIX + ".")]
        lacking = [k for k in keys if k not in own]
        if lacking:
            problems.append(
                Problem(
                    _variant_file(texts, variant),
                    None,
                    None,
                    f"{len(lacking)} of {len(keys)} texts in content/texts are shown in {base} "
                    f"to {variant} readers",
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
