"""Checking the dialogs as a whole: references to unknown steps, dialogs, actions and text keys;
steps no one can reach; steps and loops with no way on; missing translations; texts too long for
Telegram; callback data that would not fit in 64 bytes; turns that would send more than two new
messages. Errors make the content unusable; warnings are reported but do not stop the bot."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from bot.content.source import (
    Problem,
    Severity,
    YamlDocument,
    suggest,
)

from .loader import (
    CALLBACK_PREFIX_BYTES,
    MAX_BUTTON_LABEL,
    MAX_CALLBACK_BYTES,
    MAX_MESSAGE,
    DialogSet,
)
from .output import PARAGRAPH
from .schema import (
    ActionStep,
    ChoiceStep,
    ConditionStep,
    Dialog,
    EndStep,
    GotoStep,
    InputStep,
    MessageStep,
    Step,
    TextRef,
    step_targets,
    step_texts,
)
from .texts import TextCatalogue

#: new messages one turn may send before ``urapolku check`` warns
MAX_TURN_MESSAGES = 2
#: steps one turn may walk through (the runner's own limit)
MAX_TURN_STEPS = 100


def lint_dialogs(
    dialogs: DialogSet,
    texts: TextCatalogue,
    *,
    actions: Collection[str],
    languages: Iterable[str],
    entry: tuple[str, str | None] = ("onboarding", None),
    home: tuple[str, str] = ("onboarding", "menu"),
    quiet: Collection[str] = (),
) -> list[Problem]:
    """Check the dialogs as a whole; see the module docstring for what is checked.
    ``quiet``: the actions that never reply."""
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
    problems += _lint_turns(dialogs, texts, languages, home, frozenset(quiet))
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


# -- messages a turn sends ----------------------------------------------------------------------

#: a new message on the way to a question: the longest text it can have (in any language), and
#: whether it comes from an action (whose replies are not known here)
_Message = tuple[int, bool]


def _lint_turns(
    dialogs: DialogSet,
    texts: TextCatalogue,
    languages: list[str],
    home: tuple[str, str],
    quiet: frozenset[str],
) -> list[Problem]:
    """A warning where a turn — from a dialog's start or from an answer, through the steps that
    run on their own, to the next question — would send more than two new messages once the
    runner has joined what it can with the question (see :func:`bot.engine.output.fold`).

    An action counts as one message that the question after it may join (most actions reply
    once; what they reply is not known here) unless it is ``quiet``, and a text as long as its
    longest translation."""
    problems: list[Problem] = []
    for dialog_id, dialog in dialogs.dialogs.items():
        doc = dialogs.sources[dialog_id]
        index = {s.id: i for i, s in enumerate(dialog.steps)}
        starts = [dialog.start] + [
            target
            for step in dialog.steps
            if isinstance(step, ChoiceStep | InputStep)
            for target in step_targets(step)
        ]
        for start in dict.fromkeys(starts):
            if start not in index:
                continue  # reported as an unknown step
            worst = _worst_turn(dialogs, texts, languages, home, quiet, (dialog_id, start))
            if worst is None or worst[0] <= MAX_TURN_MESSAGES:
                continue
            count, (end_dialog, end_step) = worst
            end = end_step if end_dialog == dialog_id else f"{end_dialog}:{end_step}"
            problems.append(
                doc.problem(
                    ("steps", index[start], "id"),
                    f"a turn from '{start}' to '{end}' can send {count} new messages; "
                    f"a person should get at most {MAX_TURN_MESSAGES}",
                    hint="put message steps right before a question (they join it) and "
                    "keep actions that reply next to each other",
                    severity=Severity.WARNING,
                    code="messages",
                )
            )
    return problems


def _worst_turn(
    dialogs: DialogSet,
    texts: TextCatalogue,
    languages: list[str],
    home: tuple[str, str],
    quiet: frozenset[str],
    start: tuple[str, str],
) -> tuple[int, tuple[str, str]] | None:
    """The most new messages any way from ``start`` sends, and the step where it stops."""

    def longest(ref: TextRef) -> int:
        return max((len(texts.resolve(ref, lang)) for lang in languages), default=0)

    worst: tuple[int, tuple[str, str]] | None = None
    todo: list[tuple[tuple[str, str], tuple[_Message, ...], frozenset[tuple[str, str]]]] = [
        (start, (), frozenset())
    ]
    while todo:
        where, sent, walked = todo.pop()
        dialog_id, step_id = where
        step = dialogs.step(dialog_id, step_id)
        if step is None or where in walked or len(walked) > MAX_TURN_STEPS:
            continue  # an unknown step or a loop: reported elsewhere
        count: int | None = None
        follow: list[tuple[str, str]] = []
        if isinstance(step, ChoiceStep | InputStep):
            count = _count(sent, longest(step.text))
        elif isinstance(step, MessageStep):
            sent += ((longest(step.text), False),)
            follow = [(dialog_id, step.next)]
        elif isinstance(step, ActionStep):
            if step.action not in quiet:
                sent += ((0, True),)
            follow = [(dialog_id, t) for t in step_targets(step)]
        elif isinstance(step, ConditionStep):
            follow = [(dialog_id, t) for t in step_targets(step)]
        elif isinstance(step, GotoStep):
            target = dialogs.get(step.dialog)
            if target is not None:
                follow = [(step.dialog, step.step or target.start)]
        else:
            assert isinstance(step, EndStep)
            if step.text is not None:
                sent += ((longest(step.text), False),)
            if step.home:
                follow = [home]
            else:
                count = len(sent)
        if count is not None and (worst is None or count > worst[0]):
            worst = (count, (dialog_id, step_id))
        todo += [(then, sent, walked | {where}) for then in follow]
    return worst


def _count(sent: tuple[_Message, ...], question: int) -> int:
    """New messages of a turn that ends with a question of ``question`` characters."""
    size, joined = question, 0
    for length, from_action in reversed(sent):
        size += length + len(PARAGRAPH)
        if size > MAX_MESSAGE:
            break
        joined += 1
        if from_action:
            break
    return len(sent) - joined + 1
