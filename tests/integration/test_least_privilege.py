"""``--least-privilege`` on a root-capable host (issue 15): the WordPress-level fixes work there as
they do from the site's account — the root evidence reads the drop-ins, page caches, the site's own
PHP log and wp-config.php (never through WordPress's PHP, never through a link) — while nothing that
needs root (a service restart, an FPM or web server edit) is run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.integration.conftest import fix502, host
from tests.lab import faults, lab

DROPIN_HOST = "web140"
MEMORY_HOST = "web141"
WC = "/var/www/wordpress/wp-content"
CONFIG = "/var/www/wordpress/wp-config.php"


def run(name: str, out: Path, *extra: str) -> dict[str, object]:
    # our own inventory: the lab's shared one is rewritten by whichever lab.py brought a host up last
    inv = lab.write_inventory([lab.get(name)], out.parent / f"inventory-{name}.yml")
    res = fix502("fix-502", "--host", name, "--inventory", str(inv), "--yes", "--report-json", str(out), *extra)
    r: dict[str, object] = json.loads(out.read_text())["hosts"][name]
    r["_stdout"] = res.stdout + res.stderr
    return r


def actions(r: dict[str, object]) -> dict[str, dict[str, object]]:
    return {a["id"]: a for a in r["actions"]}  # type: ignore[attr-defined]


def masters(h: lab.LabHost) -> list[str]:
    """The FPM and nginx master pids: the same before and after means nothing was restarted."""
    return h.sh("pgrep -f '^(php-fpm: master|nginx: master)' | sort || true").stdout.split()


def test_a_cache_dropin_is_moved_aside_under_least_privilege_on_a_root_host(tmp_path: Path) -> None:
    h = host(DROPIN_HOST)
    faults.apply(h, "cache-dropin")
    assert h.http("/")[0] == 502
    before = masters(h)
    nginx_conf = h.read("/etc/nginx/sites-available/wordpress")
    r = run(DROPIN_HOST, tmp_path / "r.json", "--least-privilege")
    assert r["access"]["privilege"] == "root", r["access"]  # type: ignore[index]
    assert r["status"] == "fixed" and "worker-crash" in r["causes"], r  # type: ignore[operator]
    assert any(e["source"] == f"{WC}/object-cache.php" for e in r["evidence"]), r["evidence"]  # type: ignore[attr-defined]
    done = actions(r)
    assert done["clear-page-cache"]["verified"] and [a for a in done if done[a]["changed"]] == ["clear-page-cache"]
    needs_root = [str(n) for n in r["needs_root"]]  # type: ignore[attr-defined]
    assert any(n.startswith("enable-emergency-restart") and "--least-privilege" in n for n in needs_root), needs_root
    assert not h.path(f"{WC}/object-cache.php").exists()
    assert h.path(f"{WC}/object-cache.php.fix502-off").read_text() == faults.CACHE_DROPIN  # moved, not deleted
    assert masters(h) == before and h.read("/etc/nginx/sites-available/wordpress") == nginx_conf  # nothing restarted
    assert h.http("/")[0] == 200
    again = run(DROPIN_HOST, tmp_path / "again.json", "--least-privilege")
    assert again["status"] == "healthy" and again["actions"] == [], again


def test_memory_exhaustion_raises_wp_memory_limit_under_least_privilege_with_a_backup(tmp_path: Path) -> None:
    h = host(MEMORY_HOST)
    faults.apply(h, "memory-hungry-plugin")
    before = h.read(CONFIG)
    owner = h.path(CONFIG).stat()
    assert h.http("/")[0] == 500
    pids = masters(h)
    r = run(MEMORY_HOST, tmp_path / "r.json", "--least-privilege")
    assert r["status"] == "fixed" and r["causes"][0] == "not-502", r  # type: ignore[index]
    assert any("Allowed memory size" in e["line"] for e in r["evidence"]), r["evidence"]  # type: ignore[attr-defined]
    assert actions(r)["raise-wp-memory-limit"]["verified"], r["actions"]
    after = h.read(CONFIG)
    added = [ln for ln in after.split("\n") if ln not in before.split("\n")]
    assert len(added) == 1 and added[0].startswith("define( 'WP_MEMORY_LIMIT', '256M' );"), added
    now = h.path(CONFIG).stat()
    assert (now.st_uid, now.st_gid, now.st_mode) == (owner.st_uid, owner.st_gid, owner.st_mode)
    backups = list(h.path("/var/backups/fix502").glob("*/files/*"))  # root's journal, as for any root run
    assert any(b.read_text() == before for b in backups if not b.name.endswith(".meta"))
    password = re.search(r"define\( 'DB_PASSWORD', '([^']+)'", before)
    assert password and password.group(1) not in (tmp_path / "r.json").read_text() + str(r["_stdout"])
    assert masters(h) == pids and h.http("/")[0] == 200
    again = run(MEMORY_HOST, tmp_path / "again.json", "--least-privilege")
    assert again["status"] == "healthy" and again["actions"] == [], again


def test_without_the_flag_a_root_run_also_moves_the_dropin_aside_after_the_fpm_fixes(tmp_path: Path) -> None:
    """The default playbook offers the WordPress-level fixes to root runs too (their guards decide):
    before this the root evidence never saw a drop-in, and parking plugins cannot help against one."""
    h = host(DROPIN_HOST)
    faults.apply(h, "cache-dropin")
    r = run(DROPIN_HOST, tmp_path / "r.json")
    assert r["status"] == "fixed" and r["needs_root"] == [], r
    assert [a["id"] for a in r["actions"]] == ["enable-emergency-restart", "clear-page-cache"], r["actions"]  # type: ignore[attr-defined]
    assert actions(r)["clear-page-cache"]["verified"] and "bisect-plugins" not in actions(r)
    assert h.path(f"{WC}/object-cache.php.fix502-off").read_text() == faults.CACHE_DROPIN
    assert h.http("/")[0] == 200
