"""Events and trainings: sign-ups, waiting lists, reminders, dismissals, poster links.

Generated against a database at 0002 and reviewed by hand: five new tables, nothing else.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:13:45.234272
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_slots",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "starts_at", name=op.f("pk_event_slots")),
    )
    op.create_table(
        "event_dismissals",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_event_dismissals_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "item_id", name=op.f("pk_event_dismissals")),
    )
    op.create_table(
        "event_links",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_event_links_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_event_links")),
    )
    op.create_table(
        "event_signups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_event_signups_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_signups")),
        sa.UniqueConstraint(
            "person_id", "item_id", "starts_at", name="uq_event_signups_person_slot"
        ),
    )
    with op.batch_alter_table("event_signups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_signups_slot", ["item_id", "starts_at", "status"], unique=False
        )

    op.create_table(
        "event_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signup_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["signup_id"],
            ["event_signups.id"],
            name=op.f("fk_event_notices_signup_id_event_signups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_notices")),
        sa.UniqueConstraint("signup_id", "kind", name="uq_event_notices_signup_kind"),
    )
    with op.batch_alter_table("event_notices", schema=None) as batch_op:
        batch_op.create_index("ix_event_notices_status_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_event_notices_status_due")

    op.drop_table("event_notices")
    with op.batch_alter_table("event_signups", schema=None) as batch_op:
        batch_op.drop_index("ix_event_signups_slot")

    op.drop_table("event_signups")
    op.drop_table("event_links")
    op.drop_table("event_dismissals")
    op.drop_table("event_slots")
