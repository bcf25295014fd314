"""Give every store an id, so its vault can name the store it belongs to; seal agents' notes.

Notes written before (``call_dispositions.note``, in the clear) are redacted and sealed under
the master key like new ones (:mod:`voicebot.privacy.notes`), and the file is compacted after.

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

    _seal_notes()


def _seal_notes() -> None:
    from voicebot.privacy.notes import seal_note
    from voicebot.privacy.number_keys import NumberKeys
    from voicebot.store.dispositions import CALL_DISPOSITIONS

    conn = op.get_bind()
    rows = conn.execute(
        sa.select(CALL_DISPOSITIONS.c.id, CALL_DISPOSITIONS.c.note).where(
            CALL_DISPOSITIONS.c.note != ""
        )
    ).all()
    if not rows:
        return
    config = op.get_context().config
    attributes = config.attributes if config is not None else {}
    keys = attributes.get("number_keys")
    if keys is None:
        from voicebot.privacy.vault.keys import load_or_create_keyring

        keys = NumberKeys(load_or_create_keyring()[0])
    for row in rows:
        conn.execute(
            sa.update(CALL_DISPOSITIONS)
            .where(CALL_DISPOSITIONS.c.id == row.id)
            .values(note=seal_note(keys, row.note))
        )
    attributes["compact"] = True


def downgrade() -> None:
    op.drop_table("store_identity")
