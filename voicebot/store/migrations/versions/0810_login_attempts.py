"""Failed console sign-ins per account and per address, so login lockouts hold across every
console process that shares the store.

Revision ID: 0810_login_attempts
Revises: 0720_web_sessions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0810_login_attempts"
down_revision = "0800_jobs"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("failures", sa.JSON, nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("lockouts", sa.Integer, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_login_attempts_updated_at", "login_attempts", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_updated_at", "login_attempts")
    op.drop_table("login_attempts")
