"""Where the checkout's files are, for tests in any folder of tests/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The checkout's root."""

FLOWS = ROOT / "flows"
"""The example flows (their prompts are in ROOT / "prompts")."""

FLOWS_BROKEN = ROOT / "tests" / "flows_broken"
"""Flows that each break one rule of the lint or the loader (the rule is the file's name)."""

FLOWS_VALID = ROOT / "tests" / "flows_valid"
"""Flows at the edges of what is allowed."""
