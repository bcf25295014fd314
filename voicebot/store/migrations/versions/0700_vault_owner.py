"""Give every store an id, so its vault can name the store it belongs to.

Revision ID: 0700_vault_owner
Revises: 0600_dispositions
Create Date: 2026-12-06
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0700_vault_owner"
down_revision = "0600_dispositions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from voicebot.store.identity import STORE_IDENTITY, new_store_id

    op.create_table(
        "store_identity",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.get_bind().execute(
        sa.insert(STORE_IDENTITY).values(
            id=1, store_id=new_store_id(), created_at=dt.datetime.now(dt.UTC)
        )
    )


def downgrade() -> None:
    op.drop_table("store_identity")
