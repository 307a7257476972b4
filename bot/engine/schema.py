"""The YAML dialog format, as pydantic models.

A dialog is a graph of steps with stable ids. Editors write it in ``dialogs/*.yaml``::

    version: 1
    id: career_plan
    title: {fi: Urasuunnitelma, sv: Karriärplan, en: Career plan}
    start: situation
    steps:
      - id: situation
        kind: choice
        text: career.situation.question        # a key in content/texts/*.yaml ...
        save_as: situation
        options:
          - {id: unemployed, label: {fi: Olen työtön, sv: Jag är arbetslös, en: I am unemployed}}
          - {id: studying, label: career.situation.studying, next: study_field}
        next: age_group

Texts are either a mapping of language to text (inline) or a string, which is always a key
into the text catalogue. Ids are short slugs because they travel in Telegram's 64-byte
callback data.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SLUG = r"^[a-z0-9][a-z0-9_]{0,31}$"
StepId = Annotated[str, Field(pattern=SLUG)]
DialogId = Annotated[str, Field(pattern=SLUG)]
AnswerKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]

#: Inline texts: language code -> text. A plain string is a key into the text catalogue.
Localized = dict[str, str]
TextRef = str | Localized

#: Current version of the dialog file format.
FORMAT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    """A test on an earlier answer. Exactly one comparison besides ``key``."""

    key: AnswerKey
    equals: str | int | None = None
    in_: list[str | int] | None = Field(default=None, alias="in")
    contains: str | None = Field(default=None, description="for multi-choice answers")
    contains_any: list[str] | None = None
    answered: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [self.equals, self.in_, self.contains, self.contains_any, self.answered]
        given = sum(t is not None for t in tests)
        if given != 1:
            raise ValueError(
                "a condition needs exactly one of: equals, in, contains, contains_any, answered"
            )
        return self

    def holds(self, answers: dict[str, Any]) -> bool:
        value = answers.get(self.key)
        if self.answered is not None:
            return (value not in (None, "", [])) is self.answered
        if value is None:
            return False
        values = value if isinstance(value, list) else [value]
        if self.equals is not None:
            return any(str(v) == str(self.equals) for v in values)
        if self.in_ is not None:
            wanted = {str(w) for w in self.in_}
            return any(str(v) in wanted for v in values)
        if self.contains is not None:
            return self.contains in [str(v) for v in values]
        if self.contains_any is not None:
            return bool({str(v) for v in values} & set(self.contains_any))
        return False  # pragma: no cover - excluded by the validator


class Branch(_Model):
    #: all conditions must hold (a single condition may be written without the list)
    when: list[Condition]
    next: StepId

    @model_validator(mode="before")
    @classmethod
    def _single_condition(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("when"), dict):
            return {**data, "when": [data["when"]]}
        return data


class Option(_Model):
    id: StepId
    label: TextRef
    #: what is stored as the answer; defaults to the option id
    value: str | None = None
    #: where this option leads; defaults to the step's ``next``
    next: StepId | None = None

    @property
    def stored_value(self) -> str:
        return self.value if self.value is not None else self.id


class Validation(_Model):
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=500, ge=1, le=4000)
    pattern: str | None = None
    number: bool = False
    #: a phone number, Finnish or with a country code (stored as typed; see bot.engine.phone)
    phone: bool = False
    min: float | None = None
    max: float | None = None


class _Step(_Model):
    id: StepId
    #: a short label used in summaries and in the dialog drawing
    label: TextRef | None = None


class MessageStep(_Step):
    """Shows a text and goes straight on."""

    kind: Literal["message"]
    text: TextRef
    next: StepId


class ChoiceStep(_Step):
    """A question answered with buttons; ``multi`` lets the person pick several and press done."""

    kind: Literal["choice"]
    text: TextRef
    save_as: AnswerKey | None = None
    options: list[Option] = Field(min_length=1)
    multi: bool = False
    min_selected: int = Field(default=1, ge=0)
    next: StepId | None = None
    #: show a "back" button when there is an earlier question to go back to
    back: bool = True

    @model_validator(mode="after")
    def _every_option_leads_somewhere(self) -> ChoiceStep:
        if self.next is None and any(o.next is None for o in self.options):
            missing = [o.id for o in self.options if o.next is None]
            raise ValueError(
                "give the step a 'next', or give every option its own 'next' "
                f"(missing for: {', '.join(missing)})"
            )
        if self.multi and any(o.next is not None for o in self.options):
            raise ValueError("options of a multi-choice step cannot have their own 'next'")
        ids = [o.id for o in self.options]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"option ids must be unique in a step: {', '.join(dupes)}")
        return self


class InputStep(_Step):
    """A question answered by typing; the answer is checked and asked again if it does not fit."""

    kind: Literal["input"]
    text: TextRef
    save_as: AnswerKey
    validate_: Validation = Field(default_factory=Validation, alias="validate")
    reask: TextRef
    next: StepId
    #: offer a "skip" button; a skipped question stores nothing
    skippable: bool = False
    back: bool = True
    #: what the person writes here is personal (phone numbers, free text): encrypted at rest
    sensitive: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConditionStep(_Step):
    """Branches on earlier answers: the first branch whose conditions all hold wins."""

    kind: Literal["condition"]
    branches: list[Branch] = Field(min_length=1)
    default: StepId


class ActionStep(_Step):
    """Runs a capability registered in code (``recommend``, ``handoff``, ``summary``, …)."""

    kind: Literal["action"]
    action: Annotated[str, Field(pattern=SLUG)]
    args: dict[str, Any] = Field(default_factory=dict)
    next: StepId | None = None
    #: the action may report an outcome; each outcome can lead to its own step
    outcomes: dict[str, StepId] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _way_on(self) -> ActionStep:
        if self.next is None and not self.outcomes:
            raise ValueError("an action step needs 'next' (or 'outcomes')")
        return self


class GotoStep(_Step):
    """Continues in another dialog (at its start, or at ``step``)."""

    kind: Literal["goto"]
    dialog: DialogId
    step: StepId | None = None
    #: continue where the person left that dialog, if they left it unfinished
    resume: bool = False


class EndStep(_Step):
    """Ends the dialog: optional closing text, then the main menu."""

    kind: Literal["end"]
    text: TextRef | None = None
    #: go home (the main menu) afterwards; false leaves the person with no open question
    home: bool = True


Step = Annotated[
    MessageStep | ChoiceStep | InputStep | ConditionStep | ActionStep | GotoStep | EndStep,
    Field(discriminator="kind"),
]

STEP_KINDS: tuple[str, ...] = ("message", "choice", "input", "condition", "action", "goto", "end")


class Dialog(_Model):
    version: Literal[1]
    id: DialogId
    title: TextRef | None = None
    description: str | None = None
    start: StepId
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step | None:
        return self._index.get(step_id)

    @property
    def _index(self) -> dict[str, Step]:
        cached: dict[str, Step] | None = self.__dict__.get("_cached_index")
        if cached is None:
            cached = {s.id: s for s in self.steps}
            self.__dict__["_cached_index"] = cached
        return cached


def step_targets(step: Step) -> list[str]:
    """Ids of the steps in the same dialog that ``step`` can lead to, as the engine goes: an
    option leads to its own ``next`` or else to the step's (a multi-choice: to the step's)."""
    if isinstance(step, MessageStep | InputStep):
        return [step.next]
    if isinstance(step, ChoiceStep):
        if step.multi:
            return [step.next] if step.next else []
        return list(dict.fromkeys(t for o in step.options if (t := o.next or step.next)))
    if isinstance(step, ConditionStep):
        return list(dict.fromkeys([*(b.next for b in step.branches), step.default]))
    if isinstance(step, ActionStep):
        targets = list(step.outcomes.values())
        if step.next:
            targets.append(step.next)
        return list(dict.fromkeys(targets))
    return []


def step_texts(step: Step) -> list[tuple[tuple[str | int, ...], TextRef]]:
    """Every text of ``step`` with its location inside the step (for lint and translation checks)."""
    found: list[tuple[tuple[str | int, ...], TextRef]] = []
    if step.label is not None:
        found.append((("label",), step.label))
    text = getattr(step, "text", None)
    if text is not None:
        found.append((("text",), text))
    if isinstance(step, InputStep):
        found.append((("reask",), step.reask))
    if isinstance(step, ChoiceStep):
        for i, option in enumerate(step.options):
            found.append((("options", i, "label"), option.label))
    return found
