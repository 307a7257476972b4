"""``urapolku check``: every lint rule has a broken fixture with its message and its line.

Each folder in ``tests/fixtures/broken/`` holds the files of one broken case; they are laid
over a copy of the good fixture content (``tests/fixtures/dialogs`` and ``content``), so each
case shows one mistake as an editor would make it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.content.snapshot import check_content, check_files
from bot.content.source import Severity
from bot.engine.loader import load_dialogs
from bot.engine.schema import ChoiceStep, MessageStep
from bot.engine.texts import load_texts
from bot.engine.variants import apply_text_overrides, needs_variant
from bot.features import content_sections
from tests.support import FIXTURES, ROOT, registry_with_echo

BROKEN = FIXTURES / "broken"


def lay_out(case: str, root: Path) -> tuple[Path, Path]:
    """The good fixture content with the case's files on top, under ``root``."""
    shutil.copytree(FIXTURES / "dialogs", root / "dialogs")
    shutil.copytree(FIXTURES / "content", root / "content")
    if (BROKEN / case / "content" / "catalogue").is_dir():
        # the catalogue needs the names of its tags in every language
        for path in (ROOT / "content" / "texts").glob("catalogue.*.yaml"):
            shutil.copy(path, root / "content" / "texts")
    shutil.copytree(BROKEN / case, root, dirs_exist_ok=True)
    return root / "dialogs", root / "content"


def check_case(case: str, root: Path) -> tuple[bool, list[str]]:
    dialogs, content = lay_out(case, root)
    loaded, problems = check_content(
        dialogs,
        content,
        default_language="fi",
        actions=registry_with_echo(),
        sections=content_sections(),
    )
    return loaded is not None, [str(p).replace(f"{root}/", "") for p in problems]


