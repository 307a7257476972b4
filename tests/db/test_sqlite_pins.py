"""db/sqlite/ builds on private internals of SQLAlchemy and aiosqlite: the installed versions
must be those it was written for (``db.sqlite.WRITTEN_FOR``), and pyproject.toml must pin the
same bounds, so that an upgrade past them is a decision (re-check the internals, then move the
bounds) and not an accident."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from db.sqlite import WRITTEN_FOR

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("distribution", sorted(WRITTEN_FOR))
def test_the_installed_version_is_one_the_fenced_code_was_written_for(distribution: str) -> None:
    lowest, first_unsupported = WRITTEN_FOR[distribution]
    installed = Version(version(distribution))
    assert Version(lowest) <= installed < Version(first_unsupported), (
        f"{distribution} {installed} is outside [{lowest}, {first_unsupported}): check "
        "db/sqlite/ against its internals, then move WRITTEN_FOR and pyproject.toml"
    )


@pytest.mark.parametrize("distribution", sorted(WRITTEN_FOR))
def test_pyproject_pins_the_same_bounds(distribution: str) -> None:
    lowest, first_unsupported = WRITTEN_FOR[distribution]
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    (requirement,) = (
        r for r in map(Requirement, dependencies) if r.name.lower() == distribution.lower()
    )
    assert {str(s) for s in requirement.specifier} == {f">={lowest}", f"<{first_unsupported}"}
