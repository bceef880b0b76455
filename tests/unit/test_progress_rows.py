"""The live fleet view lays out only the rows the terminal can show (Live crops the rest anyway):
at 200 running hosts laying out every row four times a second cost a seventh of a core."""

from __future__ import annotations

import io

from rich.console import Console as RichConsole

from remediations.progress import FleetProgress
from remediations.report import Console


def _frame(running: int) -> list[str]:
    progress = FleetProgress(Console(io.StringIO(), rich_ok=True), running, live=True, refresh=50)
    with progress:
        height = progress._live.console.height
        for i in range(1, running + 1):
            progress.host_started(f"web{i}")
        rendered = progress._render()
    rc = RichConsole(file=io.StringIO(), width=120)
    with rc.capture() as cap:
        rc.print(rendered)
    lines = cap.get().splitlines()
    assert len(lines) <= height  # never more than the screen the view is drawn on
    return lines


def test_a_fleet_larger_than_the_screen_shows_what_fits_and_how_many_more() -> None:
    lines = _frame(200)
    shown = [ln for ln in lines if ln.startswith("web")]
    more = [ln for ln in lines if "more running" in ln]
    assert len(more) == 1 and int(more[0].split()[1]) == 200 - len(shown)
    assert shown[0].startswith("web1 ")  # sorted, as before


def test_a_fleet_that_fits_shows_every_host() -> None:
    lines = _frame(5)
    assert sorted(ln.split()[0] for ln in lines if ln.startswith("web")) == [f"web{i}" for i in range(1, 6)]
    assert not any("more running" in ln for ln in lines)
