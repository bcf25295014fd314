"""The dialer's durable queue: one row per contact of a campaign (due time, phase, retries).

Revision ID: 0200_dialer
Revises: 0300
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200_dialer"
down_revision = "0300"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dialer_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("due_at", _TS),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id")),
        sa.Column("phase", sa.String(10)),
        sa.Column("tries", sa.JSON, nullable=False),
        sa.Column("last_outcome", sa.String(20)),
        sa.Column("last_reasons", sa.JSON, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_dialer_queue_campaign_number", "dialer_queue", ["campaign_id", "number"], unique=True
    )
    op.create_index(
        "ix_dialer_queue_campaign_status_due",
        "dialer_queue",
        ["campaign_id", "status", "due_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_dialer_queue_campaign_status_due", "dialer_queue")
    op.drop_index("ix_dialer_queue_campaign_number", "dialer_queue")
    op.drop_table("dialer_queue")
