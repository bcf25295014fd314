"""Why a call is made: the one vocabulary flows declare and compliance rules read.

A leaf beside :mod:`voicebot.outcomes`: a flow says its purpose, the gate applies the purpose's
rules (holidays, caps, windows), and neither needs the other's package to name it.
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """Why the call is made; compliance rules (holidays, caps) differ per purpose."""

    NOTIFICATION = "notification"
    MARKETING = "marketing"
    SURVEY = "survey"
