"""Phone numbers at rest: every ``number`` column becomes a keyed hash and a sealed copy, and
the contacts' other columns (``fields``) are sealed too (``fields_sealed``).

Existing rows are converted in place (hashed and sealed under the active master key, see
:mod:`voicebot.privacy.number_keys`), then the plain column is dropped. Anonymised attempts
(``erased``) keep both new columns empty. A ``number_keys`` table records the master keys used
(filled when the store opens).

On SQLite the tables are altered in place (``ALTER TABLE ... ADD/DROP COLUMN``), not rebuilt:
``attempts`` is referenced by other tables, and rebuilding a referenced table inside the
migration's transaction would trip the foreign keys. New columns there are ``NOT NULL DEFAULT
''`` (SQLite cannot add a NOT NULL column without a default; every writer sets them). The
store compacts the file afterwards (:func:`voicebot.store.migrate.upgrade`), so the digits do not
survive in free pages or the write-ahead log.

Revision ID: 0500_numbers
Revises: 0200_dialer
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from voicebot.privacy.number_keys import NumberKeys

revision = "0500_numbers"
down_revision = "0200_dialer"
branch_labels = None
depends_on = None

# table -> (old indexes on number, new indexes (name, columns, unique), number column nullable)
_TABLES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...], bool], ...], bool]] = {
    "contacts": (
        ("ix_contacts_number", "ix_contacts_campaign_number"),
        (
            ("ix_contacts_number_hash", ("number_hash",), False),
            ("ix_contacts_campaign_number_hash", ("campaign_id", "number_hash"), True),
        ),
        False,
    ),
    "attempts": (
        ("ix_attempts_number_day",),
        (("ix_attempts_number_hash_day", ("number_hash", "local_day"), False),),
        True,
    ),
    "dnc_entries": (("ix_dnc_number",), (("ix_dnc_number_hash", ("number_hash",), False),), False),
    "freezes": (
        ("ix_freezes_number_until",),
        (("ix_freezes_number_hash_until", ("number_hash", "until"), False),),
        False,
    ),
    "review_queue": (
        ("ix_review_queue_number",),
        (("ix_review_queue_number_hash", ("number_hash",), False),),
        False,
    ),
    "dialer_queue": (
        ("ix_dialer_queue_campaign_number",),
        (("ix_dialer_queue_campaign_number_hash", ("campaign_id", "number_hash"), True),),
        False,
    ),
}
_ERASED = "erased"
_SEALED_LENGTH = 100


def upgrade() -> None:
    context = op.get_context()
    attributes = context.config.attributes if context.config is not None else {}
    keys = attributes.get("number_keys")
    if keys is None:
        from voicebot.privacy.vault.keys import load_or_create_keyring

        keys = NumberKeys(load_or_create_keyring()[0])
    assert isinstance(keys, NumberKeys)
    op.create_table(
        "number_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
    )
    sqlite = context.dialect.name == "sqlite"
    converted = 0
    for table, (old_indexes, new_indexes, nullable) in _TABLES.items():
        converted += _convert(table, old_indexes, new_indexes, nullable, keys, sqlite)
    for table in ("contacts", "dialer_queue"):
        converted += _seal_fields(table, keys, sqlite)
    if converted:  # the store registers the key in number_keys when it opens
        attributes["compact"] = True


def _convert(
    table: str,
    old_indexes: tuple[str, ...],
    new_indexes: tuple[tuple[str, tuple[str, ...], bool], ...],
    nullable: bool,
    keys: NumberKeys,
    sqlite: bool,
) -> int:
    bind = op.get_bind()
    for name in old_indexes:
        op.drop_index(name, table_name=table)
    # SQLite adds a NOT NULL column only with a default; PostgreSQL tightens it after filling.
    default = sa.text("''") if sqlite and not nullable else None
    for column, length in (("number_hash", 64), ("number_sealed", _SEALED_LENGTH)):
        op.add_column(
            table,
            sa.Column(
                column,
                sa.String(length),
                nullable=nullable or not sqlite,
                server_default=default,
            ),
        )
    rows = bind.execute(sa.text(f"SELECT id, number FROM {table}")).all()
    update = sa.text(f"UPDATE {table} SET number_hash = :h, number_sealed = :s WHERE id = :id")
    for row_id, number in rows:
        if number == _ERASED:
            continue  # an anonymised attempt: nothing to hash
        stored = keys.stored(str(number))
        bind.execute(update, {"h": stored.hash, "s": stored.sealed, "id": row_id})
    if sqlite:  # native since SQLite 3.35, no table rebuild (see the module docstring)
        op.execute(f"ALTER TABLE {table} DROP COLUMN number")
    else:
        op.drop_column(table, "number")
    if not sqlite and not nullable:
        for column in ("number_hash", "number_sealed"):
            op.alter_column(table, column, nullable=False)
    for name, columns, unique in new_indexes:
        op.create_index(name, table, list(columns), unique=unique)
    return len(rows)


def _seal_fields(table: str, keys: NumberKeys, sqlite: bool) -> int:
    bind = op.get_bind()
    default = sa.text("''") if sqlite else None
    op.add_column(
        table, sa.Column("fields_sealed", sa.Text, nullable=not sqlite, server_default=default)
    )
    rows = bind.execute(sa.text(f"SELECT id, fields FROM {table}")).all()
    update = sa.text(f"UPDATE {table} SET fields_sealed = :s WHERE id = :id")
    for row_id, fields in rows:
        values = json.loads(fields) if isinstance(fields, str) else dict(fields or {})
        bind.execute(update, {"s": keys.seal_fields(values), "id": row_id})
    if sqlite:
        op.execute(f"ALTER TABLE {table} DROP COLUMN fields")
    else:
        op.drop_column(table, "fields")
        op.alter_column(table, "fields_sealed", nullable=False)
    return len(rows)


def downgrade() -> None:
    raise NotImplementedError("numbers at rest cannot be downgraded to plain numbers")
