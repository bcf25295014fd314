"""Agents' dispositions of the calls handed to them.

Revision ID: 0600_dispositions
Revises: 0500_numbers
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0600_dispositions"
down_revision = "0500_numbers"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_dispositions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("disposition", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("callback_at", _TS),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_call_dispositions_attempt_id", "call_dispositions", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_call_dispositions_attempt_id", "call_dispositions")
    op.drop_table("call_dispositions")
