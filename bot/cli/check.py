"""``urapolku check``: the dialogs and content checked as a whole; ``file:line`` problems.

Exit code 0 when there are no errors (warnings and notes alone are fine), else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.catalogue.recommend.testset import FILE_NAME as TEST_SET_FILE
from bot.catalogue.recommend.testset import load_test_set, run_test_set
from bot.config import Settings
from bot.content.snapshot import check_content, check_files
from bot.content.source import ContentError, Problem, Severity


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="check dialogs and content files (exit code 1 on errors)",
        description="Check DIALOGS_DIR and CONTENT_DIR as a whole. Named files are checked "
        "together with the rest and only their problems are shown; a file outside those "
        "folders is checked as if it replaced the file of the same name (a draft).",
    )
    parser.add_argument("files", nargs="*", help="only these files (default: everything)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--recommend",
        action="store_true",
        help="also run the recommendation test set (CONTENT_DIR/recommend_tests.yaml)",
    )
    parser.set_defaults(func=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    # imported here: the actions load aiogram, which at the top makes `urapolku --help` take
    # 5 s instead of 1 s (measured)
    from bot.features import build_registry, content_sections

    files: list[str] = args.files
    if files:
        problems = check_files(
            [Path(f) for f in files],
            settings.dialogs_dir,
            settings.content_dir,
            default_language=settings.default_language,
            actions=build_registry(),
            sections=content_sections(),
        )
    else:
        content, problems = check_content(
            settings.dialogs_dir,
            settings.content_dir,
            default_language=settings.default_language,
            actions=build_registry(),
            sections=content_sections(),
        )
        if getattr(args, "recommend", False):
            problems += recommend_problems(settings.content_dir, content)
    counts = dict.fromkeys(Severity, 0)
    for problem in problems:
        counts[problem.severity] += 1
    if args.format == "json":
        print(json.dumps([p.as_dict() for p in problems], ensure_ascii=False, indent=2))
    else:
        paint = painter(sys.stdout)
        for problem in problems:
            print(paint(problem))
        print(
            f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
            f"{counts[Severity.INFO]} note(s)"
        )
    return 1 if counts[Severity.ERROR] else 0


def recommend_problems(content_dir: Path, content: Any) -> list[Problem]:
    """The recommendation test set run over the checked catalogue (``--recommend``)."""
    path = content_dir / TEST_SET_FILE
    if content is None or content.catalogue is None:
        return [
            Problem(
                str(path),
                None,
                None,
                "the recommendation test set was not run: fix the errors above first",
                severity=Severity.WARNING,
                code="recommend",
            )
        ]
    if not path.is_file():
        return [Problem(str(path), None, None, "no recommendation test set", code="recommend")]
    try:
        tests = load_test_set(path, str(path))
    except ContentError as exc:
        return list(exc.problems)
    return run_test_set(tests, content.catalogue)


_COLOURS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}


def painter(stream: object) -> Callable[[Problem], str]:
    """Problems as text, the severity in colour only on a terminal and without NO_COLOR."""
    isatty = getattr(stream, "isatty", None)
    colour = (
        callable(isatty)
        and bool(isatty())
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )
    if not colour:
        return str

    def paint(problem: Problem) -> str:
        text = str(problem)
        word = f": {problem.severity.value}: "
        return text.replace(
            word, f": {_COLOURS[problem.severity]}{problem.severity.value}\033[0m: ", 1
        )

    return paint
