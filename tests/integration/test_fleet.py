"""A fleet in one command: mixed faults fixed in parallel, healthy hosts left byte-for-byte alone,
and a failing canary batch that stops the run before anything else is touched.

Host names web21..web26 (this module's own; ``FIX502_FLEET_BASE`` moves them, e.g. to 121 for a
developer sharing a machine with another lab).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.integration.conftest import fix502, host, inventory, snapshot
from tests.lab import faults
from tests.lab.lab import LabHost

pytestmark = pytest.mark.integration

BASE = int(os.environ.get("FIX502_FLEET_BASE", "21"))
NAMES = [f"web{BASE + i}" for i in range(6)]


def recap_row(stdout: str, name: str) -> list[str]:
    for line in stdout.splitlines():
        cells = line.split()
        if cells and cells[0] == name and len(cells) >= 3:
            return cells
    raise AssertionError(f"no recap row for {name} in:\n{stdout}")


def test_mixed_fleet_fixed_in_one_run(tmp_report: Path) -> None:
    plan = {
        NAMES[0]: "fpm-stopped",
        NAMES[1]: "old-php-socket",
        NAMES[2]: "socket-permissions",
        NAMES[3]: "big-headers-plugin",
        NAMES[4]: None,
        NAMES[5]: None,
    }
    hosts: dict[str, LabHost] = {name: host(name) for name in NAMES}
    for name, fault in plan.items():
        if fault:
            faults.apply(hosts[name], fault)
            assert hosts[name].http("/")[0] == faults.EXPECT[fault].status
    healthy = [n for n, f in plan.items() if f is None]
    before = {n: snapshot(hosts[n]) for n in healthy}
    pids = {n: hosts[n].fpm_pids() for n in healthy}
    assert all(pids.values())

    out = fix502(
        "fix-502",
        "--group",
        "lab",
        "--limit",
        ",".join(NAMES),
        "--inventory",
        inventory(),
        "--yes",
        "--forks",
        "6",
        "--report-json",
        str(tmp_report),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(tmp_report.read_text())
    assert data["stopped"] is None
    assert set(data["hosts"]) == set(NAMES)
    for name, fault in plan.items():
        r = data["hosts"][name]
        want = "healthy" if fault is None else "fixed"
        assert r["status"] == want, (name, r)
        assert recap_row(out.stdout, name)[1] == want
        assert hosts[name].http("/")[0] == 200, name
        if fault:
            assert faults.EXPECT[fault].cause in r["causes"], (name, r["causes"])
            assert any(a["verified"] and a["changed"] and not a["rolled_back"] for a in r["actions"]), r
        else:
            assert r["causes"] == ["healthy"] and r["actions"] == []
            assert r["ssh_connections"] == 1  # one connection for the whole host run
    assert data["counts"] == {"fixed": 4, "healthy": 2}
    assert re.search(r"totals: healthy=2 fixed=4 planned=0 failed=0 escalated=0 unreachable=0", out.stdout)
    for n in healthy:  # untouched: same bytes, same FPM processes
        assert snapshot(hosts[n]) == before[n]
        assert hosts[n].fpm_pids() == pids[n]


def test_failing_canary_stops_the_run(tmp_report: Path) -> None:
    names = NAMES[:4]
    hosts = {name: host(name) for name in names}
    faults.apply(hosts[names[0]], "fpm-config-error")  # not fixable: fix502 escalates
    faults.apply(hosts[names[1]], "fpm-stopped")  # fixable, but it must not be reached
    rest = names[1:]
    before = {n: snapshot(hosts[n]) for n in rest}
    pids = {n: hosts[n].fpm_pids() for n in rest}

    out = fix502(
        "fix-502",
        "--limit",
        ",".join(names),
        "--inventory",
        inventory(),
        "--yes",
        "--serial",
        "1,100%",
        "--max-fail",
        "1",
        "--report-json",
        str(tmp_report),
    )
    assert out.returncode == 1, out.stdout + out.stderr
    data = json.loads(tmp_report.read_text())
    assert "--max-fail 1 reached" in data["stopped"]
    assert "stopped early: --max-fail 1 reached" in out.stdout
    assert data["hosts"][names[0]]["status"] == "escalated"
    assert "fpm-config-error" in data["hosts"][names[0]]["causes"]
    for n in rest:
        r = data["hosts"][n]
        assert r["status"] == "skipped" and r["ssh_connections"] == 0, r
        assert "not started" in r["error"]
        assert recap_row(out.stdout, n)[1] == "skipped"
        assert snapshot(hosts[n]) == before[n]
        assert hosts[n].fpm_pids() == pids[n]
    assert hosts[names[1]].http("/")[0] == 502  # still broken: nobody touched it
