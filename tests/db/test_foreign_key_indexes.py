"""Every foreign key has an index that starts with its column(s): PostgreSQL does not create
one by itself, and without it each delete of a referenced row (and each ``ON DELETE`` action)
scans the referencing table. Checked on the models, and on a migrated database of both
dialects (the migration adds the indexes the models declare)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Table, UniqueConstraint, inspect
from sqlalchemy.engine import Connection

from db import Database
from db.migrate import alembic_config, current_revision, head_revision, upgrade
from db.models import Base


def _leading(table: Table) -> list[tuple[str, ...]]:
    """Column tuples an index can serve from the left: the primary key, indexes, uniques."""
    found = [tuple(c.name for c in table.primary_key.columns)]
    found += [tuple(c.name for c in index.columns) for index in table.indexes]
    found += [
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    return found


def _covered(columns: tuple[str, ...], indexes: list[tuple[str, ...]]) -> bool:
    return any(index[: len(columns)] == columns for index in indexes)


def test_every_foreign_key_leads_an_index() -> None:
    missing = [
        f"{table.name}.{'+'.join(c.name for c in fk.columns)}"
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_key_constraints
        if not _covered(tuple(c.name for c in fk.columns), _leading(table))
    ]
    assert missing == []
    # the check sees the ones the issue named (a check that cannot fail proves nothing)
    relay = Base.metadata.tables["relay_messages"]
    without = [i for i in _leading(relay) if i != ("coach_id",)]
    assert not _covered(("coach_id",), without)


def test_the_check_fails_on_an_unindexed_foreign_key() -> None:
    table = Base.metadata.tables["event_attendance"]
    others = [i for i in _leading(table) if i[:1] != ("marked_by",)]
    assert not _covered(("marked_by",), others)
    assert _covered(("marked_by",), _leading(table))


async def test_the_database_has_the_indexes(database: Database) -> None:
    def reflected(connection: Connection) -> list[str]:
        inspector = inspect(connection)
        missing = []
        for table in Base.metadata.sorted_tables:
            leading = [tuple(inspector.get_pk_constraint(table.name)["constrained_columns"])]
            leading += [tuple(i["column_names"]) for i in inspector.get_indexes(table.name)]
            leading += [
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)
            ]
            for fk in inspector.get_foreign_keys(table.name):
                columns = tuple(fk["constrained_columns"])
                if not _covered(columns, leading):  # type: ignore[arg-type]
                    missing.append(f"{table.name}.{'+'.join(columns)}")
        return missing

    await upgrade(database)
    async with database.engine.connect() as connection:
        assert await connection.run_sync(reflected) == []


async def test_the_index_migration_goes_down_and_up(database: Database) -> None:
    def down(connection: Connection) -> list[str]:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
        return sorted(i["name"] or "" for i in inspect(connection).get_indexes("relay_messages"))

    async with database.engine.begin() as connection:
        assert "ix_relay_messages_coach_id" not in await connection.run_sync(down)
    await upgrade(database)
    assert await current_revision(database) == head_revision()
