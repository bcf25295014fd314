"""Text intents per locale: what a caller's words mean for the flow.

The intent names are part of the flow language (``intent.refuse`` in a flow's ``on``), so the
lint checks flows against :data:`INTENTS`.
"""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "refuse",
    "opt_out",
    "interested",
    "callback_later",
    "ask_human",
    "affirm",
    "deny",
)
"""Every intent a flow may listen for."""
