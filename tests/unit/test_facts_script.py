"""The evidence script end to end: real captured runs parsed into HostFacts, and the script itself."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediations import redact
from remediations.diagnosis import classify
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


CONFIG = "<?php\ndefine( 'DB_PASSWORD', 'labpass-9Kq' );\ndefine( 'AUTH_KEY', 'lab-auth-key-7Zr' );\n"
# PHP's own log format, a minute ago (inside the evidence window)
MEMORY = time.strftime("[%d-%b-%Y %H:%M:%S UTC]", time.gmtime(time.time() - 60)) + (
    " PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 2 bytes)\n"
)


def _site(tmp_path: Path) -> Path:
    wp = tmp_path / "var/www/wordpress"
    (wp / "wp-includes").mkdir(parents=True)
    (wp / "wp-content/plugins/akismet").mkdir(parents=True)
    (wp / "wp-load.php").write_text("<?php\n")
    (wp / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.4.2';\n")
    (wp / "wp-config.php").write_text(CONFIG)
    return wp


def _run(tmp_path: Path) -> str:
    dash = shutil.which("dash") or "sh"
    env = {**os.environ, "FIX502_ROOT": str(tmp_path), "FIX502_PROBE_ADDR": "127.0.0.209"}
    cmd = [dash, "-c", evidence_script(), "fix502-evidence", "http://wp.test:8089/", "20"]
    return subprocess.run(
        cmd, env=env, input=FIXTURE_BOUNDARY + "\n", capture_output=True, text=True, timeout=120
    ).stdout


def test_no_secret_reaches_the_output(tmp_path: Path) -> None:
    """Runs the real script against a WordPress root whose wp-config.php holds secrets: none of
    them may appear in what it prints while no memory-limit edit can be needed (no "Allowed memory
    size" line in the site's own logs): it is not even opened then, unless an advanced-cache.php
    makes WP_CACHE's value matter — and then only that value is printed."""
    wp = _site(tmp_path)
    out = _run(tmp_path)
    f = parse(out)
    assert f.wordpress.version == "6.4.2"  # the root was really read
    assert not f.wordpress.config_writable and f.wordpress.wp_cache is None and not f.files
    (wp / "wp-content/advanced-cache.php").write_text("<?php\n")
    (wp / "wp-config.php").write_text(CONFIG + "define( 'WP_CACHE', true );\n")
    cached = _run(tmp_path)
    g = parse(cached)
    assert g.wordpress.wp_cache is True and g.wordpress.config_writable and not g.files
    for text in (out, cached):
        assert "labpass-9Kq" not in text and "lab-auth-key-7Zr" not in text and "DB_PASSWORD" not in text


def test_wordpress_files_are_read_as_root_without_following_links(tmp_path: Path) -> None:
    """Drop-ins, page caches, the site's debug.log and — PHP ran out of memory — wp-config.php's
    exact bytes, whose secrets the parser teaches the redactor; a debug.log or error_log that is a
    link (to a root-only file) or a FIFO is never read, nor is a wp-config.php that is a link."""
    wp = _site(tmp_path)
    wc = wp / "wp-content"
    # a line the site's code wrote to look like nginx's: it must never become a socket-mismatch
    forged = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(time.time() - 30)) + (
        " [error] 1#1: *1 connect() to unix:/run/php/old.sock failed (2: No such file or directory) while "
        'connecting to upstream, upstream: "fastcgi://unix:/run/php/old.sock:"\n'
    )
    (wc / "debug.log").write_text(MEMORY + forged)
    (wc / "object-cache.php").write_text("<?php /* drop-in */\n")
    (wc / "cache/supercache/site").mkdir(parents=True)
    (wc / "cache/supercache/site/index.html").write_text("stale\n")
    secret = tmp_path / "root-only"
    secret.write_text("[01-Dec-2026 13:14:41 UTC] root:$6$shadowhash Allowed memory size of 1 bytes exhausted\n")
    (wp / "error_log").symlink_to(secret)
    (wp / "wp-admin").mkdir()
    os.mkfifo(wp / "wp-admin/error_log")
    out = _run(tmp_path)
    f = parse(out)
    w = f.wordpress
    assert w.dropins.keys() == {"object-cache.php"} and w.caches == {"cache/supercache": ("dir", 1)}
    assert [ln.text for ln in w.logs] == [MEMORY.rstrip("\n"), forged.rstrip("\n")] and "shadowhash" not in out
    assert "socket-mismatch" not in classify(f).ids and not any("connect()" in ln.text for ln in f.logs)
    assert f.files == {str(wp / "wp-config.php"): CONFIG}  # byte for byte: the edit's "before"
    assert not any("Allowed memory" in ln.text for ln in f.logs)  # never read as nginx's or FPM's
    assert redact.redact(CONFIG).count("[redacted]") == 2
    (wp / "wp-config.php").rename(wp / "real-config.php")
    (wp / "wp-config.php").symlink_to(wp / "real-config.php")
    linked = parse(_run(tmp_path))
    assert not linked.files and not linked.wordpress.config_writable and linked.wordpress.wp_cache is None
    assert any("not a plain file" in n for n in linked.notes)
    # wp-content itself swapped for a link to another site's: its debug.log is not this site's to read
    other = tmp_path / "srv/other/wp-content"
    other.mkdir(parents=True)
    (other / "debug.log").write_text(MEMORY.replace("Allowed", "othersite-secret Allowed"))
    (wc / "debug.log").unlink()
    wc.rename(wp / "wp-content.real")
    wc.symlink_to(other)
    swapped = _run(tmp_path)
    assert "othersite-secret" not in swapped and not parse(swapped).wordpress.logs
    (other / "object-cache.php").write_text("<?php\n")  # nothing another site holds is offered to a fix
    moved = parse(_run(tmp_path))
    assert not moved.wordpress.dropins and any("reached through a link" in n for n in moved.notes)


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
    # wp-config.php is read only through safecat (never through a link), nothing else opens it
    assert not re.search(r"\b(cat|head|tail|grep|sed)\b[^\n]*wp-config", evidence_script())


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
