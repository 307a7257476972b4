"""Consent, my data, deletion and retention.

No schema change: the feature uses the columns that exist (persons.consent_version,
consent_decided_at and last_seen; conversation_states.subject; handoff_requests.anonymised_at).
The revision stays so that the chain of revisions is the same everywhere.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
