"""Dialog loading and lint: each broken file gives the expected message at the expected line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.source import Severity
from bot.engine.lint import lint_dialogs
from bot.engine.loader import load_dialogs
from bot.engine.texts import load_texts_collecting
from tests.support import FIXTURES

GOOD_TEXTS = FIXTURES / "content" / "texts"
ACTIONS = {"set_language", "set_consent", "summary", "echo"}


def problems_for(tmp_path: Path, yaml_text: str) -> list[str]:
    (tmp_path / "d").mkdir(exist_ok=True)
    (tmp_path / "d" / "onboarding.yaml").write_text(yaml_text, encoding="utf-8")
    dialogs, problems = load_dialogs(tmp_path / "d")
    texts, _ = load_texts_collecting(GOOD_TEXTS, "fi")
    if not problems:
        problems = lint_dialogs(
            dialogs,
            texts,
            actions=ACTIONS,
            languages=["fi", "sv", "en"],
            home=("onboarding", "menu"),
        )
    return [str(p).replace(str(tmp_path) + "/", "") for p in problems]


HEAD = """version: 1
id: onboarding
start: menu
steps:
  - id: menu
    kind: choice
    text: {fi: Valitse, sv: Välj, en: Choose}
    options:
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}, next: carer_goal}\n"
            "  - id: career_goal\n    kind: end\n",
            "d/onboarding.yaml:9:47: error: unknown step 'carer_goal' (did you mean 'career_goal'?)",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}, nxt: x}\n    next: bye\n  - id: bye\n    kind: end\n",
            "d/onboarding.yaml:9:47: error: 'nxt' is not a known field here (did you mean 'next'?)",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: bye\n  - id: bye\n    kind: ending\n",
            "d/onboarding.yaml:12:5: error: 'kind' cannot be 'ending'; it must be one of: message, choice, input, condition, action, goto, end (did you mean 'end'?)",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: bye\n  - id: bye\n    kind: end\n"
            "  - id: bye\n    kind: end\n",
            "d/onboarding.yaml:13:5: error: the step id 'bye' is used twice (first at line 11",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: go\n  - id: go\n    kind: action\n"
            "    action: recomend\n    next: bye\n  - id: bye\n    kind: end\n",
            "d/onboarding.yaml:13:5: error: unknown action 'recomend'",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: go\n  - id: go\n    kind: goto\n"
            "    dialog: carer_plan\n",
            "d/onboarding.yaml:13:5: error: unknown dialog 'carer_plan'",
        ),
        (
            "      - {id: a, label: menu.nothing_here}\n    next: bye\n  - id: bye\n    kind: end\n",
            "d/onboarding.yaml:9:17: error: unknown text key 'menu.nothing_here'",
        ),
        (
            "      - {id: a, label: {fi: A, en: A}}\n    next: bye\n  - id: bye\n    kind: end\n",
            "d/onboarding.yaml:9:17: warning: no sv text",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: bye\n  - id: bye\n    kind: end\n"
            "  - id: lonely\n    kind: end\n",
            "d/onboarding.yaml:13:5: warning: no step leads to 'lonely'",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: loop\n  - id: loop\n    kind: message\n"
            "    text: {fi: x, sv: x, en: x}\n    next: menu\n",
            "d/onboarding.yaml:5:5: error: the dialog can never end from 'menu': the steps 'menu' and 'loop' form a loop with no exit",
        ),
        (
            '      - {id: a, label: {fi: "'
            + "A" * 45
            + '", sv: A, en: A}}\n    next: bye\n  - id: bye\n    kind: end\n',
            "d/onboarding.yaml:9:17: warning: the fi button text is 45 characters",
        ),
        (
            '      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: bye\n  - id: bye\n    kind: end\n    text: {fi: "'
            + "x" * 4100
            + '", sv: x, en: x}\n',
            "d/onboarding.yaml:13:5: error: the fi text is 4100 characters; Telegram allows 4096",
        ),
        (
            "      - {id: a, label: {fi: A, sv: A, en: A}\n    next: bye\n",
            "d/onboarding.yaml:10:5: error: YAML syntax:",
        ),
    ],
)
def test_lint_rule(tmp_path: Path, body: str, expected: str) -> None:
    found = problems_for(tmp_path, HEAD + body)
    assert any(p.startswith(expected) for p in found), found


