"""Encryption at rest and the audit log.

* Columns that hold what people write become encrypted text (Fernet tokens, see db/types.py):
  ``answers.private_value`` (new; typed answers), ``conversation_states.data``,
  ``handoff_requests.first_name/details/phone/shared_answers``, ``relay_messages.text``,
  ``outbox.payload``. ``answers.value`` stays plain but becomes nullable (choice answers only).
* Existing rows are encrypted here, in the same transaction, with the newest configured key
  (the bot configures ``DATA_KEY`` before it migrates). A database with personal rows and no key
  configured refuses to migrate. The migration cannot tell typed answers from choices (that is
  in the dialogs, which the database layer does not read), so every existing answer moves to
  ``private_value``; ``urapolku rekey`` moves choice answers back to plain ``value``.
* ``audit_log`` is created.

On SQLite, ``handoff_requests`` is not rebuilt by batch mode: dropping the old copy of a parent
table with foreign keys on would cascade-delete its outbox, relay and link rows. Its columns are
retyped by add / copy / drop / rename instead (SQLite >= 3.35).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import db.models
from db.types import decrypt, encrypt

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, primary key column, column) of every encrypted column that existed before
ENCRYPTED = (
    ("conversation_states", "key", "data"),
    ("handoff_requests", "id", "first_name"),
    ("handoff_requests", "id", "details"),
    ("handoff_requests", "id", "phone"),
    ("handoff_requests", "id", "shared_answers"),
    ("relay_messages", "id", "text"),
    ("outbox", "id", "payload"),
)
#: handoff_requests columns whose type changes (to TEXT), with their old types
RETYPED = (
    ("first_name", sa.String(length=64)),
    ("phone", sa.String(length=32)),
    ("shared_answers", sa.JSON()),
)
JSON_COLUMNS = frozenset({"shared_answers", "payload"})


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _retype_request_columns(new_type: Callable[[], sa.types.TypeEngine[Any]], old: bool) -> None:
    """handoff_requests.first_name/phone/shared_answers to TEXT (or back, ``old``)."""
    if _is_sqlite():
        for name, old_type in RETYPED:
            target = old_type if old else new_type()
            op.add_column("handoff_requests", sa.Column(f"{name}__new", target, nullable=True))
            op.execute(f"UPDATE handoff_requests SET {name}__new = {name}")
            op.execute(f"ALTER TABLE handoff_requests DROP COLUMN {name}")
            op.execute(f"ALTER TABLE handoff_requests RENAME COLUMN {name}__new TO {name}")
        return
    for name, old_type in RETYPED:
        if old:
            using = f"{name}::json" if name == "shared_answers" else None
            op.alter_column(
                "handoff_requests",
                name,
                type_=old_type,
                existing_type=sa.Text(),
                postgresql_using=using,
            )
        else:
            op.alter_column(
                "handoff_requests",
                name,
                type_=new_type(),
                existing_type=old_type,
                postgresql_using=f"{name}::text",
            )


def _rewrite(table: str, key: str, column: str, change: Callable[[str], str | None]) -> None:
    """Apply ``change`` to every non-NULL value of ``table.column``, row by row."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
    ).all()
    for row_key, value in rows:
        bind.execute(
            sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :key"),
            {"value": change(str(value)), "key": row_key},
        )


def _encrypt_value(column: str) -> Callable[[str], str | None]:
    def change(value: str) -> str | None:
        if column in JSON_COLUMNS:
            if value.strip() == "null" and column == "shared_answers":  # sa.JSON's None
                return None
            value = json.dumps(json.loads(value), ensure_ascii=False, separators=(",", ":"))
        return encrypt(value)

    return change


def upgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_value", sa.Text(), nullable=True))
        batch_op.alter_column("value", existing_type=sa.Text(), nullable=True)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "payload",
            type_=sa.Text(),
            existing_type=sa.JSON(),
            existing_nullable=False,
            postgresql_using="payload::text",
        )
    _retype_request_columns(sa.Text, old=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_actor_at", ["actor_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_request_id"), ["request_id"], unique=False)

    # -- existing personal data: encrypted now (with no key configured this raises, and the
    #    whole migration is rolled back) --
    bind = op.get_bind()
    answers = bind.execute(sa.text("SELECT id, value FROM answers WHERE value IS NOT NULL")).all()
    for answer_id, value in answers:
        bind.execute(
            sa.text("UPDATE answers SET private_value = :secret, value = NULL WHERE id = :id"),
            {"secret": encrypt(str(value)), "id": answer_id},
        )
    for table, key, column in ENCRYPTED:
        _rewrite(table, key, column, _encrypt_value(column))


def downgrade() -> None:
    # -- back to plain text (needs the key the values were written with) --
    bind = op.get_bind()
    for table, key, column in ENCRYPTED:
        _rewrite(table, key, column, decrypt)
    secrets = bind.execute(
        sa.text("SELECT id, private_value FROM answers WHERE private_value IS NOT NULL")
    ).all()
    for answer_id, token in secrets:
        bind.execute(
            sa.text("UPDATE answers SET value = :value WHERE id = :id"),
            {"value": decrypt(str(token)), "id": answer_id},
        )
    bind.execute(sa.text("DELETE FROM answers WHERE value IS NULL"))
    bind.execute(sa.text("UPDATE outbox SET payload = '{}' WHERE payload IS NULL"))

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_request_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index("ix_audit_log_actor_at")
    op.drop_table("audit_log")

    _retype_request_columns(sa.Text, old=True)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "payload",
            type_=sa.JSON(),
            existing_type=sa.Text(),
            existing_nullable=False,
            postgresql_using="payload::json",
        )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.alter_column("value", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("private_value")
