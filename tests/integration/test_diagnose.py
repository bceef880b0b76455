"""`invoke diagnose` on every lab fault (issue 4): the right cause with a real evidence line, one SSH
connection, at most two round trips, and the host left exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import fix502, host, inventory, snapshot
from tests.lab import faults

CASES = {
    **{name: e.cause for name, e in faults.EXPECT.items() if name != "pool-exhausted"},
    "healthy": "healthy",
    "apache-mod-php": "apache-handler-conflict",
}


@pytest.mark.parametrize("fault", sorted(CASES))
def test_diagnose_names_the_cause_with_evidence(fault: str, tmp_path: Path) -> None:
    apache = fault.startswith("apache")
    name = "web4" if apache else "web3"
    h = host(name, "apache" if apache else "nginx")
    faults.apply(h, fault)
    before = snapshot(h)
    pids = {k: min(v) for k, v in h.service_pids().items() if k in ("nginx", "apache2", "php-fpm8.2")}
    out = tmp_path / "r.json"
    res = fix502("diagnose", "--host", name, "--inventory", inventory(), "--report-json", str(out))
    assert "Traceback" not in res.stdout + res.stderr
    r = json.loads(out.read_text())["hosts"][name]
    want = CASES[fault]
    assert r["causes"][0] == want or want in r["causes"], r["causes"]
    assert res.returncode == (0 if want == "healthy" else 1)
    if want != "healthy":
        lines = [e["line"] for e in r["evidence"] if e["cause"] == want]
        assert lines, r["evidence"]
    assert r["ssh_connections"] == 1
    assert r["round_trips"] <= 2
    assert r["actions"] == []
    assert snapshot(h) == before
    # masters unchanged (a probe may crash and replace a worker: that is the fault, not us)
    assert {k: min(v) for k, v in h.service_pids().items() if k in ("nginx", "apache2", "php-fpm8.2")} == pids


def test_diagnose_quotes_the_real_nginx_line_for_a_missing_socket(tmp_path: Path) -> None:
    h = host("web3")
    faults.apply(h, "old-php-socket")
    out = tmp_path / "r.json"
    fix502("diagnose", "--host", "web3", "--inventory", inventory(), "--report-json", str(out))
    r = json.loads(out.read_text())["hosts"]["web3"]
    lines = [e["line"] for e in r["evidence"] if e["cause"] == "socket-mismatch"]
    assert any(
        "connect() to unix:/run/php/php8.1-fpm.sock failed (2: No such file or directory)" in ln for ln in lines
    ), lines
