"""Rolling batches and the failure budget, checked against Ansible's documented behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediations.errors import OptionError
from remediations.fleet import fail_limit_reached
from remediations.serial import batches, parse_max_fail_percentage


@pytest.mark.parametrize(
    ("n", "serial", "expected"),
    [
        (5, None, [5]),
        (5, "", [5]),
        (5, "1", [1, 1, 1, 1, 1]),
        (5, "2", [2, 2, 1]),
        (10, "30%", [3, 3, 3, 1]),
        (3, "10%", [1, 1, 1]),  # 10% of 3 rounds down to 0 → at least one host
        (10, "1,10%,100%", [1, 1, 8]),  # Ansible's canary example
        (20, "1, 5, 50%", [1, 5, 10, 4]),  # last size repeats until the hosts run out
        (4, "10", [4]),
        (4, "0", [4]),  # Ansible: 0 means all at once
        (6, "1,0", [1, 5]),
        (0, "1", []),
    ],
)
def test_batches(n: int, serial: str | None, expected: list[int]) -> None:
    assert batches(n, serial) == expected


@pytest.mark.parametrize("serial", ["x", "-1", "1,,2", "10%%", "1.5", "101%", "1;2", "%"])
def test_bad_serial_is_an_option_error(serial: str) -> None:
    with pytest.raises(OptionError) as info:
        batches(10, serial)
    assert info.value.one_line().startswith(f"--serial {serial!r}:")
    assert info.value.exit_code == 2


@given(
    n=st.integers(min_value=0, max_value=300),
    items=st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=50),
            st.integers(min_value=0, max_value=100).map(lambda p: f"{p}%"),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_batches_cover_every_host_exactly_once(n: int, items: list[int | str]) -> None:
    serial = ",".join(str(i) for i in items)
    sizes = batches(n, serial)
    assert sum(sizes) == n
    assert all(size >= 1 for size in sizes)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("30", 30.0),
        ("30%", 30.0),
        (" 0 ", 0.0),
        ("100", 100.0),
        ("12.5", 12.5),
        (25, 25.0),
        (7.5, 7.5),
    ],
)
def test_parse_max_fail_percentage(value: str | float | None, expected: float | None) -> None:
    assert parse_max_fail_percentage(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "-5", "101", "30%%", "1e2", 101, -1.0, True])
def test_bad_max_fail_percentage(value: str | float) -> None:
    with pytest.raises(OptionError, match="--max-fail-percentage"):
        parse_max_fail_percentage(value)


@pytest.mark.parametrize(
    ("failed", "total", "max_fail", "pct", "stops"),
    [
        (0, 4, None, 0.0, False),
        (1, 4, None, 0.0, True),  # 0%: any failure stops
        (1, 4, None, 25.0, False),  # exactly at the budget is still fine (strictly greater stops)
        (2, 4, None, 25.0, True),
        (3, 4, None, None, False),  # no budget at all: never stops early
        (2, 10, 2, None, True),  # --max-fail counts the whole fleet, not one batch
        (1, 10, 2, None, False),
    ],
)
def test_the_failure_budget_is_fleet_wide(
    failed: int, total: int, max_fail: int | None, pct: float | None, stops: bool
) -> None:
    assert (fail_limit_reached(failed, total, max_fail, pct) is not None) is stops
