"""Loading dialogs from YAML: each file validated on its own, with schema errors at
file:line:column. :mod:`.lint` checks the loaded set as a whole."""

from __future__ import annotations

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
)

from .output import MAX_MESSAGE as MAX_MESSAGE  # Telegram's limit, also imported from here
from .schema import (
    Dialog,
    Step,
)

#: a button label longer than this is cut off on a phone screen
MAX_BUTTON_LABEL = 40
#: Telegram's limit for callback data, in bytes
MAX_CALLBACK_BYTES = 64
#: the prefix the engine puts before an option id: "q:<question tag of 8 hex digits>:"
CALLBACK_PREFIX_BYTES = len("q:") + 8 + 1


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
