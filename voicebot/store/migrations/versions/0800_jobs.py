"""Campaigns run by shared workers (``campaign_runs``): their file, policy and state.

The job queue's own tables (PgQueuer) are not created here: the queue is PostgreSQL-only and
installs its schema itself, from ``voicebot campaign start`` or ``voicebot worker`` (under the
library's schema lock), so a SQLite store never carries them.

Revision ID: 0800_jobs
Revises: 0720_web_sessions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0800_jobs"
down_revision = "0720_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_runs",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("dev", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_runs")
