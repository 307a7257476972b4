"""``urapolku graph DIALOG``: a dialog as a flowchart (Mermaid or DOT text, SVG or PNG)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import EXIT_USAGE
from bot.config import Settings
from bot.content.graph import DialogGraph, GraphError, render, to_dot, to_mermaid
from bot.content.source import suggest
from bot.engine.loader import load_dialogs
from bot.engine.schema import Dialog, step_texts
from bot.engine.texts import load_texts_collecting
from bot.engine.variants import apply_text_overrides


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("graph", help="draw a dialog as a flowchart")
    parser.add_argument("dialog", help="the dialog id, e.g. career_plan")
    parser.add_argument("--lang", default=None, help="language of the texts (default: fi)")
    parser.add_argument(
        "--format",
        choices=["mermaid", "dot", "svg", "png"],
        default="mermaid",
        help="mermaid or dot text, or a picture drawn by Graphviz (svg, png: needs -o)",
    )
    parser.add_argument("-o", "--output", help="write to this file instead of the screen")
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    dialogs, problems = load_dialogs(settings.dialogs_dir)
    texts, _ = load_texts_collecting(settings.texts_dir, settings.default_language)
    apply_text_overrides(dialogs, texts)
    dialog = dialogs.get(args.dialog)
    if dialog is None:
        own = [p for p in problems if Path(p.file).stem == args.dialog]
        if own:
            print(f"urapolku: the dialog '{args.dialog}' has errors:", file=sys.stderr)
            for problem in own:
                print(f"  {problem}", file=sys.stderr)
        else:
            hint = suggest(args.dialog, dialogs.dialogs)
            known = ", ".join(sorted(dialogs.dialogs))
            print(
                f"urapolku: there is no dialog '{args.dialog}'"
                + (f" ({hint})" if hint else f"; the dialogs are: {known}"),
                file=sys.stderr,
            )
        return EXIT_USAGE
    language = args.lang or settings.default_language
    if language not in texts.texts and not any(language in d for d in _inline_languages(dialog)):
        print(
            f"urapolku: no texts in '{language}'; known: {', '.join(texts.languages)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    graph = DialogGraph(dialog, texts, language)
    if args.format in {"svg", "png"}:
        if not args.output:
            print(f"urapolku: --format {args.format} needs -o FILE", file=sys.stderr)
            return EXIT_USAGE
        try:
            render(to_dot(graph), args.format, Path(args.output))
        except GraphError as exc:
            print(f"urapolku: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(args.output)
        return 0
    text = to_mermaid(graph) if args.format == "mermaid" else to_dot(graph)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        sys.stdout.write(text)
    return 0


def _inline_languages(dialog: Dialog) -> list[dict[str, str]]:
    return [ref for step in dialog.steps for _, ref in step_texts(step) if isinstance(ref, dict)]