def test_clean_dialog_has_no_problems(tmp_path: Path) -> None:
    body = (
        "      - {id: a, label: {fi: A, sv: A, en: A}}\n    next: bye\n  - id: bye\n    kind: end\n"
    )
    assert problems_for(tmp_path, HEAD + body) == []


def test_yes_and_no_stay_text(tmp_path: Path) -> None:
    body = (
        "      - {id: yes, label: {fi: K, sv: J, en: Y}}\n      - {id: no, label: {fi: E, sv: N, en: N}}\n"
        "    next: bye\n  - id: bye\n    kind: end\n"
    )
    assert problems_for(tmp_path, HEAD + body) == []


def test_texts_defined_twice_are_an_error(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(
            "version: 1\nlanguage: fi\ntexts:\n  menu:\n    x: hei\n", encoding="utf-8"
        )
    _, problems = load_texts_collecting(tmp_path, "fi")
    assert [p.severity for p in problems] == [Severity.ERROR]
    assert "the text 'menu.x' (fi) is defined twice" in str(problems[0])
    assert "a.yaml:5" in str(problems[0])


def test_plain_values_follow_yaml_1_2() -> None:
    from bot.content.source import parse_yaml

    doc = parse_yaml(
        "a: 30_49\nb: 9:00\nc: 08100\nd: no\ne: 12\nf: -3.5\ng: true\n", Path("x.yaml")
    )
    assert doc.data == {
        "a": "30_49",
        "b": "9:00",
        "c": "08100",
        "d": "no",
        "e": 12,
        "f": -3.5,
        "g": True,
    }


def _message(step: str, then: str, text: str = "Hei") -> str:
    return f"  - id: {step}\n    kind: message\n    text: {{fi: {text}, sv: {text}, en: {text}}}\n    next: {then}\n"


def _action(step: str, then: str, action: str = "echo") -> str:
    return f"  - id: {step}\n    kind: action\n    action: {action}\n    next: {then}\n"


def test_messages_before_a_question_join_it(tmp_path: Path) -> None:
    body = (
        "      - {id: a, label: {fi: A, sv: A, en: A}, next: one}\n"
        "      - {id: b, label: {fi: B, sv: B, en: B}, next: bye}\n"
        "  - id: bye\n    kind: end\n"
        + _message("one", "two")
        + _message("two", "three")
        + _message("three", "menu")
    )
    assert problems_for(tmp_path, HEAD + body) == []


def test_a_turn_of_three_messages_is_a_warning(tmp_path: Path) -> None:
    # a message, an action that replies, another message and an action: only the last action's
    # reply can join the question (what an action replies may have buttons of its own)
    body = (
        "      - {id: a, label: {fi: A, sv: A, en: A}, next: one}\n"
        "      - {id: b, label: {fi: B, sv: B, en: B}, next: bye}\n"
        "  - id: bye\n    kind: end\n"
        + _message("one", "act")
        + _action("act", "two")
        + _message("two", "act2")
        + _action("act2", "menu")
    )
    assert problems_for(tmp_path, HEAD + body) == [
        "d/onboarding.yaml:13:5: warning: a turn from 'one' to 'menu' can send 4 new messages; "
        "a person should get at most 2 (put message steps right before a question (they join "
        "it) and keep actions that reply next to each other)"
    ]


def test_texts_too_long_to_join_stay_apart(tmp_path: Path) -> None:
    long = "x" * 2100
    body = (
        "      - {id: a, label: {fi: A, sv: A, en: A}, next: one}\n"
        "      - {id: b, label: {fi: B, sv: B, en: B}, next: bye}\n"
        "  - id: bye\n    kind: end\n"
        + _message("one", "two", long)
        + _message("two", "three", long)
        + _message("three", "menu", long)
    )
    found = problems_for(tmp_path, HEAD + body)
    assert found == [
        "d/onboarding.yaml:13:5: warning: a turn from 'one' to 'menu' can send 3 new messages; "
        "a person should get at most 2 (put message steps right before a question (they join "
        "it) and keep actions that reply next to each other)"
    ]
