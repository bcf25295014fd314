"""Where the example flows and the approved prompts live, installed or in a checkout.

In a checkout they are ``flows/`` and ``prompts/`` at the repository root; an installed wheel
carries copies under ``voicebot/_bundled/``. Callers ask here instead of guessing paths.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def flows_dir() -> Path:
    """The directory holding the example flows."""
    return _first_existing(_PACKAGE.parent / "flows", _PACKAGE / "_bundled" / "flows")


def prompts_dir() -> Path:
    """The directory holding the approved prompts, one ``<locale>.yaml`` per locale."""
    return _first_existing(_PACKAGE.parent / "prompts", _PACKAGE / "_bundled" / "prompts")


def prompts_dir_for(flow_file: Path) -> Path:
    """Prompts for a flow file: ``../prompts`` beside its folder if present, else the bundled ones.

    A business keeps its own ``flows/`` and ``prompts/`` side by side; that pair wins.
    """
    sibling = flow_file.resolve().parent.parent / "prompts"
    return sibling if sibling.is_dir() else prompts_dir()