# (case folder, serves anyway?, the problem as printed: file:line:column: severity: message)
CASES = [
    (
        "yaml_syntax",
        False,
        "dialogs/broken.yaml:8:12: error: YAML syntax: expected ',' or '}', but got ':'",
    ),
    (
        "unknown_field",
        False,
        "dialogs/broken.yaml:13:5: error: 'txet' is not a known field here (did you mean 'text'?)",
    ),
    (
        "bad_kind",
        False,
        "dialogs/broken.yaml:12:5: error: 'kind' cannot be 'ending'; it must be one of: message, "
        "choice, input, condition, action, goto, end (did you mean 'end'?)",
    ),
    ("missing_field", False, "dialogs/broken.yaml:11:5: error: 'text' is required here"),
    (
        "unknown_step",
        False,
        "dialogs/broken.yaml:10:5: error: unknown step 'carer_goal' (did you mean 'career_goal'?)",
    ),
    (
        "unknown_dialog",
        False,
        "dialogs/broken.yaml:13:5: error: unknown dialog 'dmeo' (did you mean 'demo'?)",
    ),
    (
        "unknown_goto_step",
        False,
        "dialogs/broken.yaml:14:5: error: the dialog 'demo' has no step 'aeg' (did you mean 'age'?)",
    ),
    (
        "unknown_action",
        False,
        "dialogs/broken.yaml:13:5: error: unknown action 'sumary' (did you mean 'summary'?)",
    ),
    (
        "unknown_text_key",
        False,
        "dialogs/broken.yaml:7:5: error: unknown text key 'menu.nothing_here'",
    ),
    (
        "duplicate_step",
        False,
        "dialogs/broken.yaml:13:5: error: the step id 'bye' is used twice "
        "(first at line 11; every step needs its own id)",
    ),
    (
        "duplicate_dialog",
        False,
        "dialogs/demo.yaml:2:1: error: the dialog id 'demo' is also used in dialogs/broken.yaml",
    ),
    (
        "duplicate_option",
        False,
        "dialogs/broken.yaml:5:5: error: option ids must be unique in a step: a",
    ),
    (
        "unreachable",
        True,
        "dialogs/broken.yaml:13:5: warning: no step leads to 'lonely' "
        "(link it from another step or remove it)",
    ),
    (
        "no_exit",
        False,
        "dialogs/broken.yaml:5:5: error: the dialog can never end from 'ask': the steps 'ask' and "
        "'again' form a loop with no exit (add a way out of the loop to an 'end' or 'goto' step)",
    ),
    (
        "missing_translation",
        True,
        "dialogs/broken.yaml:7:5: warning: no sv text (the default language is shown instead)",
    ),
    (
        "text_missing_translation",
        True,
        "content/texts/extra.fi.yaml:6: warning: the text 'extra.bye' has no en translation "
        "(add it to the en text file; until then fi is shown)",
    ),
    (
        "long_text",
        False,
        "dialogs/broken.yaml:13:5: error: the fi text is 4200 characters; Telegram allows 4096",
    ),
    (
        "text_too_long",
        False,
        "content/texts/extra.en.yaml:5: error: the en text 'extra.long' is 4160 characters; "
        "Telegram allows 4096 (split it into two texts)",
    ),
    (
        "long_button",
        True,
        "dialogs/broken.yaml:9:17: warning: the en button text is 50 characters; "
        "more than 40 is cut off on a phone",
    ),
    (
        "unknown_tag",
        True,
        "dialogs/broken.yaml:11:10: warning: 'vihdi' is not a catalogue tag for 'municipality', "
        "so recommendations ignore it (did you mean 'vihti'?)",
    ),
    (
        "unknown_kind",
        False,
        "dialogs/broken.yaml:14:12: error: unknown catalogue kind 'card_trainin' "
        "(did you mean 'card_training'?)",
    ),
    (
        "catalogue_unknown_kind",
        False,
        "content/catalogue/events.yaml:4:5: error: 'kind': unknown kind 'recruitment_evnt' "
        "(did you mean 'recruitment_event'?)",
    ),
    (
        "catalogue_past",
        True,
        "content/catalogue/events.yaml:3: warning: all dates of 'old-fair' are in the past, "
        "so nobody is shown it (add new dates, or remove the item)",
    ),
    (
        # (the variant also lacks texts, which is an error of its own: see variant_fallback)
        "override_unknown_step",
        False,
        "content/texts/variant.yaml:10: warning: 'dialog.demo.aeg.text': unknown step 'aeg' "
        "in 'demo' (did you mean 'age'?)",
    ),
    (
        "language_code_too_long",
        False,
        "content/texts/long.yaml:2:1: error: the language code 'fi-selkofi' is longer than "
        "8 characters (use a shorter one, such as fi-selko)",
    ),
    (
        # a person-facing text a language variant lacks is an error
        "variant_fallback",
        False,
        "dialogs/demo.yaml:13:5: error: no fi-selko text for demo.age.text; fi would be shown "
        "(add 'dialog.demo.age.text' to the fi-selko text file)",
    ),
]


@pytest.mark.parametrize(("case", "serves", "expected"), CASES, ids=[c[0] for c in CASES])
def test_broken_fixture(tmp_path: Path, case: str, serves: bool, expected: str) -> None:
    loaded, problems = check_case(case, tmp_path)
    assert expected in problems, "\n".join(problems)
    assert loaded is serves


def test_every_broken_fixture_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.iterdir()) == sorted(c[0] for c in CASES)


def test_good_fixtures_and_bundled_content_have_no_errors() -> None:
    for dialogs, content in (
        (FIXTURES / "dialogs", FIXTURES / "content"),
        (ROOT / "dialogs", ROOT / "content"),
    ):
        loaded, problems = check_content(
            dialogs,
            content,
            default_language="fi",
            actions=registry_with_echo(),
            sections=content_sections(),
        )
        assert loaded is not None, [str(p) for p in problems]
        assert [p for p in problems if p.severity is Severity.ERROR] == []


