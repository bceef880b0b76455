"""SFTP-only accounts (issue 15): the inventory's user is the site's own account, and its "shell" is
``ForceCommand internal-sftp`` — no command runs, whatever it asks.  fix502 must say so, read the
account's files over SFTP, probe the site from the controller (to the origin SSH reached), make the
WordPress-level fixes through SFTP with the journal in the account, roll back what did not help, do
nothing the second time, undo a run with ``fix502 rollback`` over SFTP — and for an FPM outage
change nothing and hand over a bundle that says it needs root."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.integration.conftest import fix502, host, snapshot
from tests.lab import faults, lab

SFTP_HOST = "web102"
CHROOT_HOST = "web104"
WC = "/var/www/wordpress/wp-content"
STATE = "/var/www/.fix502"


def run(out: Path, *extra: str) -> dict[str, object]:
    inv = lab.write_inventory([lab.get(SFTP_HOST)], out.parent / f"inventory-{SFTP_HOST}.yml")
    res = fix502("fix-502", "--host", SFTP_HOST, "--inventory", str(inv), "--yes", "--report-json", str(out), *extra)
    assert res.returncode in (0, 1, 4), res.stdout + res.stderr  # a result, never a traceback
    r: dict[str, object] = json.loads(out.read_text())["hosts"][SFTP_HOST]
    r["_stdout"] = res.stdout
    return r


def actions(r: dict[str, object]) -> dict[str, dict[str, object]]:
    return {a["id"]: a for a in r["actions"]}  # type: ignore[attr-defined]


def _no_shell_ran(h: lab.LabHost) -> None:
    """The sshd really is SFTP-only for the account: a command gets the SFTP server, not a shell."""
    assert "ForceCommand internal-sftp" in h.read("/etc/ssh/sshd_config")


def test_plugin_fault_behind_a_cached_page_is_fixed_over_sftp(tmp_path: Path) -> None:
    h = host(SFTP_HOST, login="sftp")
    _no_shell_ran(h)
    faults.apply(h, "stale-page-cache", "segfault-plugin")
    page = f"{WC}/cache/supercache/{h.addr}/index.html"
    assert h.http("/")[0] == 502 and h.path(page).exists()
    r = run(tmp_path / "r.json")
    access = r["access"]
    assert access["shell"] is False and access["sftp"] is True and access["privilege"] == "none", access  # type: ignore[index]
    assert "SFTP only" in str(r["_stdout"])
    assert r["status"] == "fixed" and "worker-crash" in r["causes"], r  # type: ignore[operator]
    done = actions(r)
    # moving the cache aside did not help: rolled back over SFTP, the cached page is where it was
    assert done["clear-page-cache"]["rolled_back"] and not done["clear-page-cache"]["verified"], done
    assert h.path(page).exists() and not h.path(f"{WC}/cache/supercache.fix502-off").exists()
    assert done["bisect-plugins"]["verified"] and faults.CULPRIT in str(done["bisect-plugins"]["note"]), done
    assert "bisect-plugins: verified (HTTP 200 (from the controller))" in str(r["_stdout"])
    assert h.path(f"{WC}/plugins.fix502-off/{faults.CULPRIT}").is_dir()
    assert not h.path(f"{WC}/mu-plugins/fix502-bisect.php").exists()
    assert h.http("/")[0] == 200
    journals = list(h.path(f"{STATE}/backups").glob("*/journal.jsonl"))
    assert journals and all(j.stat().st_mode & 0o077 == 0 for j in journals)
    assert not h.path(f"{STATE}/lock").exists()  # released
    assert not h.path("/var/backups/fix502").exists() or not any(h.path("/var/backups/fix502").iterdir())
    again = run(tmp_path / "again.json")
    assert again["status"] == "healthy" and again["actions"] == [], again


def test_cache_dropin_is_moved_aside_and_rollback_undoes_it_over_sftp(tmp_path: Path) -> None:
    h = host(SFTP_HOST, login="sftp")
    faults.apply(h, "cache-dropin")
    assert h.http("/")[0] == 502
    r = run(tmp_path / "r.json")
    assert r["status"] == "fixed" and actions(r)["clear-page-cache"]["verified"], r
    assert h.path(f"{WC}/object-cache.php.fix502-off").read_text() == faults.CACHE_DROPIN  # moved, not deleted
    assert not h.path(f"{WC}/object-cache.php").exists() and h.http("/")[0] == 200
    again = run(tmp_path / "again.json")
    assert again["status"] == "healthy" and again["actions"] == [], again
    undo = fix502("rollback", "--host", SFTP_HOST, "--inventory", str(tmp_path / f"inventory-{SFTP_HOST}.yml"))
    assert undo.returncode == 0 and "rolled back run" in undo.stdout and "over SFTP" in undo.stdout, (
        undo.stdout + undo.stderr
    )
    assert h.path(f"{WC}/object-cache.php").read_text() == faults.CACHE_DROPIN
    assert not h.path(f"{WC}/object-cache.php.fix502-off").exists()


def test_memory_exhaustion_raises_wp_memory_limit_over_sftp_with_a_backup(tmp_path: Path) -> None:
    h = host(SFTP_HOST, login="sftp")
    faults.apply(h, "memory-hungry-plugin")
    config = "/var/www/wordpress/wp-config.php"
    before, st = h.read(config), h.path(config).stat()
    assert h.http("/")[0] == 500
    r = run(tmp_path / "r.json")
    assert r["status"] == "fixed" and actions(r)["raise-wp-memory-limit"]["verified"], r
    after = h.read(config)
    added = [ln for ln in after.split("\n") if ln not in before.split("\n")]
    assert len(added) == 1 and added[0].startswith("define( 'WP_MEMORY_LIMIT', '256M' );"), added
    now = h.path(config).stat()
    assert (now.st_uid, now.st_gid, now.st_mode) == (st.st_uid, st.st_gid, st.st_mode)  # owner and mode kept
    assert not list(h.path("/var/www/wordpress").glob(".fix502.*"))  # no temp file left beside it
    backups = [b for b in h.path(f"{STATE}/backups").glob("*/files/*") if not b.name.endswith(".meta")]
    assert any(b.read_text() == before and b.stat().st_mode & 0o077 == 0 for b in backups)
    password = re.search(r"define\( 'DB_PASSWORD', '([^']+)'", before)
    assert password and password.group(1) not in (tmp_path / "r.json").read_text() + str(r["_stdout"])
    again = run(tmp_path / "again.json")
    assert again["status"] == "healthy" and again["actions"] == [], again


def _unchanged(before: dict[str, str], after: dict[str, str]) -> list[str]:
    keys = (set(before) | set(after)) - {k for k in set(after) - set(before) if k.startswith("var/www/.fix502")}
    return sorted(k for k in keys if before.get(k) != after.get(k))


def test_fpm_down_over_sftp_ends_in_a_bundle_that_says_it_needs_root(tmp_path: Path) -> None:
    h = host(SFTP_HOST, login="sftp")
    faults.apply(h, "fpm-stopped")
    before = snapshot(h)
    r = run(tmp_path / "r.json")
    assert r["status"] == "escalated" and r["causes"] == ["unknown"], r
    assert all(not a["changed"] for a in r["actions"]), r["actions"]  # type: ignore[attr-defined]
    assert _unchanged(before, snapshot(h)) == [] and h.http("/")[0] == 502 and not h.fpm_pids()
    md = Path(str(r["bundle"])).read_text()
    data = json.loads(Path(str(r["bundle"])).with_suffix(".json").read_text())
    assert "needs root" in md and data["needs_root"], md
    assert "**Active plugins**: unknown (no shell (SFTP only)" in md and data["plugins"]["active"] is None
    answered = data["site_answered"]
    assert answered["at_the_origin_from_the_controller"].startswith("HTTP 502") and "on_the_host" not in answered
    assert data["edge"]["origin_status_bypassing_edge"] == 502  # not masked as a "password"
    assert any("PHP-FPM" in u for u in data["unknown"]) and any("SFTP only" in u for u in data["unknown"])
    password = re.search(r"define\( 'DB_PASSWORD', '([^']+)'", h.read("/var/www/wordpress/wp-config.php"))
    assert password and password.group(1) not in md + json.dumps(data)


def test_a_dry_run_over_sftp_writes_nothing_at_all(tmp_path: Path) -> None:
    h = host(SFTP_HOST, login="sftp")
    faults.apply(h, "segfault-plugin")
    before = snapshot(h)
    r = run(tmp_path / "r.json", "--dry-run")
    assert r["status"] == "planned" and "bisect-plugins" in actions(r), r
    assert snapshot(h) == before and not h.path(STATE).exists()  # not even the account's .fix502


def test_a_chrooted_sftp_account_is_fixed_in_its_jails_own_paths(tmp_path: Path) -> None:
    """``ChrootDirectory /var`` + ``internal-sftp -d /www``: the account sees /www/wordpress, never
    the host's paths, and everything fix502 does is said and done in the jail's terms."""
    h = host(CHROOT_HOST, login="sftp-chroot")
    assert "ChrootDirectory /var" in h.read("/etc/ssh/sshd_config")
    faults.apply(h, "cache-dropin")
    assert h.http("/")[0] == 502
    inv = lab.write_inventory([lab.get(CHROOT_HOST)], tmp_path / "inventory.yml")
    res = fix502(
        "fix-502", "--host", CHROOT_HOST, "--inventory", str(inv), "--yes", "--report-json", str(tmp_path / "r.json")
    )
    r = json.loads((tmp_path / "r.json").read_text())["hosts"][CHROOT_HOST]
    assert r["access"]["home"] == "/www" and r["access"]["sftp"] is True, (r["access"], res.stdout)
    assert r["status"] == "fixed" and [a["id"] for a in r["actions"]] == ["clear-page-cache"], r
    assert any(e["source"] == "/www/wordpress/wp-content/object-cache.php" for e in r["evidence"]), r["evidence"]
    assert h.path(f"{WC}/object-cache.php.fix502-off").read_text() == faults.CACHE_DROPIN
    assert list(h.path(f"{STATE}/backups").glob("*/journal.jsonl")) and h.http("/")[0] == 200
