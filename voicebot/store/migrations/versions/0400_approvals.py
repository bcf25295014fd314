"""Flow approvals (approved scripts only) and per-call QA results.

Revision ID: 0400_approvals
Revises: 0100
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0400_approvals"
down_revision = "0100"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flow_approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flow_name", sa.String(200), nullable=False),
        sa.Column("locale", sa.String(20), nullable=False),
        sa.Column("flow_hash", sa.String(64), nullable=False),
        sa.Column("parts", sa.JSON, nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("approved_at", _TS, nullable=False),
    )
    op.create_index("ix_flow_approvals_name_hash", "flow_approvals", ["flow_name", "flow_hash"])
    op.create_table(
        "call_qa",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("failures", sa.JSON, nullable=False),
        sa.Column("checks", sa.JSON, nullable=False),
        sa.UniqueConstraint("attempt_id"),
    )
    op.create_index("ix_call_qa_campaign_id", "call_qa", ["campaign_id"])


def downgrade() -> None:
    op.drop_table("call_qa")
    op.drop_table("flow_approvals")
