"""Rolling batches (``--serial``) and the failure budget (``--max-fail-percentage``).

Both follow Ansible's semantics exactly, so an operator's muscle memory carries over: batch
sizes are taken in order and the last one repeats until the hosts run out; percentages are of
the whole host count, rounded down but never below one host; ``0`` means "all the rest".  The
failure budget itself is counted fleet-wide, in one place: :func:`remediations.fleet.fail_limit_reached`.
"""

from __future__ import annotations

import re

from remediations.errors import OptionError

_ITEM = re.compile(r"^(\d+)(%?)$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%?$")


def _sizes(serial: str) -> list[tuple[int, bool]]:
    items = [part.strip() for part in serial.split(",")]
    parsed: list[tuple[int, bool]] = []
    for item in items:
        match = _ITEM.match(item)
        if not match:
            raise OptionError(
                f"--serial {serial!r}: {item!r} is not a host count or a percentage (examples: 1, 10%, 1,10%,100%)"
            )
        value, pct = int(match.group(1)), bool(match.group(2))
        if pct and value > 100:
            raise OptionError(f"--serial {serial!r}: {item!r} is more than 100%")
        parsed.append((value, pct))
    return parsed


def batches(n_hosts: int, serial: str | None) -> list[int]:
    """Batch sizes for ``n_hosts`` hosts; their sum is always ``n_hosts``."""
    if n_hosts < 0:
        raise OptionError(f"negative host count {n_hosts}")
    if n_hosts == 0:
        return []
    if serial is None or not serial.strip():
        return [n_hosts]
    sizes = _sizes(serial)
    result: list[int] = []
    remaining = n_hosts
    index = 0
    while remaining > 0:
        value, pct = sizes[index]
        size = max(1, n_hosts * value // 100) if pct else value
        if size <= 0:  # Ansible: serial 0 means everything that is left, at once
            size = remaining
        size = min(size, remaining)
        result.append(size)
        remaining -= size
        index = min(index + 1, len(sizes) - 1)
    return result


def parse_max_fail_percentage(value: str | float | None) -> float | None:
    """``"30"``, ``"30%"`` or 30 → 30.0; None → no budget (only a failure of every host stops).

    Numbers are accepted too, so a CLI layer that already converted the option still gets the
    range check.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise OptionError(f"--max-fail-percentage {value!r}: expected a number from 0 to 100")
    if isinstance(value, int | float):
        if not 0 <= value <= 100:
            raise OptionError(f"--max-fail-percentage {value!r}: must be between 0 and 100")
        return float(value)
    text = value.strip()
    match = _PERCENT.match(text)
    if not match:
        raise OptionError(f"--max-fail-percentage {value!r}: expected a number from 0 to 100")
    number = float(match.group(1))
    if number > 100:
        raise OptionError(f"--max-fail-percentage {value!r}: must be between 0 and 100")
    return number
