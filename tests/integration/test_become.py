"""Hosts where root cannot log in: the inventory says ``ansible_user: deploy, ansible_become: true``.
Every part of fix502 must behave the same over sudo as over a root login (issue 11): the same
facts, the same probe (which needs the address the session came in on, lost by sudo's env_reset),
the same edits — and the become password, given on both hosts, must never end up in a file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import fix502, host, inventory
from tests.lab import faults, lab


def files_with(h: lab.LabHost, needle: str) -> list[str]:
    out = subprocess.run(
        ["grep", "-rlF", needle, str(h.root / "etc"), str(h.root / "var/www"), str(h.root / "var/backups")],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split()


@pytest.mark.parametrize(("name", "login"), [("web21", "sudo"), ("web22", "sudo-password")])
def test_a_sudo_only_host_is_fixed_as_a_root_one_and_the_password_is_written_nowhere(
    name: str, login: str, tmp_path: Path
) -> None:
    h = host(name, login=login)
    root = subprocess.run(
        ["ssh", "-i", str(lab.KEY), "-o", "BatchMode=yes", f"root@{h.addr}", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert root.returncode != 0  # root really cannot log in: everything below went through sudo
    faults.apply(h, "old-php-socket")  # the fix writes a file (the password once leaked into writes)
    faults.apply(h, "fpm-stopped")  # and starts a service, verified by the on-host probe
    out = tmp_path / "r.json"
    res = fix502("fix-502", "--host", name, "--inventory", inventory(), "--yes", "--report-json", str(out))
    r = json.loads(out.read_text())["hosts"][name]
    assert res.returncode == 0, res.stdout[-3000:]
    assert r["status"] == "fixed", r
    assert {"restart-fpm", "realign-fastcgi-pass"} <= {a["id"] for a in r["actions"] if a["verified"]}, r["actions"]
    assert h.http("/")[0] == 200
    assert files_with(h, lab.SUDO_PASSWORD) == []
    assert lab.SUDO_PASSWORD not in res.stdout + out.read_text()
    again = fix502("fix-502", "--host", name, "--inventory", inventory(), "--yes")
    assert again.returncode == 0 and "healthy" in again.stdout
