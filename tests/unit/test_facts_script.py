"""The evidence script end to end: real captured runs parsed into HostFacts, and the script itself."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediations.facts.script import evidence_command, evidence_script
from tests.unit.evidence_text import FIXTURE_BOUNDARY, parse

FULL = Path(__file__).parent / "fixtures" / "facts" / "full"
LAB = "/tmp/fix502facts/root"
SOCK = f"{LAB}/run/php/php8.2-fpm.sock"


def capture(name: str) -> str:
    return (FULL / name).read_text()


def test_nginx_with_killed_fpm_master() -> None:
    f = parse(capture("nginx_fpm_killed.txt"))
    assert f.tz == "+0000" and f.now > 1.7e9
    assert f.local_probe is not None and f.local_probe.status == 502 and f.local_probe.wordpress is False
    assert f.web.kind == "nginx" and f.web.running and f.web.user == "www-data"
    assert f.web.config_test_ok is True
    [target] = f.web.fastcgi_targets
    assert (target.kind, target.address, target.directive.line) == ("unix", SOCK, 16)
    assert target.directive.file in f.files
    [svc] = f.fpm
    assert (svc.version, svc.state, svc.pid_file_stale, svc.master_pid) == ("8.2", "stopped", True, None)
    assert svc.config_test_ok is True and svc.pools[0].listen == SOCK
    assert svc.xdebug_ini is not None and svc.xdebug_ini.endswith("20-xdebug.ini")
    sock = next(s for s in f.sockets if s.path == SOCK)
    assert sock.is_socket and sock.mode == 0o660
    assert SOCK not in f.unix_listeners  # the socket file outlived its master: nobody listens
    refused = [x for x in f.logs if "(111: Connection refused)" in x.text]
    assert refused and all(x.time is not None and x.time >= f.log_window_start for x in f.logs)
    assert f.log_window_start == f.now - 900
    assert f.wordpress.active_plugins == ["akismet/akismet.php"]
    assert f"{LAB}/etc/php/8.2/fpm/pool.d/www.conf" in f.files
    assert f.file_meta[f"{LAB}/etc/php/8.2/fpm/php-fpm.conf"] == ("root", "root", 0o644)
    assert f.dmesg_readable


def test_nginx_healthy_window_starts_at_fpm_master_start() -> None:
    f = parse(capture("nginx_healthy.txt"))
    [svc] = f.fpm
    assert svc.state == "running" and svc.master_pid is not None and svc.master_started is not None
    assert svc.worker_rss_kb and all(kb > 1000 for kb in svc.worker_rss_kb)
    assert f.log_window_start == svc.master_started  # shorter than now - 900
    assert not any("Connection refused" in x.text for x in f.logs)  # those were before the restart
    assert f.local_probe is not None and f.local_probe.status == 200 and f.local_probe.wordpress
    assert f.unix_listeners[SOCK] == "php-fpm8.2"
    assert f.web.running and len(f.web.pids) >= 2  # master (from its pid file) and workers
    assert f.wordpress.root == f"{LAB}/var/www/wordpress"


def test_since_and_window_cut_logs() -> None:
    text = capture("nginx_fpm_killed.txt")
    wide = parse(text, window_seconds=3600)
    narrow = parse(text, since=wide.now - 10)
    assert narrow.log_window_start == wide.now - 10
    assert len(narrow.logs) < len(wide.logs)
    assert all(x.time is not None and x.time >= wide.now - 10 for x in narrow.logs)


def test_apache_with_fpm_stopped() -> None:
    f = parse(capture("apache_fpm_down.txt"))
    assert f.web.kind == "apache" and f.web.running and f.web.service == "apache2"
    assert {"php_module", "proxy_fcgi_module"} <= set(f.web.modules)
    [target] = f.web.fastcgi_targets
    assert (target.kind, target.address) == ("unix", SOCK)
    assert target.directive.file.endswith("sites-enabled/wordpress.conf") and target.directive.line == 13
    assert f.local_probe is not None and f.local_probe.status == 503
    assert any("AH01079" in x.text for x in f.logs)
    assert f.fpm[0].state == "stopped" and not f.fpm[0].pid_file_stale
    assert SOCK in f.missing_paths
    assert any("both nginx and apache2" in n for n in f.notes)


def test_everything_down_and_database_unreachable() -> None:
    f = parse(capture("all_down.txt"))
    assert f.local_probe is not None and f.local_probe.status is None and f.local_probe.error
    # (web.running is not asserted: with the lab's pid files gone, other developers' apache2 on the
    # same build machine counts as "a running apache2", exactly as it would on a real host)
    assert f.fpm[0].state == "stopped" and f.fpm[0].master_pid is None
    assert f.wordpress.active_plugins is None
    assert f.wordpress.data_error == "Error establishing a database connection"


def test_truncated_output_is_noted() -> None:
    text = capture("nginx_healthy.txt")
    f = parse(text[: text.index(f"\n==fix502:{FIXTURE_BOUNDARY} meminfo==")])
    assert any("incomplete" in n for n in f.notes)
    assert f.resources.mem_total_kb is None


def test_no_secret_reaches_the_output(tmp_path: Path) -> None:
    """Runs the real script against a WordPress root whose wp-config.php holds secrets: none of
    them may appear in what it prints (it reads the site's version and plugin list, never the config)."""
    dash = shutil.which("dash") or "sh"
    wp = tmp_path / "var/www/wordpress"
    (wp / "wp-includes").mkdir(parents=True)
    (wp / "wp-content/plugins/akismet").mkdir(parents=True)
    (wp / "wp-load.php").write_text("<?php\n")
    (wp / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.4.2';\n")
    (wp / "wp-config.php").write_text(
        "<?php\ndefine( 'DB_PASSWORD', 'labpass-9Kq' );\ndefine( 'AUTH_KEY', 'lab-auth-key-7Zr' );\n"
    )
    env = {**os.environ, "FIX502_ROOT": str(tmp_path), "FIX502_PROBE_ADDR": "127.0.0.209"}
    cmd = [dash, "-c", evidence_script(), "fix502-evidence", "http://wp.test:8089/", "20"]
    out = subprocess.run(
        cmd, env=env, input=FIXTURE_BOUNDARY + "\n", capture_output=True, text=True, timeout=120
    ).stdout
    assert parse(out).wordpress.version == "6.4.2"  # the root was really read
    assert "labpass-9Kq" not in out and "lab-auth-key-7Zr" not in out and "DB_PASSWORD" not in out


@given(st.text(min_size=1, max_size=80).filter(lambda s: "\x00" not in s), st.integers(1, 100000))
def test_command_quotes_every_value(url: str, lines: int) -> None:
    argv = shlex.split(evidence_command(url, lines))
    assert argv[:2] == ["sh", "-c"] and argv[2] == evidence_script()
    assert argv[3:] == ["fix502-evidence", url, str(lines)]


def test_script_is_posix_sh() -> None:
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash not installed")
    subprocess.run([dash, "-n", "-c", evidence_script()], check=True)
    # bash-isms; `function f {` / `function f() {` is bash, awk's `function f(arg) {` (inside a string) is fine
    bashisms = r"\[\[ |^\s*function \w+\s*(\(\s*\))?\s*\{|\$\{\w+//|<<<|^\s*local "
    assert not re.search(bashisms, evidence_script(), re.M)
    assert not re.search(r"(cat|head|tail|grep|sed)[^\n]*wp-config", evidence_script())  # only via wp-load


def test_both_evidence_scripts_run_the_one_wordpress_php(tmp_path: Path) -> None:
    """Root's and the account's evidence read WordPress's options with the same PHP (wp_data.php):
    embedded quoted, so the shell hands ``php -r`` exactly the file's text."""
    from remediations.facts.account import account_script
    from remediations.facts.shipped import PLACEHOLDER, WP_DATA_PHP

    php = (Path(__file__).parents[2] / "remediations/facts" / WP_DATA_PHP).read_text().rstrip("\n")
    for script in (evidence_script(), account_script()):
        assert PLACEHOLDER not in script and script.count(shlex.quote(php)) == 1
        assert "code=" + shlex.quote(php) in script
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash not installed")
    subprocess.run([dash, "-n", "-c", account_script()], check=True)
    # what the shell assigns to $code is the file's text, byte for byte
    got = subprocess.run(
        [dash, "-c", "code=" + shlex.quote(php) + '; printf %s "$code"'], capture_output=True, text=True
    )
    assert got.stdout == php


def test_script_runs_under_dash_against_an_empty_root(tmp_path: Path) -> None:
    """Runs the real script (read-only) with every default path under an empty prefix."""
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash not installed")
    env = {**os.environ, "FIX502_ROOT": str(tmp_path), "FIX502_PROBE_ADDR": "127.0.0.209"}
    cmd = [dash, "-c", evidence_script(), "fix502-evidence", "http://wp.test:8089/", "20"]
    out = subprocess.run(
        cmd, env=env, input=FIXTURE_BOUNDARY + "\n", capture_output=True, text=True, timeout=120
    ).stdout
    f = parse(out)
    assert not any("incomplete" in n for n in f.notes)
    assert f.now > 0 and f.resources.mem_total_kb
    assert f.local_probe is not None and f.local_probe.status is None
    assert f.fpm == [] and f.wordpress.root is None
