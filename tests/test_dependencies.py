"""The lock files agree with pyproject.toml, and CI and the image install from them.

``requirements.lock`` (every extra: what CI and developers get) and ``requirements-deploy.lock``
(the bot with its PostgreSQL and Redis drivers: what the image gets, at the same versions) are
made by ``make lock`` (docs/DEPLOY.md). A requirement added to pyproject.toml without
``make lock``, a lock edited by hand, or an install step that stops using the lock fails here.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import requires, version
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: the Python the locks are made for (make lock: --python-version 3.11)
LOCKED_FOR = {"python_version": "3.11", "python_full_version": "3.11.7"}


def pins(name: str) -> dict[str, list[tuple[Version, Marker | None, int]]]:
    """name -> [(version, marker, number of hashes)] of a lock file (``--universal`` may pin
    a package twice, for different Pythons)."""
    found: dict[str, list[tuple[Version, Marker | None, int]]] = {}
    text = (ROOT / name).read_text(encoding="utf-8")
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.split(" \\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        requirement = Requirement(head)
        [spec] = requirement.specifier
        assert spec.operator == "==", head
        found.setdefault(canonicalize_name(requirement.name), []).append(
            (Version(spec.version), requirement.marker, block.count("--hash=sha256:"))
        )
    return found


def locked_version(lock: dict[str, list[tuple[Version, Marker | None, int]]], name: str) -> Version:
    """The version the lock gives on Linux with Python 3.11."""
    environment = {**LOCKED_FOR, "sys_platform": "linux"}
    [version] = [
        v
        for v, marker, _ in lock[canonicalize_name(name)]
        if marker is None or marker.evaluate(environment)
    ]
    return version


def requirements(*extras: str) -> list[Requirement]:
    listed = list(PROJECT["dependencies"])
    for extra in extras:
        listed += PROJECT["optional-dependencies"][extra]
    return [Requirement(r) for r in listed]


@pytest.mark.parametrize(
    ("lock_file", "extras"),
    [("requirements.lock", ("dev", "scale", "extras")), ("requirements-deploy.lock", ("scale",))],
)
def test_every_requirement_is_locked_within_its_bounds_with_hashes(
    lock_file: str, extras: tuple[str, ...]
) -> None:
    lock = pins(lock_file)
    for requirement in requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is not in {lock_file}: run `make lock`"
        version = locked_version(lock, name)
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock_file} has {name}=={version}, pyproject.toml asks {requirement}: run `make lock`"
        )
    assert all(hashes > 0 for entries in lock.values() for *_, hashes in entries)


def test_the_deploy_lock_is_the_ci_lock_less_the_tools() -> None:
    full, deploy = pins("requirements.lock"), pins("requirements-deploy.lock")
    for name, entries in deploy.items():
        assert name in full, name
        assert {v for v, *_ in entries} <= {v for v, *_ in full[name]}, name
    assert "pytest" not in deploy
    assert "mypy" not in deploy


def test_ci_and_the_image_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    assert "make install" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-deploy.lock" in dockerfile
    assert "--no-deps" in dockerfile


def test_redis_is_one_the_aiogram_storage_was_released_for() -> None:
    """aiogram's Redis storage declares the redis versions it supports in its ``redis`` extra:
    the ``scale`` extra asks for that extra (so pip keeps to it), and the installed and the
    locked redis are within it."""
    assert "aiogram[redis]" in PROJECT["optional-dependencies"]["scale"]
    declared = [
        Requirement(r)
        for r in requires("aiogram") or []
        if r.startswith("redis") and "extra == " in r and '"redis"' in r.replace("'", '"')
    ]
    assert declared, "aiogram no longer declares a redis extra: check its Redis storage"
    [theirs] = declared
    assert theirs.specifier.contains(version("redis")), (version("redis"), theirs)
    if version("aiogram") == str(locked_version(pins("requirements.lock"), "aiogram")):
        locked = locked_version(pins("requirements.lock"), "redis")
        assert theirs.specifier.contains(locked), (locked, theirs)