def test_variant_texts_replace_inline_texts_only_for_the_variant(tmp_path: Path) -> None:
    # an unfinished variant is not served (see variant_fallback); its texts are still
    # merged like this, and what it lacks would be shown in its base language
    dialogs_dir, content = lay_out("variant_fallback", tmp_path)
    texts = load_texts(content / "texts", "fi")
    dialogs, _ = load_dialogs(dialogs_dir)
    assert apply_text_overrides(dialogs, texts) == []
    hello = dialogs.step("demo", "hello")
    assert hello is not None
    assert isinstance(hello, MessageStep)
    text = hello.text
    assert texts.resolve(text, "fi-selko", {"first_name": "Aino"}) == "Hei Aino! Kiva, että tulit."
    assert texts.resolve(text, "fi", {"first_name": "Aino"}) == "Hei Aino!"
    age = dialogs.step("demo", "age")
    assert isinstance(age, ChoiceStep)
    assert texts.resolve(age.text, "fi-selko") == "Ikäryhmä?"  # falls back to fi
    assert texts.variants == ["fi-selko"]
    assert texts.names["fi-selko"] == "Selkosuomi"


def test_bundled_plain_finnish_covers_every_person_facing_text() -> None:
    loaded, problems = check_content(
        ROOT / "dialogs",
        ROOT / "content",
        default_language="fi",
        actions=registry_with_echo(),
        sections=content_sections(),
    )
    assert loaded is not None
    fallbacks = [p for p in problems if p.code == "fallback"]
    # no person-facing text falls back to standard Finnish ...
    assert [str(p) for p in fallbacks if p.severity is not Severity.INFO] == []
    # ... only texts plain-Finnish readers never see, or with no words, and the rule says so
    [note] = fallbacks
    assert "texts they never see, or with no words to change" in note.message
    assert not [p for p in problems if p.code == "override"], "every override finds its text"
    texts = loaded.texts
    fi = texts.texts["fi"]
    plain = texts.texts["fi-selko"]
    shown_in_fi = [key for key in fi if key not in plain and not key.startswith("dialog.")]
    assert "coach.card.title" in shown_in_fi  # a coach's text: not a plain-Finnish reader's
    assert "privacy.mydata.title" not in shown_in_fi
    assert all(not needs_variant(key, fi[key]) for key in shown_in_fi)


@pytest.mark.parametrize(
    ("key", "text", "needed"),
    [
        ("events.card.seated", "✅ Sinulla on paikka.", True),
        ("dialog.career_plan.situation.text", "Mikä on tilanteesi?", True),
        ("engine.answer_echo", "✔ {answer}", False),  # no words to change
        ("catalogue.when.date", "{weekday} {day}.{month}.{year}", False),
        ("catalogue.when.at", "{date} klo {time}", True),  # "klo" is a word (an abbreviation)
        ("coach.card.title", "Pyyntö #{id}", False),  # the coaches' group
        ("events.coach.signup", "🎟 Uusi ilmoittautuminen: {title}", False),
        ("reports.title", "Raportti", False),
        ("commands.menu", "Päävalikko", False),  # Telegram's menu: never in a variant
        ("events.coachmark", "Valmentaja", True),  # a namespace is a whole part of the key
    ],
)
def test_which_texts_a_variant_must_have(key: str, text: str, needed: bool) -> None:
    assert needs_variant(key, text) is needed


# --- files named on the command line ------------------------------------------------------------


def test_named_file_inside_shows_only_its_problems(tmp_path: Path) -> None:
    dialogs, content = lay_out("unknown_step", tmp_path)
    (dialogs / "other.yaml").write_text(
        (BROKEN / "unknown_action" / "dialogs" / "broken.yaml")
        .read_text()
        .replace("id: broken", "id: other"),
        encoding="utf-8",
    )
    named = dialogs / "broken.yaml"
    problems = check_files(
        [named],
        dialogs,
        content,
        default_language="fi",
        actions=registry_with_echo(),
        sections=content_sections(),
    )
    assert {p.file for p in problems} == {str(named)}
    assert [(p.line, p.message) for p in problems if p.severity is Severity.ERROR] == [
        (10, "unknown step 'carer_goal'")
    ]


