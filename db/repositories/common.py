"""What every repository shares: the dialect of a session, an INSERT with ON CONFLICT on
SQLite and PostgreSQL alike, and the number of rows a statement touched."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def rowcount(result: Any) -> int:
    """Rows touched by an INSERT/UPDATE/DELETE (a CursorResult attribute)."""
    return int(getattr(result, "rowcount", 0) or 0)


def dialect_name(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    return insert_for(dialect_name(session), table)


def insert_for(dialect: str, table: Any) -> Any:
    """INSERT with ON CONFLICT for ``dialect``."""
    if dialect == "postgresql":
        # imported where used: about 2 MB that a SQLite deployment does not need
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)
