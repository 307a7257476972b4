"""The arrows between the rooms of ``bot/`` and ``db/``, read from the source with ``ast``.

Every import counts, also one inside a function or under ``if TYPE_CHECKING``: no module may
import itself through others (a circle), the pure rooms (``engine``, ``catalogue``) use no
Telegram or SQL library, ``content``, ``engine`` and ``catalogue`` know no feature, a feature
uses another only through its ``api`` module, and ``db`` knows nothing of the bot.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "db")


@dataclass
class Module:
    name: str
    path: Path
    #: the modules of bot/ and db/ this one imports
    internal: set[str] = field(default_factory=set)
    #: the top-level names of the other packages it imports (aiogram, sqlalchemy, …)
    external: set[str] = field(default_factory=set)


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(module: Module) -> Iterator[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import statement in the file."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target, [alias.name for alias in node.names]


@cache
def graph() -> dict[str, Module]:
    modules = {
        _name(path): Module(_name(path), path)
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for module in modules.values():
        for target, names in _imports(module):
            if target.split(".")[0] not in PACKAGES:
                module.external.add(target.split(".")[0])
                continue
            # ``from pkg import submodule`` imports the submodule, else a name of ``pkg``
            found = {f"{target}.{n}" for n in names if f"{target}.{n}" in modules}
            if not found or len(found) < len(names):
                found.add(known(target) or target)
            module.internal.update(found - {module.name})
    return modules


def circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _in(name: str, *rooms: str) -> bool:
    return any(name == room or name.startswith(room + ".") for room in rooms)


def _feature(name: str) -> str | None:
    """``bot.features.handoff.service`` → ``handoff``; None outside a feature."""
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["bot", "features"] else None


def test_the_graph_sees_the_modules_and_their_imports() -> None:
    modules = graph()
    assert "bot.content.snapshot" in modules
    assert "bot.engine.loader" in modules["bot.content.snapshot"].internal
    assert "aiogram" in modules["bot.factory"].external


def test_no_module_imports_itself_through_others() -> None:
    found = circles({name: module.internal for name, module in graph().items()})
    assert [sorted(circle) for circle in found] == [], "import circles"


def test_content_engine_and_catalogue_know_no_layer_above_them() -> None:
    wrong = [
        (name, target)
        for name, module in graph().items()
        if _in(name, "bot.content", "bot.engine", "bot.catalogue")
        for target in module.internal
        if _in(target, "bot.features", "bot.telegram", "bot.runtime", "bot.cli", "bot.factory")
        or target == "bot.app"
    ]
    assert wrong == []


def test_content_engine_and_catalogue_use_no_telegram_or_sql() -> None:
    wrong = [
        (name, target)
        for name, module in graph().items()
        if _in(name, "bot.content", "bot.engine", "bot.catalogue")
        for target in module.external | {t for t in module.internal if _in(t, "db")}
        if target in ("aiogram", "sqlalchemy", "aiosqlite") or _in(target, "db")
    ]
    assert wrong == []


def test_db_knows_nothing_of_the_bot_or_telegram() -> None:
    wrong = [
        (name, target)
        for name, module in graph().items()
        if _in(name, "db")
        for target in module.external | {t for t in module.internal if _in(t, "bot")}
        if target == "aiogram" or _in(target, "bot")
    ]
    assert wrong == []


def test_features_use_each_other_only_through_their_api() -> None:
    """``bot.features`` itself assembles them all; inside a feature, another feature is
    reached only through its ``api`` module."""
    wrong = [
        (name, target)
        for name, module in graph().items()
        if _feature(name) is not None
        for target in module.internal
        if _feature(target) not in (None, _feature(name))
        and target != f"bot.features.{_feature(target)}.api"
    ]
    assert wrong == []


def test_the_arrows_between_features_go_one_way() -> None:
    edges: dict[str, set[str]] = {}
    for name, module in graph().items():
        feature = _feature(name)
        if feature is None:
            continue
        for target in module.internal:
            other = _feature(target)
            if other is not None and other != feature:
                edges.setdefault(feature, set()).add(other)
    assert circles(edges) == [], edges


def test_the_command_line_loads_no_heavy_or_optional_package_before_a_command_runs() -> None:
    """`urapolku --help` stays quick, a bot without the scale extra still starts, and Alembic
    (about 25 MB that is never given back) stays out of the serving process."""
    code = (
        "import sys, bot.cli; "
        "print(' '.join(m for m in ('alembic', 'aiogram', 'redis', 'matplotlib', 'qrcode') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
