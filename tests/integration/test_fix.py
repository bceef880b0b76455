"""`invoke fix-502` on real lab faults (issues 3 and 5): the site answers 200 with real WordPress
content, the report names the cause and the fix (changed, verified), a second run changes nothing,
a dry run changes nothing, and a forced verification failure rolls the host back byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, fix502, host, inventory, snapshot
from tests.lab import faults, lab

# fault -> (web server, cause the report must name, fix that must be changed and verified)
CASES = {
    "fpm-stopped": ("nginx", "fpm-down", "restart-fpm"),
    "fpm-killed": ("nginx", "fpm-down", "restart-fpm"),
    "old-php-socket": ("nginx", "socket-mismatch", "realign-fastcgi-pass"),
    "tcp-port-mismatch": ("nginx", "socket-mismatch", "realign-fastcgi-pass"),
    "socket-permissions": ("nginx", "socket-permission", "fix-socket-permissions"),
    "big-headers-plugin": ("nginx", "header-too-big", "raise-fastcgi-buffers"),
    "segfault-plugin": ("nginx", "worker-crash", "bisect-plugins"),
    "request-timeout": ("nginx", "worker-timeout", "bisect-plugins"),
    "pool-exhausted": ("nginx", "pool-exhausted", "size-max-children"),
    "short-read-timeout": ("nginx", "read-timeout", "raise-fastcgi-read-timeout"),
    "xdebug-slows-plugin": ("nginx", "worker-timeout", "disable-xdebug"),
    "apache-wrong-socket": ("apache", "socket-mismatch", "realign-apache-handler"),
    "apache-mod-php": ("apache", "apache-handler-conflict", "resolve-apache-handler-conflict"),
}


def masters(h: lab.LabHost) -> dict[str, int]:
    """Master process of each service (workers may legitimately be replaced: a probe can crash one)."""
    return {k: min(v) for k, v in h.service_pids().items() if k in ("nginx", "apache2", "php-fpm8.2")}


def lab_host(fault: str) -> lab.LabHost:
    web = CASES[fault][0]
    return host("web6" if web == "apache" else "web5", web)


def run_fix(name: str, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    res = fix502("fix-502", "--host", name, "--inventory", inventory(), "--report-json", str(out), *extra)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res, json.loads(out.read_text())["hosts"][name]


@pytest.mark.parametrize("fault", sorted(CASES))
def test_fix_502_fixes_the_fault_and_a_second_run_changes_nothing(fault: str, tmp_path: Path) -> None:
    _web, cause, fix_id = CASES[fault]
    h = lab_host(fault)
    faults.apply(h, fault)
    res, r = run_fix(h.name, tmp_path / "1.json", "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    assert r["status"] == "fixed"
    status, body = h.http("/")
    assert status == 200 and '<meta name="generator" content="WordPress' in body
    first = json.loads((tmp_path / "1.json").read_text())
    assert first["hosts"][h.name]["actions"], "no action recorded"
    acted = {a["id"]: a for a in r["actions"]}
    assert fix_id in acted and acted[fix_id]["changed"] and acted[fix_id]["verified"], r["actions"]
    # the cause was named before the fix, with the evidence that proves it
    assert cause in r["causes"], r["causes"]
    assert any(e["cause"] == cause and e["line"] for e in r["evidence"]), r["evidence"]
    before = snapshot(h)
    res2, r2 = run_fix(h.name, tmp_path / "2.json", "--yes")
    assert res2.returncode == 0
    assert r2["status"] == "healthy" and r2["actions"] == []
    assert snapshot(h) == before


def test_bisection_finds_the_culprit_in_log2_probes_and_restores_the_others(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "segfault-plugin")
    assert lab.PLUGINS.index(faults.CULPRIT) not in (0, len(lab.PLUGINS) - 1)
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    bisect = next(a for a in r["actions"] if a["id"] == "bisect-plugins")
    assert f"culprit plugin {faults.CULPRIT}" in bisect["note"]
    # 9 active plugins, per request: the signed echo + all off + ceil(log2 9) = 4 bisection steps
    # at most (one retry when one fails, then an echo to tell a crash from a busy pool) + the
    # check without the culprit + the final unsigned probe — fewer than one probe per plugin and retry.
    assert bisect["probes"] <= 2 + 4 * 3 + 2 < 2 * len(lab.PLUGINS)
    _, body = h.http("/")
    for slug in lab.PLUGINS:
        assert (f"<!-- {slug} active -->" in body) == (slug != faults.CULPRIT)
    plugins = {p.name for p in h.path("/var/www/wordpress/wp-content/plugins").iterdir()}
    assert faults.CULPRIT not in plugins
    assert set(lab.PLUGINS) - {faults.CULPRIT} <= plugins


@pytest.mark.parametrize(
    "fault", ["fpm-stopped", "old-php-socket", "segfault-plugin", "apache-wrong-socket", "xdebug-slows-plugin"]
)
def test_dry_run_prints_the_plan_and_changes_nothing(fault: str, tmp_path: Path) -> None:
    h = lab_host(fault)
    faults.apply(h, fault)
    before, pids = snapshot(h), masters(h)
    res, r = run_fix(h.name, tmp_path / "r.json", "--dry-run")
    assert res.returncode == 0, res.stdout[-2000:]
    assert r["status"] == "planned"
    assert r["actions"] and all(not a["changed"] for a in r["actions"])
    assert "=== plan for" in res.stdout
    if fault == "old-php-socket":
        assert "-\t\tfastcgi_pass unix:/run/php/php8.1-fpm.sock;" in res.stdout
        assert "+\t\tfastcgi_pass unix:/run/php/php8.2-fpm.sock;" in res.stdout
    assert snapshot(h) == before
    assert masters(h) == pids
    assert not h.path("/var/backups/fix502").exists()
    assert not h.path("/run/fix502.lock").exists()


FORCED_FAIL = """name: forced-verification-failure
steps:
  - diagnose: {}
  - fix: FIX
    verify: {retries: 1, delay: 0.2, path: /fix502-this-page-does-not-exist}
