"""The audit log's sealed high-water mark, and truncation refused.

Creates ``audit_watermark`` (one row: the newest entry's seq and hash, sealed under the master
key; see :mod:`voicebot.privacy.audit_watermark`) set to the chain's current head, a trigger
refusing to delete that row, and on PostgreSQL triggers refusing ``TRUNCATE`` of either table
(the append-only triggers of ``0001`` cover UPDATE and DELETE only).

Revision ID: 0701_audit_watermark
Revises: 0700_vault_owner
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0701_audit_watermark"
down_revision = "0700_vault_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from voicebot.privacy.audit_chain import GENESIS
    from voicebot.privacy.audit_watermark import WatermarkSeal
    from voicebot.store.models import AUDIT_EVENTS, AUDIT_WATERMARK

    op.create_table(
        "audit_watermark",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("seal", sa.String(100)),
    )
    conn = op.get_bind()
    head = conn.execute(
        sa.select(AUDIT_EVENTS.c.seq, AUDIT_EVENTS.c.hash)
        .where(AUDIT_EVENTS.c.seq.is_not(None))
        .order_by(AUDIT_EVENTS.c.seq.desc())
        .limit(1)
    ).first()
    seq, digest = (int(head.seq), str(head.hash)) if head is not None else (0, GENESIS)
    config = op.get_context().config
    keys = (config.attributes if config is not None else {}).get("number_keys")
    seal = WatermarkSeal(keys.keyring).seal(seq, digest) if keys is not None else None
    conn.execute(sa.insert(AUDIT_WATERMARK).values(id=1, seq=seq, hash=digest, seal=seal))
    if conn.dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_watermark_no_delete BEFORE DELETE ON audit_watermark "
            "BEGIN SELECT RAISE(ABORT, 'audit_watermark is kept'); END"
        )
        return
    op.execute(
        "CREATE FUNCTION audit_watermark_kept() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_watermark is kept'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_watermark_kept BEFORE DELETE OR TRUNCATE ON audit_watermark "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_watermark_kept()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_watermark_kept ON audit_watermark")
        op.execute("DROP FUNCTION audit_watermark_kept()")
    op.drop_table("audit_watermark")
