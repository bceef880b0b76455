"""Numbers given to `serve` and `worker`: one clear line per bad value, nothing started."""

from __future__ import annotations

import pytest

from remediations.errors import OptionError
from remediations.options import number, whole


def test_a_number_or_the_default() -> None:
    assert number("--cooldown", None, 900) == 900
    assert number("--cooldown", " 60 ", 900) == 60.0
    assert number("--workers", 2.0, 2, 1) == 2.0


@pytest.mark.parametrize(
    ("value", "message"),
    [("ten", "--concurrency takes a number, not 'ten'"), ("0", "--concurrency must be at least 1, not 0")],
)
def test_bad_numbers_are_one_line(value: str, message: str) -> None:
    with pytest.raises(OptionError) as exc:
        number("--concurrency", value, 20, 1)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [("2.5", "--forks takes a whole number, not '2.5'"), ("0", "--forks must be at least 1, not 0")],
)
def test_bad_whole_numbers_are_one_line(value: str, message: str) -> None:
    with pytest.raises(OptionError) as exc:
        whole("--forks", value, minimum=1)
    assert str(exc.value) == message
