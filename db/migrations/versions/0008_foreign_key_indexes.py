"""An index on every foreign key column that had none.

PostgreSQL (unlike some databases) does not index a referencing column by itself: deleting
or re-keying a coach then scans ``event_attendance`` and ``relay_messages`` whole to apply
``ON DELETE SET NULL``, and lookups by coach do the same. SQLite gains the same indexes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_event_attendance_marked_by"), "event_attendance", ["marked_by"], unique=False
    )
    op.create_index(
        op.f("ix_relay_messages_coach_id"), "relay_messages", ["coach_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_relay_messages_coach_id"), table_name="relay_messages")
    op.drop_index(op.f("ix_event_attendance_marked_by"), table_name="event_attendance")
