"""A dialog drawn as a flowchart, for editors (``urapolku graph <dialog>``).

Mermaid text (paste it into GitHub, GitLab or https://mermaid.live) or Graphviz DOT, which the
``dot`` program turns into SVG or PNG. Each step is a node labelled with its id and the first
words of its text in the chosen language; each way on is an edge labelled with the button,
branch or outcome that takes it. The shape tells the step's kind:

=========  ====================  ==================
kind       Mermaid               Graphviz
=========  ====================  ==================
message    rectangle             box
choice     rounded rectangle     box, rounded
input      parallelogram         parallelogram
condition  rhombus               diamond
action     subroutine            box, double line
goto       flag                  cds
end        stadium               ellipse
=========  ====================  ==================
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.engine.schema import (
    ActionStep,
    ChoiceStep,
    Condition,
    ConditionStep,
    Dialog,
    EndStep,
    GotoStep,
    InputStep,
    MessageStep,
    Step,
    TextRef,
)
from bot.engine.texts import TextCatalogue

#: a node shows at most this many characters of its step's text
SHORT_TEXT = 40
#: an edge label (several buttons to one step are joined) is cut to this
EDGE_LABEL = 60


class GraphError(Exception):
    """A drawing could not be made (no Graphviz, or ``dot`` failed); the message says why."""


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str
    title: str
    text: str
    start: bool


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str


def shorten(text: str, limit: int) -> str:
    """The first line of ``text``, cut at a word to ``limit`` characters with an ellipsis."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] if " " in line[: limit - 1] else line[: limit - 1]
    return cut.rstrip(" ,.:;") + "…"


def _condition_text(condition: Condition) -> str:
    if condition.answered is not None:
        return f"{condition.key} {'answered' if condition.answered else 'not answered'}"
    if condition.equals is not None:
        return f"{condition.key} = {condition.equals}"
    if condition.in_ is not None:
        return f"{condition.key} in {', '.join(map(str, condition.in_))}"
    if condition.contains is not None:
        return f"{condition.key} has {condition.contains}"
    return f"{condition.key} has any of {', '.join(condition.contains_any or [])}"


class DialogGraph:
    """The nodes and edges of one dialog, with texts in one language."""

    def __init__(self, dialog: Dialog, texts: TextCatalogue, language: str) -> None:
        self.dialog = dialog
        self.texts = texts
        self.language = language
        self.nodes = [self._node(step) for step in dialog.steps]
        self.edges = [edge for step in dialog.steps for edge in self._edges(step)]

    def _t(self, ref: TextRef | None) -> str:
        return "" if ref is None else self.texts.resolve(ref, self.language)

    def _node(self, step: Step) -> Node:
        text = ""
        if isinstance(step, MessageStep | ChoiceStep | InputStep | EndStep):
            text = self._t(step.text)
        elif isinstance(step, ActionStep):
            text = f"⚙ {step.action}"
        elif isinstance(step, GotoStep):
            text = f"→ {step.dialog}" + (f" ({step.step})" if step.step else "")
        elif isinstance(step, ConditionStep):
            text = "?"
        return Node(
            step.id,
            step.kind,
            step.id,
            shorten(text, SHORT_TEXT),
            step.id == self.dialog.start,
        )

    def _edges(self, step: Step) -> list[Edge]:
        found: dict[str, list[str]] = {}

        def add(target: str | None, label: str) -> None:
            if target is not None:
                labels = found.setdefault(target, [])
                if label and label not in labels:
                    labels.append(label)

        if isinstance(step, MessageStep | InputStep):
            add(step.next, "")
        elif isinstance(step, ChoiceStep):
            if step.multi:
                add(step.next, self.texts.get("engine.done", self.language))
            else:
                for option in step.options:
                    add(option.next or step.next, shorten(self._t(option.label), SHORT_TEXT))
        elif isinstance(step, ConditionStep):
            for branch in step.branches:
                add(branch.next, " and ".join(_condition_text(c) for c in branch.when))
            add(step.default, "else")
        elif isinstance(step, ActionStep):
            for outcome, target in step.outcomes.items():
                add(target, outcome)
            add(step.next, "")
        return [
            Edge(step.id, target, shorten(" / ".join(labels), EDGE_LABEL))
            for target, labels in found.items()
        ]


# --- Mermaid -----------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "message": ('["', '"]'),
    "choice": ('("', '")'),
    "input": ('[/"', '"/]'),
    "condition": ('{"', '"}'),
    "action": ('[["', '"]]'),
    "goto": ('>"', '"]'),
    "end": ('(["', '"])'),
}


def _mermaid_text(text: str) -> str:
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _mermaid_id(step_id: str) -> str:
    # a prefix, so that ids such as 'end' or 'graph' are never taken for Mermaid keywords
    return f"s_{step_id}"


def to_mermaid(graph: DialogGraph) -> str:
    lines = [
        "flowchart TD",
        f"    %% dialog {graph.dialog.id}, texts in {graph.language}",
    ]
    for node in graph.nodes:
        opening, closing = _MERMAID_SHAPES[node.kind]
        title = ("▶ " if node.start else "") + node.title
        label = _mermaid_text(title) + (f"<br/>{_mermaid_text(node.text)}" if node.text else "")
        lines.append(f"    {_mermaid_id(node.id)}{opening}{label}{closing}")
    for edge in graph.edges:
        arrow = f' -->|"{_mermaid_text(edge.label)}"| ' if edge.label else " --> "
        lines.append(f"    {_mermaid_id(edge.source)}{arrow}{_mermaid_id(edge.target)}")
    return "\n".join(lines) + "\n"


# --- Graphviz ----------------------------------------------------------------------------------

_DOT_SHAPES = {
    "message": "shape=box",
    "choice": 'shape=box, style="rounded"',
    "input": "shape=parallelogram",
    "condition": "shape=diamond",
    "action": "shape=box, peripheries=2",
    "goto": "shape=cds",
    "end": "shape=ellipse",
}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(graph: DialogGraph) -> str:
    lines = [
        f'digraph "{_dot_text(graph.dialog.id)}" {{',
        "    rankdir=TB;",
        '    node [fontname="Helvetica", fontsize=11];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.nodes:
        label = _dot_text(node.title) + (f"\\n{_dot_text(node.text)}" if node.text else "")
        bold = ", penwidth=2" if node.start else ""
        lines.append(f'    "{node.id}" [label="{label}", {_DOT_SHAPES[node.kind]}{bold}];')
    for edge in graph.edges:
        label = f' [label="{_dot_text(edge.label)}"]' if edge.label else ""
        lines.append(f'    "{edge.source}" -> "{edge.target}"{label};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, fmt: str, output: Path, *, dot: str | None = None) -> None:
    """Write ``dot_source`` drawn as ``fmt`` (svg or png) to ``output`` with Graphviz."""
    program = dot or shutil.which("dot")
    if program is None:
        raise GraphError(
            "Graphviz is not installed (the 'dot' program was not found). Install it "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz), or use "
            "--format mermaid and paste the text into https://mermaid.live"
        )
    try:
        result = subprocess.run(
            [program, f"-T{fmt}", "-o", str(output)],
            input=dot_source.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphError(f"Graphviz failed: {exc}") from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip() or f"exit code {result.returncode}"
        raise GraphError(f"Graphviz failed: {message}")
