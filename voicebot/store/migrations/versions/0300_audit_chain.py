"""Hash-chain the audit log; keep erased numbers as keyed hashes only.

Adds ``seq``/``prev_hash``/``hash`` to ``audit_events`` and chains the rows already there (in id
order), then creates ``dnc_erased``. The append-only triggers are dropped only for the chaining
and recreated in the same transaction.

Revision ID: 0300
Revises: 0400_approvals
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0300"
down_revision = "0400_approvals"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_SQLITE_TRIGGERS = ("UPDATE", "DELETE")


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.Integer))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
    op.create_index("ix_audit_events_seq", "audit_events", ["seq"], unique=True)
    _chain_existing_rows()
    op.create_table(
        "dnc_erased",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_dnc_erased_digest", "dnc_erased", ["digest"])


def _chain_existing_rows() -> None:
    from voicebot.privacy.audit_chain import iter_rows, link

    conn = op.get_bind()
    rows = sorted(iter_rows(conn), key=lambda r: r["id"])
    if not rows:
        return
    drop_append_only(conn.dialect.name)
    head: tuple[int, str] | None = None
    table = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.Integer),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    for row in rows:
        linked = link(head, row)
        conn.execute(
            table.update()
            .where(table.c.id == row["id"])
            .values(seq=linked["seq"], prev_hash=linked["prev_hash"], hash=linked["hash"])
        )
        head = (linked["seq"], linked["hash"])
    create_append_only(conn.dialect.name)


def drop_append_only(dialect: str) -> None:
    """Drop the append-only triggers of 0001 (recreate them before the transaction ends)."""
    if dialect == "sqlite":
        for verb in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER audit_events_no_{verb.lower()}")
    else:
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")


def create_append_only(dialect: str) -> None:
    """Recreate the triggers of 0001 exactly."""
    if dialect == "sqlite":
        for verb in _SQLITE_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    op.drop_index("ix_dnc_erased_digest", "dnc_erased")
    op.drop_table("dnc_erased")
    op.drop_index("ix_audit_events_seq", "audit_events")
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    if dialect == "sqlite":  # the batch rebuilt the table, and its triggers went with the old one
        create_append_only(dialect)
