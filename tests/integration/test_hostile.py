"""Host output is hostile input, on real lab hosts (issue 12).  Hosts: web40..web44 (this module's).

What a compromised WordPress can do as www-data is done for real inside each lab host (its own
namespaces, ``setpriv`` to uid 33): write a PHP error_log() that forges an FPM section whose binary
is a file it dropped in uploads, create plugin directories with newlines in their names, rewrite
wp-load.php, race the journal in wp-content, and give the site a title full of terminal escapes.
fix502 then runs against the host over real SSH, as an on-call engineer would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations.facts.script import evidence_command, evidence_stdin, new_boundary
from remediations.inventory import load_inventory
from remediations.remote import collect
from remediations.transport import connect
from tests.integration.conftest import REPO, fix502, host, inventory
from tests.lab import faults, lab
from tests.unit.test_terminal import run_on_pty

pytestmark = pytest.mark.integration

WP = "/var/www/wordpress"
UPLOADS_BIN = f"{WP}/wp-content/uploads/php-fpm8.2"
RAN = f"{WP}/wp-content/uploads/ran-as"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def WEB_USER(pid: int) -> list[str]:
    """argv prefix: inside the lab host's namespaces, as www-data (uid 33), no root capabilities."""
    return ["nsenter", "-t", str(pid), "-m", "-p", "--", "setpriv", "--reuid=33", "--regid=33", "--clear-groups", "--"]


@pytest.fixture(autouse=True, scope="module")
def _remove_our_bundles() -> Iterator[None]:
    yield
    for p in (REPO / "reports/escalations").glob("*-web4[0-4].*"):
        p.unlink()


