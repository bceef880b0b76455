"""Numeric option values (``--forks``, ``serve``'s and ``worker``'s numbers), checked in one place.

invoke hands every option over as text; a bad one must be a one-line error naming the option,
before anything starts, never a traceback from ``float()`` deep inside a server.
"""

from __future__ import annotations

from typing import Any

from remediations.errors import OptionError


def number(option: str, value: str | float | None, default: float, minimum: float = 0) -> float:
    """``value`` as a number of at least ``minimum`` (``default`` when not given)."""
    if value is None:
        return default
    try:
        got = float(str(value).strip())
    except ValueError:
        raise OptionError(f"{option} takes a number, not {value!r}") from None
    if got < minimum:
        raise OptionError(f"{option} must be at least {minimum:g}, not {got:g}")
    return got


def whole(option: str, value: Any, *, minimum: int) -> int:
    """``value`` as a whole number of at least ``minimum`` (``--forks``, ``--max-fail``)."""
    try:
        got = int(str(value).strip())
    except ValueError:
        raise OptionError(f"{option} takes a whole number, not {value!r}") from None
    if got < minimum:
        raise OptionError(f"{option} must be at least {minimum}, not {got}")
    return got
