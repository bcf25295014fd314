"""Alembic environment: runs on the connection handed over by ``voicebot.store.migrate``."""

from __future__ import annotations

from alembic import context

from voicebot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through voicebot.store.migrate.upgrade (needs a connection)")

context.configure(connection=connection, target_metadata=metadata(), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