"""


@pytest.mark.parametrize(
    "fault",
    [
        "old-php-socket",
        "socket-permissions",
        "big-headers-plugin",
        "segfault-plugin",
        "apache-wrong-socket",
        "pool-exhausted",
        "xdebug-slows-plugin",
    ],
)
def test_failed_verification_rolls_back_to_byte_identical_files(fault: str, tmp_path: Path) -> None:
    _web, _cause, fix_id = CASES[fault]
    h = lab_host(fault)
    faults.apply(h, fault)
    before = snapshot(h)
    book = tmp_path / "forced.yml"
    book.write_text(FORCED_FAIL.replace("FIX", fix_id))
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes", "--playbook", str(book))
    assert res.returncode == 1
    acted = {a["id"]: a for a in r["actions"]}
    assert acted[fix_id]["changed"] and acted[fix_id]["rolled_back"] and not acted[fix_id]["verified"]
    assert r["status"] == "escalated" and r["bundle"]
    assert snapshot(h) == before


def test_escalation_on_fpm_config_error_names_file_and_line(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "fpm-config-error")
    before = snapshot(h)
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes")
    assert res.returncode == 1
    assert r["status"] == "escalated"
    assert "fpm-config-error" in r["causes"]
    note = next(a for a in r["actions"] if a["id"] == "restart-fpm")["note"]
    assert "/etc/php/8.2/fpm/pool.d/www.conf:" in note and "invalid process manager" in note
    md = Path(r["bundle"]).read_text()
    json_bundle = json.loads(Path(r["bundle"]).with_suffix(".json").read_text())
    assert "127.0.0." in json_bundle["url"] and json_bundle["timezone"]
    assert "lab-seo/lab-seo.php" in md  # active plugins listed
    wp_config = h.read("/var/www/wordpress/wp-config.php")
    secret = wp_config.split("'DB_PASSWORD', '")[1].split("'")[0]
    assert secret not in md and secret not in res.stdout and secret not in json.dumps(json_bundle)
    assert snapshot(h) == before


def test_rollback_after_the_controller_was_killed(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "segfault-plugin")
    before = snapshot(h)
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "fix-502", "--host", h.name, "--inventory", inventory(), "--yes"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Wait until the bisection has renamed the plugins directory, then kill the controller outright.
    deadline = time.time() + 120
    while time.time() < deadline and not h.path("/var/www/wordpress/wp-content/plugins.fix502-off").exists():
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert h.path("/var/www/wordpress/wp-content/plugins.fix502-off").exists()
    res = fix502("rollback", "--host", h.name, "--inventory", inventory())
    assert res.returncode == 0, res.stdout + res.stderr
    assert "rolled back run" in res.stdout
    assert snapshot(h) == before
    assert h.http("/")[0] == 502  # the fault is back, exactly as it was: nothing half-done remains


def test_crash_loop_guard_is_set_on_a_crashing_host(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "segfault-plugin")
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    guard = next(a for a in r["actions"] if a["id"] == "enable-emergency-restart")
    assert guard["changed"] and guard["verified"] and not guard["rolled_back"]
    conf = h.read("/etc/php/8.2/fpm/php-fpm.conf")
    assert "\nemergency_restart_threshold = 10\n" in conf
    assert "\nemergency_restart_interval = 1m\n" in conf
    assert h.sh("php-fpm8.2 -t 2>&1").returncode == 0


def test_theme_fallback_only_when_plugins_are_innocent(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "segfault-theme")
    assert h.http("/")[0] == 502
    plugins_before = sorted(p.name for p in h.path("/var/www/wordpress/wp-content/plugins").iterdir())
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    acted = {a["id"]: a for a in r["actions"]}
    # plugins were tried first and put back exactly as they were
    assert acted["bisect-plugins"]["changed"] and acted["bisect-plugins"]["rolled_back"]
    assert sorted(p.name for p in h.path("/var/www/wordpress/wp-content/plugins").iterdir()) == plugins_before
    assert acted["fallback-theme"]["changed"] and acted["fallback-theme"]["verified"]
    status, body = h.http("/")
    assert status == 200 and 'content="WordPress' in body
    assert "twentytwentythree" in body and "<!-- lab-seo active -->" in body  # default theme, plugins active


def test_theme_fallback_rolls_back_through_its_inverse_command(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "segfault-theme")
    book = tmp_path / "forced.yml"
    book.write_text(FORCED_FAIL.replace("FIX", "fallback-theme"))
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes", "--playbook", str(book))
    assert res.returncode == 1
    theme = next(a for a in r["actions"] if a["id"] == "fallback-theme")
    assert theme["changed"] and theme["rolled_back"]
    # WordPress's own data says lab-classic again (the inverse command ran), and the crash is back
    out = h.sh(
        'cd /var/www/wordpress && php -r \'define("SHORTINIT", true); $_SERVER["HTTP_HOST"]="x"; '
        'require "wp-load.php"; echo get_option("template"), " ", get_option("stylesheet");\''
    )
    assert out.stdout.strip().endswith("lab-classic lab-classic"), out.stdout
    assert h.http("/")[0] == 502


def test_xdebug_is_disabled_for_fpm_only_and_rolled_back_when_it_was_not_the_cause(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "xdebug-in-fpm", "request-timeout")
    link = "/etc/php/8.2/fpm/conf.d/20-xdebug.ini"
    assert h.path(link).is_symlink()
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    acted = {a["id"]: a for a in r["actions"]}
    # xdebug was a suspect (it slows and crashes workers), tried, and put back when the timeouts stayed
    assert acted["disable-xdebug"]["changed"] and acted["disable-xdebug"]["rolled_back"]
    assert h.path(link).is_symlink() and not h.path(link + ".fix502-disabled").exists()
    assert acted["bisect-plugins"]["verified"] and "lab-analytics" in acted["bisect-plugins"]["note"]
    # the CLI SAPI was never touched
    assert h.path("/etc/php/8.2/cli/conf.d/20-xdebug.ini").exists()


def test_xdebug_that_slows_a_heavy_plugin_past_the_timeout_is_the_cure_not_the_plugin(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "xdebug-slows-plugin")
    link = "/etc/php/8.2/fpm/conf.d/20-xdebug.ini"
    res, r = run_fix(h.name, tmp_path / "r.json", "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    acted = {a["id"]: a for a in r["actions"]}
    assert "worker-timeout" in r["causes"]
    assert acted["disable-xdebug"]["verified"] and not acted["disable-xdebug"]["rolled_back"]
    assert "bisect-plugins" not in acted  # the heavy plugin stays: it fits once xdebug is gone
    assert h.path(link + ".fix502-disabled").exists() and not h.path(link).exists()
    assert h.path("/etc/php/8.2/cli/conf.d/20-xdebug.ini").exists()  # the CLI SAPI keeps it
    fpm, cli = h.sh("php-fpm8.2 -m | grep -ci xdebug; php -m | grep -ci xdebug").stdout.split()
    assert fpm == "0" and int(cli) > 0, (fpm, cli)  # PHP's own module list, per SAPI


def test_xdebug_plan_renames_only_the_fpm_link(tmp_path: Path) -> None:
    h = host("web5")
    faults.apply(h, "xdebug-in-fpm", "request-timeout")
    res, r = run_fix(h.name, tmp_path / "r.json", "--dry-run")
    assert res.returncode == 0
    plan = next(a for a in r["actions"] if a["id"] == "disable-xdebug")
    assert (
        "rename /etc/php/8.2/fpm/conf.d/20-xdebug.ini -> /etc/php/8.2/fpm/conf.d/20-xdebug.ini.fix502-disabled"
        in res.stdout
    )
    assert not plan["changed"]
