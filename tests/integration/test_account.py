"""Shared hosting (issue 15): the inventory's user is the site's own account — the FPM pool user,
with a shell and a key but no sudo.  fix502 must say so, diagnose from what that account can read,
make only WordPress-level changes (journal in the account), verify them, roll back what did not
help, do nothing the second time — and for an FPM outage change nothing and hand over a bundle that
says it needs root.  With ``--least-privilege`` a root-capable host gets the same restraint."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.integration.conftest import fix502, host, snapshot
from tests.lab import faults, lab

OWNER_HOST = "web100"
ROOT_HOST = "web101"
WC = "/var/www/wordpress/wp-content"


def run(name: str, out: Path, *extra: str) -> dict[str, object]:
    # our own inventory: the lab's shared one is rewritten by whichever lab.py brought a host up last
    inv = lab.write_inventory([lab.get(name)], out.parent / f"inventory-{name}.yml")
    res = fix502("fix-502", "--host", name, "--inventory", str(inv), "--yes", "--report-json", str(out), *extra)
    r: dict[str, object] = json.loads(out.read_text())["hosts"][name]
    r["_stdout"] = res.stdout
    return r


def actions(r: dict[str, object]) -> dict[str, dict[str, object]]:
    return {a["id"]: a for a in r["actions"]}  # type: ignore[attr-defined]


def test_plugin_fault_is_bisected_as_the_account_after_the_cache_move_is_rolled_back(tmp_path: Path) -> None:
    h = host(OWNER_HOST, login="owner")
    faults.apply(h, "stale-page-cache", "segfault-plugin")
    assert h.http("/")[0] == 502
    page = f"{WC}/cache/supercache/{h.addr}/index.html"
    r = run(OWNER_HOST, tmp_path / "r.json")
    assert r["access"]["privilege"] == "none" and r["access"]["login"] == lab.SITE_OWNER, r["access"]  # type: ignore[index]
    assert "access: www-data: no root, no sudo, shell" in r["_stdout"]  # type: ignore[operator]
    assert r["status"] == "fixed", r
    assert "worker-crash" in r["causes"]  # type: ignore[operator]
    done = actions(r)
    # the cache move did not help: rolled back, the cached page is where it was
    assert done["clear-page-cache"]["rolled_back"] and not done["clear-page-cache"]["verified"], done
    assert h.path(page).exists() and not h.path(f"{WC}/cache/supercache.fix502-off").exists()
    assert done["bisect-plugins"]["verified"] and faults.CULPRIT in str(done["bisect-plugins"]["note"])
    assert h.path(f"{WC}/plugins.fix502-off/{faults.CULPRIT}").is_dir()
    assert h.http("/")[0] == 200
    # the journal lives in the account; root's backup directory was never used
    assert list(h.path("/var/www/.fix502/backups").glob("*/journal.jsonl"))
    assert not h.path("/var/backups/fix502").exists() or not any(h.path("/var/backups/fix502").iterdir())
    again = run(OWNER_HOST, tmp_path / "again.json")
    assert again["status"] == "healthy" and again["actions"] == [], again


def test_cache_dropin_is_moved_aside_and_verified(tmp_path: Path) -> None:
    h = host(OWNER_HOST, login="owner")
    faults.apply(h, "cache-dropin")
    assert h.http("/")[0] == 502
    r = run(OWNER_HOST, tmp_path / "r.json")
    assert r["status"] == "fixed", r
    assert any("object-cache.php" in e["source"] for e in r["evidence"])  # type: ignore[attr-defined]
    assert actions(r)["clear-page-cache"]["verified"], r["actions"]
    assert not h.path(f"{WC}/object-cache.php").exists()
    assert h.path(f"{WC}/object-cache.php.fix502-off").read_text() == faults.CACHE_DROPIN  # moved, not deleted
    assert h.http("/")[0] == 200
    again = run(OWNER_HOST, tmp_path / "again.json")
    assert again["status"] == "healthy" and again["actions"] == [], again
    # `fix502 rollback` finds the run in the account's own journal (not root's) and undoes it
    inv = tmp_path / f"inventory-{OWNER_HOST}.yml"
    undo = fix502("rollback", "--host", OWNER_HOST, "--inventory", str(inv))
    assert undo.returncode == 0 and "rolled back run" in undo.stdout, undo.stdout + undo.stderr
    assert h.path(f"{WC}/object-cache.php").read_text() == faults.CACHE_DROPIN


def _unchanged(before: dict[str, str], after: dict[str, str]) -> list[str]:
    keys = (set(before) | set(after)) - {k for k in set(after) - set(before) if k.startswith("var/www/.fix502")}
    return sorted(k for k in keys if before.get(k) != after.get(k))


def test_fpm_down_seen_from_the_account_ends_in_a_bundle_that_says_it_needs_root(tmp_path: Path) -> None:
    h = host(OWNER_HOST, login="owner")
    faults.apply(h, "fpm-stopped")
    before = snapshot(h)
    r = run(OWNER_HOST, tmp_path / "r.json")
    assert r["status"] == "escalated" and r["causes"] == ["unknown"], r
    assert all(not a["changed"] for a in r["actions"]), r["actions"]  # type: ignore[attr-defined]
    assert _unchanged(before, snapshot(h)) == []
    assert h.http("/")[0] == 502 and not h.fpm_pids()  # nothing was started from the account
    md = Path(str(r["bundle"])).read_text()
    data = json.loads(Path(str(r["bundle"])).with_suffix(".json").read_text())
    assert "needs root" in md and data["needs_root"], md
    assert data["site_answered"]["on_the_host"].startswith("HTTP 502")
    assert data["site_answered"]["plain_php"].startswith("HTTP 502")
    assert data["time"] and data["timezone"] and data["url"] == h.url
    assert any("PHP-FPM" in u for u in data["unknown"]) and data["plugins"]["active"], data
    password = re.search(r"define\( 'DB_PASSWORD', '([^']+)'", h.read("/var/www/wordpress/wp-config.php"))
    assert password and password.group(1) not in md + json.dumps(data)  # read as the account, never shown


def test_least_privilege_on_a_root_host_restarts_nothing(tmp_path: Path) -> None:
    h = host(ROOT_HOST)
    faults.apply(h, "fpm-stopped")
    r = run(ROOT_HOST, tmp_path / "r.json", "--least-privilege")
    assert r["access"]["privilege"] == "root", r["access"]  # type: ignore[index]
    assert r["status"] == "escalated" and "fpm-down" in r["causes"], r  # type: ignore[operator]
    assert any(n.startswith("restart-fpm") and "--least-privilege" in n for n in r["needs_root"]), r  # type: ignore[attr-defined]
    assert all(not a["changed"] for a in r["actions"]), r["actions"]  # type: ignore[attr-defined]
    assert not h.fpm_pids() and h.http("/")[0] == 502


def test_memory_exhaustion_raises_wp_memory_limit_with_a_backup(tmp_path: Path) -> None:
    h = host(OWNER_HOST, login="owner")
    faults.apply(h, "memory-hungry-plugin")
    config = "/var/www/wordpress/wp-config.php"
    before = h.read(config)
    assert h.http("/")[0] == 500
    r = run(OWNER_HOST, tmp_path / "r.json")
    assert r["status"] == "fixed" and actions(r)["raise-wp-memory-limit"]["verified"], r
    after = h.read(config)
    added = [ln for ln in after.split("\n") if ln not in before.split("\n")]
    assert len(added) == 1 and added[0].startswith("define( 'WP_MEMORY_LIMIT', '256M' );"), added
    assert h.path(config).stat().st_uid == h.path("/var/www").stat().st_uid  # still the account's
    backups = list(h.path("/var/www/.fix502/backups").glob("*/files/*"))
    assert any(b.read_text() == before for b in backups if not b.name.endswith(".meta"))
    password = re.search(r"define\( 'DB_PASSWORD', '([^']+)'", before)
    assert password and password.group(1) not in (tmp_path / "r.json").read_text() + str(r["_stdout"])
    assert h.http("/")[0] == 200
    again = run(OWNER_HOST, tmp_path / "again.json")
    assert again["status"] == "healthy" and again["actions"] == [], again
