"""``urapolku graph``: a dialog as Mermaid text, DOT, or a picture drawn by Graphviz."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.graph import DialogGraph, GraphError, render, shorten, to_dot, to_mermaid
from bot.engine.loader import load_dialogs
from bot.engine.texts import load_texts_collecting
from bot.engine.variants import apply_text_overrides
from tests.support import FIXTURES, ROOT

DIALOG = """\
version: 1
id: plan
start: hello
steps:
  - id: hello
    kind: message
    text: {fi: "Hei! Tehdään \\"suunnitelma\\" yhdessä.\\nToinen rivi.", en: "Hi! Let's plan."}
    next: age
  - id: age
    kind: choice
    text: {fi: "Ikäryhmä?", en: "Age group?"}
    save_as: age_group
    options:
      - {id: young, label: {fi: Alle 30, en: Under 30}}
      - {id: old, label: {fi: Yli 50, en: Over 50}, next: years}
      - {id: mid, label: {fi: 30–49, en: 30–49}}
    next: by_age
  - id: years
    kind: input
    text: {fi: "Montako vuotta olet ollut töissä yhteensä koko elämäsi aikana?", en: "Years?"}
    save_as: work_years
    reask: {fi: Luku, en: A number}
    next: by_age
  - id: by_age
    kind: condition
    branches:
      - when: [{key: age_group, equals: old}, {key: work_years, answered: true}]
        next: fields
      - when: {key: age_group, in: [young, mid]}
        next: end
    default: send
  - id: fields
    kind: choice
    multi: true
    text: {fi: "Alat?", en: "Fields?"}
    options:
      - {id: a, label: {fi: A, en: A}}
      - {id: b, label: {fi: B, en: B}}
    next: send
  - id: send
    kind: action
    action: handoff
    outcomes: {done: end}
    next: coach
  - id: coach
    kind: goto
    dialog: handoff
  - id: end
    kind: end
    text: {fi: Kiitos!, en: Thanks!}
"""

#: the whole expected drawing of DIALOG in Finnish
MERMAID_FI = """\
flowchart TD
    %% dialog plan, texts in fi
    s_hello["▶ hello<br/>Hei! Tehdään #quot;suunnitelma#quot; yhdessä."]
    s_age("age<br/>Ikäryhmä?")
    s_years[/"years<br/>Montako vuotta olet ollut töissä…"/]
    s_by_age{"by_age<br/>?"}
    s_fields("fields<br/>Alat?")
    s_send[["send<br/>⚙ handoff"]]
    s_coach>"coach<br/>→ handoff"]
    s_end(["end<br/>Kiitos!"])
    s_hello --> s_age
    s_age -->|"Alle 30 / 30–49"| s_by_age
    s_age -->|"Yli 50"| s_years
    s_years --> s_by_age
    s_by_age -->|"age_group = old and work_years answered"| s_fields
    s_by_age -->|"age_group in young, mid"| s_end
    s_by_age -->|"else"| s_send
    s_fields -->|"Valmis ✅"| s_send
    s_send -->|"done"| s_end
    s_send --> s_coach
