"""Per-request plugin bisection on real lab hosts (issue 13): visitors never see it.

While fix502 searches for the crashing plugin, a visitor page (one the culprit does not crash) is
requested over and over from the controller; every one made while the bisection mu-plugin is in
place and nothing is renamed must carry the marker of all nine plugins, the culprit's included.
The culprit then ends disabled (its directory alone parked), the site verifies 200 without any
header, the mu-plugin is gone, and ``fix502 rollback`` restores every file byte for byte.  Where
the mu-plugin cannot load (the site's WPMU_PLUGIN_DIR is elsewhere), the fix falls back to
renaming and says so.  Hosts web90-91 (this module's own range)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.conftest import REPO, fix502, host, inventory, snapshot
from tests.lab import faults, lab

WC = "/var/www/wordpress/wp-content"
MU = f"{WC}/mu-plugins/fix502-bisect.php"


def markers(body: str) -> set[str]:
    return {slug for slug in lab.PLUGINS if f"<!-- {slug} active -->" in body}


def watch_visitors(h: lab.LabHost, proc: subprocess.Popen[str], limit: float) -> list[tuple[int, set[str]]]:
    """Visitor requests made while the search runs (mu-plugin there, nothing parked, before and
    after the request): (status, plugin markers in the page)."""
    seen: list[tuple[int, set[str]]] = []
    deadline = time.time() + limit
    mu, parked = h.path(MU), h.path(f"{WC}/plugins.fix502-off")
    while proc.poll() is None and time.time() < deadline:
        searching = mu.exists() and not parked.exists()
        if not searching:
            time.sleep(0.1)
            continue
        status, body = h.http("/?lab-visitor=1", timeout=20)
        if mu.exists() and not parked.exists():
            seen.append((status, markers(body)))
    return seen


def rollback_restores(h: lab.LabHost, before: dict[str, str]) -> None:
    res = fix502("rollback", "--host", h.name, "--inventory", inventory())
    assert res.returncode == 0, res.stdout + res.stderr
    assert snapshot(h) == before


def test_visitors_keep_every_plugin_while_the_culprit_is_found_per_request(tmp_path: Path) -> None:
    h = host("web90")
    faults.apply(h, "segfault-plugin-on-home")
    assert h.http("/")[0] == 502 and markers(h.http("/?lab-visitor=1")[1]) == set(lab.PLUGINS)
    before = snapshot(h)
    dry = fix502("fix-502", "--host", h.name, "--inventory", inventory(), "--dry-run")
    assert dry.returncode == 0, dry.stdout[-2000:]
    for shown in (f"+++ b{MU}", "hash_equals(", "'<secret>'", "probe 1: a signed echo request", "visitors keep"):
        assert shown in dry.stdout, shown
    assert snapshot(h) == before and not h.path("/var/backups/fix502").exists()
    out = tmp_path / "r.json"
    argv = ["fix-502", "--host", h.name, "--inventory", inventory(), "--yes", "--report-json", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", *argv],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = watch_visitors(h, proc, limit=240)
        stdout, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stdout[-3000:]
    assert seen, "no visitor request was made while the bisection ran"
    print(f"{len(seen)} visitor requests during the search")
    assert all(status == 200 and got == set(lab.PLUGINS) for status, got in seen), seen
    r = json.loads(out.read_text())["hosts"][h.name]
    bisect = next(a for a in r["actions"] if a["id"] == "bisect-plugins")
    assert bisect["changed"] and bisect["verified"] and not bisect["rolled_back"], bisect
    assert f"culprit plugin {faults.CULPRIT}" in bisect["note"] and "visitors kept every plugin" in bisect["note"]
    assert "fallback" not in bisect["note"]
    assert r["status"] == "fixed"
    status, body = h.http("/")
    assert status == 200 and markers(body) == set(lab.PLUGINS) - {faults.CULPRIT}
    assert not h.path(MU).exists() and not h.path(f"{WC}/mu-plugins").exists()
    assert sorted(p.name for p in h.path(f"{WC}/plugins.fix502-off").iterdir()) == [faults.CULPRIT]
    log = h.read("/var/log/nginx/wordpress.access.log")
    assert log.count("fix502-bisect=") >= 5  # the search went through real signed requests
    rollback_restores(h, before)
    assert h.http("/")[0] == 502


def test_fallback_to_renaming_when_the_mu_plugin_cannot_load(tmp_path: Path) -> None:
    h = host("web91")
    faults.apply(h, "segfault-plugin", "custom-mu-plugin-dir")
    before = snapshot(h)
    out = tmp_path / "r.json"
    res = fix502("fix-502", "--host", h.name, "--inventory", inventory(), "--yes", "--report-json", str(out))
    assert res.returncode == 0, res.stdout[-3000:]
    r = json.loads(out.read_text())["hosts"][h.name]
    bisect = next(a for a in r["actions"] if a["id"] == "bisect-plugins")
    assert bisect["verified"] and f"culprit plugin {faults.CULPRIT}" in bisect["note"], bisect
    assert "fallback to renaming wp-content/plugins: the signed echo probe failed" in bisect["note"]
    status, body = h.http("/")
    assert status == 200 and markers(body) == set(lab.PLUGINS) - {faults.CULPRIT}
    assert not h.path(MU).exists() and not h.path(f"{WC}/mu-plugins").exists()
    rollback_restores(h, before)
