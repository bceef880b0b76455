"""collect(): WordPress's own data costs a second round trip, and only an unhealthy site pays it.

Replays real evidence output (tests/unit/fixtures/facts/full) through a recording transport, with the
inline WordPress data line swapped for what the first round trip now prints (``deferred=yes``)."""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType

from remediations.facts.script import frame
from remediations.inventory import Host
from remediations.remote import collect
from remediations.transport import CmdResult
from tests.unit.evidence_text import FIXTURE_BOUNDARY

FULL = Path(__file__).parent / "fixtures" / "facts" / "full"
WPDATA = 'data={"active_plugins":["akismet/akismet.php"],"template":"t","stylesheet":"t"}\n'


class Recorder:
    def __init__(self, first: str) -> None:
        self.first = first
        self.commands: list[str] = []
        self.boundaries: list[str] = []

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        self.commands.append(command)
        assert stdin is not None and re.fullmatch(r"[0-9a-f]{32}\n", stdin)  # the boundary, never in argv
        assert stdin.strip() not in command
        self.boundaries.append(stdin.strip())
        if len(self.commands) == 1:  # the captured first round trip, framed with this run's boundary
            return CmdResult(0, self.first.replace(FIXTURE_BOUNDARY, self.boundaries[0]), "")
        return CmdResult(0, frame([("wpdata", "", WPDATA), ("wpend", "", "")], self.boundaries[-1]), "")

    def close(self) -> None:
        pass


def first_round(name: str) -> str:
    return re.sub(r"^data=.*$", "deferred=yes", (FULL / name).read_text(), count=1, flags=re.M)


# The site URL names the SSH address: no controller probe, so no network in a unit test.
HOST = Host(name="web9", address="127.0.0.209", vars=MappingProxyType({"site_url": "http://127.0.0.209:8080/"}))


def test_unhealthy_site_reads_wordpress_data_in_a_second_round_trip() -> None:
    t = Recorder(first_round("nginx_fpm_killed.txt"))
    facts, diagnosis = collect(t, HOST, since=None, window=10**9)  # type: ignore[arg-type]
    assert not diagnosis.healthy
    assert len(t.commands) == 2 and " wpdata " in t.commands[1]
    assert t.commands[1].endswith(" www-data")  # WordPress's code runs as the pool's user, not root
    assert t.boundaries[0] == t.boundaries[1]
    assert facts.wordpress.active_plugins == ["akismet/akismet.php"] and not facts.wordpress.data_deferred
    assert any("remote probe not run" in n for n in facts.notes)  # kept through the re-parse


def test_healthy_site_costs_one_round_trip() -> None:
    t = Recorder(first_round("nginx_healthy.txt"))
    facts, diagnosis = collect(t, HOST, since=None, window=10**9)  # type: ignore[arg-type]
    assert diagnosis.healthy, diagnosis.ids
    assert len(t.commands) == 1
    assert facts.wordpress.data_deferred and facts.wordpress.active_plugins is None
