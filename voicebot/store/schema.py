"""Every table of the store in one metadata: the models of each area register on ``Base``.

Areas keep their tables next to their code (``store/models.py``, ``store/users.py``, ...);
importing them here is what lets Alembic and the schema test see the whole database.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from voicebot.store.models import Base

TABLE_MODULES = (
    "voicebot.store.models",
    "voicebot.store.users",
    "voicebot.store.web_sessions",
    "voicebot.store.login_attempts",
    "voicebot.store.dispositions",
    "voicebot.store.leases",
    "voicebot.store.campaign_runs",
    "voicebot.store.identity",
)


def metadata() -> MetaData:
    """The metadata of every table, after importing every module that declares some."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata
