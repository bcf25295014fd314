"""Initial schema: campaigns, contacts, attempts, do-not-call, freezes, review queue, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_contacts_number", "contacts", ["number"])
    op.create_index(
        "ix_contacts_campaign_number", "contacts", ["campaign_id", "number"], unique=True
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reserved_at", _TS, nullable=False),
        sa.Column("local_day", sa.Date, nullable=False),
        sa.Column("finished_at", _TS),
        sa.Column("outcome", sa.String(20)),
        sa.Column("talk_seconds", sa.Float),
        sa.Column("policy_version", sa.String(80), nullable=False),
    )
    op.create_index("ix_attempts_number_day", "attempts", ["number", "local_day"])
    op.create_table(
        "dnc_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_dnc_number", "dnc_entries", ["number"])
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("since", _TS, nullable=False),
        sa.Column("until", _TS, nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
    )
    op.create_index("ix_freezes_number_until", "freezes", ["number", "until"])
    op.create_table(
        "review_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempts.id")),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("decided_at", _TS),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_review_queue_number", "review_queue", ["number"])
    op.create_index("ix_review_queue_status", "review_queue", ["status"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("number_masked", sa.String(24), nullable=False),
        sa.Column("campaign_id", sa.Integer),
        sa.Column("attempt_id", sa.Integer),
        sa.Column("allowed", sa.Boolean),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("policy_version", sa.String(80), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    _make_audit_append_only()


def _make_audit_append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    for table in (
        "audit_events",
        "review_queue",
        "freezes",
        "dnc_entries",
        "attempts",
        "contacts",
        "campaigns",
    ):
        op.drop_table(table)
