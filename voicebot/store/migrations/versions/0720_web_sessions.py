"""Console sessions the server can end (sign-out, password or role change, user removal), and
each admin's last spent TOTP step (a code works once on every server process, not once per
process).

Revision ID: 0720_web_sessions
Revises: 0600_dispositions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0720_web_sessions"
down_revision = "0710_campaign_lease"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("web_users.id"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("totp_last_step", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("totp_last_step")
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    op.drop_table("web_sessions")