"""


@pytest.fixture
def graph_dir(tmp_path: Path) -> Path:
    (tmp_path / "dialogs").mkdir()
    (tmp_path / "dialogs" / "plan.yaml").write_text(DIALOG, encoding="utf-8")
    return tmp_path


def graph_of(directory: Path, language: str) -> DialogGraph:
    dialogs, problems = load_dialogs(directory / "dialogs")
    assert problems == []
    texts, _ = load_texts_collecting(FIXTURES / "content" / "texts", "fi")
    apply_text_overrides(dialogs, texts)
    dialog = dialogs.get("plan")
    assert dialog is not None
    return DialogGraph(dialog, texts, language)


def test_mermaid_text_of_a_dialog(graph_dir: Path) -> None:
    assert to_mermaid(graph_of(graph_dir, "fi")) == MERMAID_FI


def test_labels_follow_the_language(graph_dir: Path) -> None:
    text = to_mermaid(graph_of(graph_dir, "en"))
    assert '    s_hello["▶ hello<br/>Hi! Let\'s plan."]' in text
    assert '    s_age -->|"Under 30 / 30–49"| s_by_age' in text


def test_dot_text_of_a_dialog(graph_dir: Path) -> None:
    dot = to_dot(graph_of(graph_dir, "fi"))
    assert dot.startswith('digraph "plan" {\n    rankdir=TB;\n')
    assert (
        '    "hello" [label="▶ hello\\nHei! Tehdään \\"suunnitelma\\" yhdessä.", shape=box, '
        "penwidth=2];"
    ) not in dot  # the start mark is the bold outline, not a symbol
    assert (
        '    "hello" [label="hello\\nHei! Tehdään \\"suunnitelma\\" yhdessä.", shape=box, '
        "penwidth=2];"
    ) in dot
    assert '    "age" -> "years" [label="Yli 50"];' in dot
    assert '    "years" -> "by_age";' in dot
    assert dot.endswith("}\n")


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("Yksi kaksi kolme neljä", 12) == "Yksi kaksi…"
    assert shorten("\n\nToinen rivi ensin\nja lisää", 40) == "Toinen rivi ensin"
    assert shorten("Pitkäsanainensana", 5) == "Pitk…"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_svg_through_graphviz(graph_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.svg"
    render(to_dot(graph_of(graph_dir, "fi")), "svg", out)
    svg = out.read_text(encoding="utf-8")
    assert "<svg" in svg
    assert "Ikäryhmä?" in svg


def test_missing_graphviz_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphError, match="Graphviz is not installed"):
        render("digraph x {}", "svg", tmp_path / "x.svg")
    assert not (tmp_path / "x.svg").exists()


def test_cli_graph(
    graph_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("BOT_TOKEN", "")
    monkeypatch.setenv("DIALOGS_DIR", str(graph_dir / "dialogs"))
    monkeypatch.setenv("CONTENT_DIR", str(FIXTURES / "content"))
    assert main(["graph", "plan"]) == 0
    assert capsys.readouterr().out == MERMAID_FI

    assert main(["graph", "pln"]) == 2
    assert "there is no dialog 'pln' (did you mean 'plan'?)" in capsys.readouterr().err

    assert main(["graph", "plan", "--format", "svg"]) == 2
    assert "--format svg needs -o FILE" in capsys.readouterr().err

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["graph", "plan", "--format", "png", "-o", str(graph_dir / "p.png")]) == 2
    assert "Graphviz is not installed" in capsys.readouterr().err


def test_cli_graph_in_plain_finnish(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("BOT_TOKEN", "")
    monkeypatch.setenv("DIALOGS_DIR", str(ROOT / "dialogs"))
    monkeypatch.setenv("CONTENT_DIR", str(ROOT / "content"))
    assert main(["graph", "career_plan", "--lang", "fi-selko"]) == 0
    out = capsys.readouterr().out
    assert '    s_age_group("age_group<br/>Kuinka vanha olet?")' in out
    assert main(["graph", "career_plan", "--lang", "de"]) == 2
    assert "no texts in 'de'" in capsys.readouterr().err


def test_the_drawing_and_the_reachability_check_see_the_same_ways() -> None:
    """`urapolku graph` draws, and `check` finds unreachable steps by, the same edges: those
    the engine can take (an option's own `next`, else the step's)."""
    from bot.engine.schema import step_targets

    dialogs, problems = load_dialogs(ROOT / "dialogs")
    assert problems == []
    texts, _ = load_texts_collecting(ROOT / "content" / "texts", "fi")
    compared = 0
    for dialog in dialogs.dialogs.values():
        graph = DialogGraph(dialog, texts, "fi")
        for step in dialog.steps:
            drawn = {e.target for e in graph.edges if e.source == step.id}
            assert drawn == set(step_targets(step)), (dialog.id, step.id)
            compared += 1
    assert compared > 90  # every step of every bundled dialog


def test_a_steps_next_that_no_option_takes_leads_nowhere() -> None:
    from bot.engine.schema import ChoiceStep, step_targets

    step = ChoiceStep.model_validate(
        {
            "id": "q",
            "kind": "choice",
            "text": {"fi": "?"},
            "options": [
                {"id": "a", "label": {"fi": "A"}, "next": "x"},
                {"id": "b", "label": {"fi": "B"}, "next": "z"},
            ],
            "next": "y",  # every option has its own way: the engine never goes here
        }
    )
    assert step_targets(step) == ["x", "z"]
    multi = ChoiceStep.model_validate(
        {
            "id": "m",
            "kind": "choice",
            "text": "k",
            "multi": True,
            "options": [{"id": "a", "label": "l"}],
            "next": "y",
        }
    )
    assert step_targets(multi) == ["y"]