def test_named_draft_outside_is_checked_in_place_of_its_namesake(tmp_path: Path) -> None:
    dialogs, content = lay_out("unreachable", tmp_path / "live")
    draft = tmp_path / "draft" / "demo.yaml"
    draft.parent.mkdir()
    draft.write_text(
        (dialogs / "demo.yaml").read_text().replace("next: by_age", "next: by_aeg"),
        encoding="utf-8",
    )
    problems = check_files(
        [draft, tmp_path / "nope.yaml"],
        dialogs,
        content,
        default_language="fi",
        actions=registry_with_echo(),
        sections=content_sections(),
    )
    assert [str(p) for p in problems][:3] == [
        f"{tmp_path}/nope.yaml: error: no such file",
        f"{draft}:18:5: error: unknown step 'by_aeg' (did you mean 'by_age'?)",
        f"{draft}:19:5: warning: no step leads to 'by_age' (link it from another step or remove it)",
    ]
    assert {p.file for p in problems[1:]} == {str(draft)}


# --- the command itself --------------------------------------------------------------------------


@dataclass
class Ran:
    returncode: int
    stdout: str


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """``urapolku ARGS`` in this process (a new process would spend seconds importing)."""
    from bot.cli import main

    def run(*args: str, env: dict[str, str]) -> Ran:
        monkeypatch.setenv("BOT_TOKEN", "")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(list(args))
        return Ran(code, capsys.readouterr().out)

    return run


def bundled_with(case: str, root: Path) -> dict[str, str]:
    """The bundled content with the dialogs of a broken case added (the CLI's own actions)."""
    shutil.copytree(ROOT / "dialogs", root / "dialogs")
    shutil.copytree(ROOT / "content", root / "content")
    shutil.copytree(BROKEN / case, root, dirs_exist_ok=True)
    return {"DIALOGS_DIR": str(root / "dialogs"), "CONTENT_DIR": str(root / "content")}


def test_cli_exit_codes_json_and_no_colour_when_piped(
    tmp_path: Path, run_cli: Callable[..., Ran]
) -> None:
    env = bundled_with("unreachable", tmp_path / "warn")
    # the bundled content has plain Finnish, which every dialog needs
    (Path(env["CONTENT_DIR"]) / "texts" / "broken.selko.yaml").write_text(
        "version: 1\nlanguage: fi-selko\ntexts:\n  dialog:\n    broken:\n      ask:\n"
        '        text: "Valitse."\n',
        encoding="utf-8",
    )
    result = run_cli("check", env=env)
    assert result.returncode == 0, result.stdout  # warnings alone
    assert "\033[" not in result.stdout
    assert f"{tmp_path}/warn/dialogs/broken.yaml:13:5: warning: no step leads to 'lonely'" in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1].startswith("0 error(s), 1 warning(s), ")

    env = bundled_with("unknown_step", tmp_path / "err")
    dialogs = Path(env["DIALOGS_DIR"])
    result = run_cli("check", "--format", "json", env=env)
    assert result.returncode == 1
    found = json.loads(result.stdout)
    assert {
        "file": str(dialogs / "broken.yaml"),
        "line": 10,
        "column": 5,
        "severity": "error",
        "code": "reference",
        "message": "unknown step 'carer_goal'",
        "hint": "did you mean 'career_goal'?",
    } in found

    result = run_cli("check", str(dialogs / "career_plan.yaml"), env=env)
    assert (result.returncode, result.stdout) == (0, "0 error(s), 0 warning(s), 0 note(s)\n")


def test_colour_only_on_a_terminal_without_no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.check import painter
    from bot.content.source import Problem

    class Tty:
        def isatty(self) -> bool:
            return True

    problem = Problem("a.yaml", 3, 5, "unknown step 'x'")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert painter(Tty())(problem) == "a.yaml:3:5: \033[1;31merror\033[0m: unknown step 'x'"
    monkeypatch.setenv("NO_COLOR", "1")
    assert painter(Tty())(problem) == "a.yaml:3:5: error: unknown step 'x'"
    monkeypatch.delenv("NO_COLOR")
    assert painter(object())(problem) == "a.yaml:3:5: error: unknown step 'x'"
