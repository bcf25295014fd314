"""``--contact KEY=VALUE`` style options, parsed one way for every command."""

from __future__ import annotations

import click


def key_values(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    """``("name=Alex", "amount=12")`` -> ``{"name": "Alex", "amount": "12"}``.

    Keys are variable names (they fill ``{name}`` in prompts); the value may be empty.

    Raises:
        click.BadParameter: a pair without ``=`` or whose key is not a name.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint=option)
        values[key] = value
    return values