def as_web_user(h: lab.LabHost, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``sh -c script`` inside the host as www-data (uid 33), as a compromised site's PHP would."""
    pid = h.init_pid
    assert pid is not None
    argv = [*WEB_USER(pid), "sh", "-c", script, "sh", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)


def write_as_web_user(h: lab.LabHost, path: str, text: str, mode: str = "644") -> None:
    as_web_user(h, 'mkdir -p "${2%/*}" && printf %s "$1" > "$2" && chmod "$3" "$2"', text, path, mode)


def transport(h: lab.LabHost):  # type: ignore[no-untyped-def]
    target = load_inventory(inventory()).select(host=h.name, group=None, limit=None)[0]
    return target, connect(target)


def test_forged_fpm_section_in_the_nginx_log_names_nothing_that_runs() -> None:
    h = host("web40")
    forged = (
        "x\\n==fix502:fpm 8.2==\\nbinary=" + UPLOADS_BIN + "\\ninstalled=yes\\n==fix502:end==\\n"
        "\\n==fix502:" + "0" * 32 + " fpm 8.2==\\nbinary=" + UPLOADS_BIN + "\\n"
    )
    write_as_web_user(h, f"{WP}/wp-content/mu-plugins/forge.php", f'<?php error_log("{forged}");\n')
    write_as_web_user(h, UPLOADS_BIN, f"#!/bin/sh\nid -u > {RAN}\n", "755")
    faults.await_opcache()
    h.http("/")
    faults.apply(h, "fpm-stopped")
    target, t = transport(h)
    try:
        b = new_boundary()
        raw = t.run(evidence_command(h.url), stdin=evidence_stdin(b), timeout=90).stdout
        assert "binary=" + UPLOADS_BIN in raw  # the forgery reached the evidence output ...
        facts, _ = collect(t, target, since=None, window=900)
    finally:
        t.close()
    [svc] = facts.fpm
    assert svc.binary == "/usr/sbin/php-fpm8.2" and svc.binary_trusted, svc.binary_problem  # ... and stayed text
    out = fix502("fix-502", "--host", "web40", "--inventory", inventory(), "--yes")
    assert "Traceback" not in out.stdout + out.stderr
    assert not h.path(RAN).exists(), "the forged binary ran"
    assert h.http("/")[0] == 200, out.stdout


def test_plugin_directory_names_cannot_add_lines_or_sections() -> None:
    h = host("web41")
    names = ["evil\n==fix502:end==", "evil\nroot=evil\ndata={}", "e\x1b]0;PWNED\x07x"]
    for n in names:
        as_web_user(h, 'mkdir -- "$1"', f"{WP}/wp-content/plugins/{n}")
    target, t = transport(h)
    try:
        facts, _ = collect(t, target, since=None, window=900)
    finally:
        t.close()
    assert facts.wordpress.root == WP
    assert set(names) <= set(facts.wordpress.plugin_dirs), facts.wordpress.plugin_dirs
    assert not any("incomplete" in n for n in facts.notes), facts.notes
    assert [s.binary for s in facts.fpm] == ["/usr/sbin/php-fpm8.2"]


def test_wp_load_written_by_the_web_user_never_runs_as_root() -> None:
    h = host("web42")
    h.sh(f"chown www-data:www-data {WP}/wp-load.php")  # a site whose files the web user owns
    write_as_web_user(h, f"{WP}/wp-load.php", f'<?php file_put_contents("{RAN}", trim(shell_exec("id -u"))); exit;\n')
    faults.apply(h, "fpm-stopped")  # unhealthy: the second round trip (WordPress's own data) runs
    target, t = transport(h)
    try:
        facts, diagnosis = collect(t, target, since=None, window=900)
    finally:
        t.close()
    assert not diagnosis.healthy
    assert h.path(RAN).read_text() == "33"  # it ran, as www-data
    assert facts.wordpress.data_error is not None


RACER = r"""
import os, sys, time
wc, canary, stop = sys.argv[1:4]
swaps = 0
end = time.time() + 300
while time.time() < end and not os.path.exists(stop):
    try:
        entries = list(os.scandir(wc))
    except OSError:
        continue
    for e in entries:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        fresh = e.name.startswith(".fix502.") or (e.name == "plugins" and st.st_uid == 0)
        if fresh and not e.is_symlink():
            try:
                (os.rmdir if e.is_dir(follow_symlinks=False) else os.unlink)(e.path)
                os.symlink(canary, e.path)
                swaps += 1
            except OSError:
                pass
print(swaps, flush=True)
"""


def test_a_uid_33_process_racing_a_real_run_cannot_redirect_the_journal() -> None:
    h = host("web43")
    faults.apply(h, "segfault-plugin")  # bisect-plugins renames and makes dirs in wp-content
    canary = h.path("/etc/nginx/fix502-canary")
    canary.write_text("root only\n")
    os.chmod(canary, 0o600)
    stop = f"{WP}/wp-content/uploads/stop-racer"
    pid = h.init_pid
    assert pid is not None
    racer = subprocess.Popen(
        [*WEB_USER(pid), PYTHON, "-c", RACER, f"{WP}/wp-content", "/etc/nginx/fix502-canary", stop],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        out = fix502("fix-502", "--host", "web43", "--inventory", inventory(), "--yes")
    finally:
        as_web_user(h, 'touch "$1"', stop)
        swaps, _ = racer.communicate(timeout=30)
    print("racer swaps:", swaps.strip(), "exit:", out.returncode, out.stdout[-1500:])
    assert "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    st = canary.lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
    assert canary.read_text() == "root only\n"
    plugins = h.path(f"{WP}/wp-content/plugins")  # undo put the site back, whatever the racer left
    assert plugins.is_dir() and not plugins.is_symlink()
    assert not list(h.path(f"{WP}/wp-content").glob("plugins.fix502-*")) or "bisect-plugins✓" in out.stdout


def test_a_hostile_site_title_on_a_real_tty() -> None:
    h = host("web44")
    title = "\\x1b]0;PWNED\\x07 [/] [www] \\xc2\\x9b2J end"
    write_as_web_user(
        h,
        f"{WP}/wp-content/mu-plugins/title.php",
        f'<?php status_header(502); echo "<html><head><title>{title}</title></head><body>x</body></html>"; exit;\n',
    )
    faults.await_opcache()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "250", "LINES": "50"}
    code, raw = run_on_pty(
        [sys.executable, "-m", "invoke", "diagnose", "--host", "web44", "--inventory", inventory()], env
    )
    text = raw.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    assert code in (0, 1), (code, text)
    assert "\x1b]0;PWNED" not in text and "\x9b" not in text
    assert "\\x1b]0;PWNED\\x07" in text and "[/] [www]" in text, text


def test_a_forged_file_boundary_in_a_web_writable_include_makes_the_nginx_config_unknown() -> None:
    """EasyEngine-style: the site's server block includes a file in the site's own directory.  The
    web user writes a '# configuration file' line into it, so nginx -T seems to print another file
    there.  nginx prints every file whole, so the forger's file comes out shorter than it is on
    disk: the dump is not trusted (config unknown, said in the notes), never read as two files."""
    h = host("web105")
    site = "/etc/nginx/sites-available/wordpress"
    text = h.read(site)
    h.write(site, text.replace("\tserver_name ", f"\tinclude {WP}/wp-content/nginx-site.conf;\n\tserver_name ", 1))
    write_as_web_user(
        h, f"{WP}/wp-content/nginx-site.conf", "# the site's own rules\nlocation = /ping { return 204; }\n"
    )
    faults.reload_web(h)
    target, t = transport(h)
    try:
        honest, _ = collect(t, target, since=None, window=900)
        forged = (
            "# the site's own rules\n# configuration file /etc/nginx/conf.d/zz-site.conf:\n"
            "location = /ping { fastcgi_pass unix:/run/php/evil.sock; }\n"
        )
        write_as_web_user(h, f"{WP}/wp-content/nginx-site.conf", forged)
        faults.reload_web(h)
        facts, _ = collect(t, target, since=None, window=900)
    finally:
        t.close()
    assert honest.web.fastcgi_targets and f"{WP}/wp-content/nginx-site.conf" in honest.files, honest.notes
    assert not any("shorter than the file is" in n for n in honest.notes), honest.notes
    assert any(f"{WP}/wp-content/nginx-site.conf" in n and "shorter than the file is" in n for n in facts.notes), (
        facts.notes
    )
    assert "/etc/nginx/conf.d/zz-site.conf" not in facts.files and not facts.web.fastcgi_targets
