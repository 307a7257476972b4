"""SQLite's speed layer: the one place in db/ that relies on private internals of SQLAlchemy,
aiosqlite and sqlite3.

* :mod:`.connection`: pragmas and ``BEGIN IMMEDIATE`` on the engine's connections;
* :mod:`.adapter`: a leaner aiosqlite DB-API for SQLAlchemy (fewer trips to aiosqlite's thread);
* :mod:`.fastlane`: the hot path's statements run on the sqlite3 connection directly.

:data:`WRITTEN_FOR` says which library versions this code was written for; ``pyproject.toml``
pins the same bounds and a test fails when the installed versions leave them.
"""

from __future__ import annotations

#: distribution name -> (lowest version, first version NOT supported): the releases whose
#: internals adapter.py and fastlane.py were written against. SQLAlchemy 2.0.x lacks
#: ``AsyncAdapt_aiosqlite_connection._execute_mutex`` (the lean adapter then falls back to the
#: stock one, and the hot path's tests fail), and before 2.0.38 a SQLite file gets NullPool,
#: which refuses db/engine.py's pool size: both found by installing the lowest versions.
WRITTEN_FOR: dict[str, tuple[str, str]] = {
    "SQLAlchemy": ("2.1", "2.2"),
    "aiosqlite": ("0.20", "0.23"),
}
