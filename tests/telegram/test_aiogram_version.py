"""The installed aiogram is one that bot/telegram/session.py (aiogram's internals, fenced) was
written for, and pyproject.toml pins the same versions."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from bot.telegram.session import AIOGRAM_VERSIONS

ROOT = Path(__file__).resolve().parents[2]


def dotted(numbers: tuple[int, int]) -> str:
    return ".".join(map(str, numbers))


def test_the_installed_aiogram_is_one_the_fenced_code_was_written_for() -> None:
    installed = version("aiogram")
    match = re.match(r"(\d+)\.(\d+)", installed)
    assert match is not None, installed
    minor = (int(match[1]), int(match[2]))
    low, high = AIOGRAM_VERSIONS
    assert low <= minor < high, (
        f"aiogram {installed} is installed; bot/telegram/session.py relies on aiogram's "
        f"internals and was written for >={dotted(low)},<{dotted(high)}: check them against "
        "the new version, then move AIOGRAM_VERSIONS and the pin in pyproject.toml"
    )


def test_pyproject_pins_the_versions_the_fenced_code_was_written_for() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d for d in project["dependencies"] if re.match(r"aiogram\b", d)]
    low, high = AIOGRAM_VERSIONS
    assert pins == [f"aiogram>={dotted(low)},<{dotted(high)}"]
