"""The engine's store: SQLAlchemy 2 async over SQLite (default) or PostgreSQL, with migrations.

Open it with :func:`open_store`; find where it lives with :func:`resolve_db_url`.
"""

from voicebot.store.engine import Store, open_store
from voicebot.store.location import db_option, resolve_db_url

__all__ = ["Store", "db_option", "open_store", "resolve_db_url"]
