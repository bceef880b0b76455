"""Host output is hostile input: what a web user can print or leave on disk must not forge evidence,
name a binary fix502 runs as root, or get WordPress's code run as root.

The script tests run the real evidence.sh under dash against a temporary root (FIX502_ROOT) that
holds what a compromised site can write: a log with forged section headers and plugin directories
whose names carry newlines and escape sequences."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations.causes import Diagnosis
from remediations.diagnosis import classify
from remediations.facts import parsers as p
from remediations.facts import trust
from remediations.facts.script import evidence_script, site_user
from remediations.fixes import REGISTRY
from remediations.fixes.base import FixContext
from remediations.fixes.driver import plan_only
from remediations.fixes.fallback_theme import FallbackTheme
from remediations.fixes.restart_fpm import RestartFpm
from tests.unit.evidence_text import FIXTURE_BOUNDARY, parse, render

FULL = Path(__file__).parent / "fixtures" / "facts" / "full"
DASH = shutil.which("dash")
UPLOADS_BIN = "/srv/site/wp-content/uploads/php-fpm8.2"
# What one PHP error_log() call can put in nginx's error log (nginx copies PHP's stderr, newlines
# included): headers in the old framing, in the new one with a guessed boundary, and raw.
FORGED = (
    '2026/01/01 00:00:00 [error] 1#1: *1 FastCGI sent in stderr: "x\n'
    "==fix502:fpm 8.2==\nbinary=" + UPLOADS_BIN + "\ninstalled=yes\n"
    "\n==fix502:" + "0" * 32 + " fpm 8.2==\nbinary=" + UPLOADS_BIN + "\n"
    "\n==fix502:" + FIXTURE_BOUNDARY[::-1] + " wordpress==\nroot=/tmp/evil\n"
    "==fix502:end==\n"
)
HOSTILE_PLUGINS = ["evil\nroot=evil\ndata={}", "evil\n==fix502:end==", "e\x1b[31mred", "a|b", 'quo"te']


def test_a_section_header_inside_a_log_is_log_text() -> None:
    text = (FULL / "nginx_fpm_killed.txt").read_text()
    log = f"\n==fix502:{FIXTURE_BOUNDARY} log "
    at = text.index("\n", text.index(log) + 1) + 1
    f = parse(text[:at] + FORGED + text[at:])
    [svc] = f.fpm
    assert svc.binary == "/usr/sbin/php-fpm8.2"
    assert f.wordpress.root == "/tmp/fix502facts/root/var/www/wordpress"
    assert not any("incomplete" in n for n in f.notes)


def test_a_section_twice_is_refused_not_overridden() -> None:
    meta = ("meta", "", "now=5\ntz=+0000\n")
    with pytest.raises(p.EvidenceError, match="two 'meta' sections"):
        parse(render([meta, meta, ("end", "", "")]))
    fpm = ("fpm", "8.2", "binary=/usr/sbin/php-fpm8.2\n")
    with pytest.raises(p.EvidenceError, match=r"two 'fpm 8\.2' sections"):
        parse(render([meta, fpm, fpm, ("end", "", "")]))
    one = ("file", "/etc/php/8.2/fpm/pool.d/www.conf", "[www]\nlisten = /run/a.sock\n")
    other = ("file", "/etc/php/8.2/fpm/pool.d/www.conf", "[www]\nlisten = /run/b.sock\n")
    parse(render([meta, fpm, one, one, ("end", "", "")]))  # the same file printed twice: fine
    with pytest.raises(p.EvidenceError, match="two different copies"):
        parse(render([meta, fpm, one, other, ("end", "", "")]))


def test_a_boundary_must_be_32_hex_digits() -> None:
    with pytest.raises(ValueError):
        p.split_sections("x", "")
    with pytest.raises(ValueError):
        p.split_sections("x", "fix502|.*")


def test_c_quoted_names_decode_exactly() -> None:
    assert p.c_unquote(r'"/p/a\nb\033[31m\303\274|\"q\\"') == '/p/a\nb\x1b[31mü|"q\\'
    assert p.c_unquote(r'"/p/link" -> "/etc"') == "/p/link"
    assert p.c_unquote("/p/raw") is None and p.c_unquote('"unterminated') is None


@pytest.fixture
def hostile_root() -> Iterator[Path]:
    """A host root with a site whose web user wrote a forged log and hostile plugin names."""
    root = Path(tempfile.mkdtemp(prefix="fix502-hostile-", dir="/tmp"))
    os.chmod(root, 0o755)
    fpm = root / "etc/php/8.2/fpm"
    (fpm / "pool.d").mkdir(parents=True)
    (fpm / "php-fpm.conf").write_text(
        f"[global]\nerror_log = {root}/var/log/php8.2-fpm.log\ninclude={fpm}/pool.d/*.conf\n"
    )
    (fpm / "pool.d/www.conf").write_text("[www]\nuser = www-data\ngroup = www-data\nlisten = /run/x.sock\n")
    (root / "var/log").mkdir(parents=True)
    (root / "var/log/php8.2-fpm.log").write_text(FORGED)
    wp = root / "var/www/wordpress"
    (wp / "wp-includes").mkdir(parents=True)
    (wp / "wp-load.php").write_text("<?php\n")
    (wp / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.1';\n$wp_version = 'x';\n")
    for name in ["akismet", *HOSTILE_PLUGINS]:
        (wp / "wp-content/plugins" / name).mkdir(parents=True)
    (wp / "wp-content/mu-plugins").mkdir()
    (wp / "wp-content/mu-plugins" / "m\nu.php").write_text("")
    yield root
    shutil.rmtree(root)


def run_script(root: Path, *args: str, boundary: str = FIXTURE_BOUNDARY) -> subprocess.CompletedProcess[str]:
    if DASH is None:
        pytest.skip("dash not installed")
    env = {**os.environ, "FIX502_ROOT": str(root), "FIX502_PROBE_ADDR": "127.0.0.209"}
    cmd = [DASH, "-c", evidence_script(), "fix502-evidence", "http://wp.test:8089/", *args]
    return subprocess.run(cmd, env=env, input=boundary + "\n", capture_output=True, text=True, timeout=120)


def test_real_script_on_a_hostile_site(hostile_root: Path) -> None:
    out = run_script(hostile_root, "20").stdout
    assert FORGED.splitlines()[1] in out  # the forged log really was printed ...
    f = parse(out)  # ... and stayed log text
    [svc] = f.fpm
    assert svc.version == "8.2" and svc.binary != UPLOADS_BIN
    assert f.wordpress.root == f"{hostile_root}/var/www/wordpress" and f.wordpress.version == "6.1"
    assert sorted(f.wordpress.plugin_dirs) == sorted(["akismet", *HOSTILE_PLUGINS])
    assert f.wordpress.mu_plugins == ["m\nu.php"]
    assert not any("incomplete" in n for n in f.notes)


def test_script_refuses_to_run_without_a_boundary(hostile_root: Path) -> None:
    r = run_script(hostile_root, "20", boundary="")
    assert r.returncode == 2 and r.stdout == "" and "boundary" in r.stderr


def test_binary_stat_is_reported_and_checked(hostile_root: Path) -> None:
    f = parse(run_script(hostile_root, "20").stdout)
    [svc] = f.fpm
    real = os.path.realpath(svc.binary)
    if os.path.exists(real) and os.stat(real).st_uid == 0 and not os.stat(real).st_mode & 0o022:
        assert svc.binary_trusted, svc.binary_problem
    else:
        assert not svc.binary_trusted


@pytest.mark.parametrize(
    ("binary", "stats", "why"),
    [
        (
            "/usr/sbin/php-fpm8.2",
            [
                "0|755|regular file|/usr/sbin/php-fpm8.2",
                "0|755|directory|/usr/sbin",
                "0|755|directory|/usr",
                "0|755|directory|/",
            ],
            None,
        ),
        (UPLOADS_BIN, [], "under /srv"),
        ("/opt/wp-content/php-fpm", [], "WordPress content"),
        ("/tmp/php-fpm", [], "under /tmp"),
        ("/dev/shm/php-fpm", [], "under /dev/shm"),
        ("/opt/site/php-fpm", [], "web root"),
        ("/usr/sbin/php-fpm8.2", None, "not reported"),
        (
            "/usr/sbin/php-fpm8.2",
            [
                "33|755|regular file|/usr/sbin/php-fpm8.2",
                "0|755|directory|/usr/sbin",
                "0|755|directory|/usr",
                "0|755|directory|/",
            ],
            "uid 33",
        ),
        (
            "/usr/sbin/php-fpm8.2",
            [
                "0|757|regular file|/usr/sbin/php-fpm8.2",
                "0|755|directory|/usr/sbin",
                "0|755|directory|/usr",
                "0|755|directory|/",
            ],
            "writable",
        ),
        (
            "/usr/sbin/php-fpm8.2",
            [
                "0|755|regular file|/usr/sbin/php-fpm8.2",
                "0|775|directory|/usr/sbin",
                "0|755|directory|/usr",
                "0|755|directory|/",
            ],
            "/usr/sbin is group",
        ),
        ("/usr/sbin/php-fpm8.2", ["0|755|regular file|/usr/sbin/php-fpm8.2"], "not all reported"),
        (
            "/usr/sbin/php-fpm8.2",
            [
                "0|755|directory|/usr/sbin/php-fpm8.2",
                "0|755|directory|/usr/sbin",
                "0|755|directory|/usr",
                "0|755|directory|/",
            ],
            "not a regular file",
        ),
        ("/usr/sbin/../../tmp/x", [], "not a plain"),
    ],
)
def test_binary_problem(binary: str, stats: list[str] | None, why: str | None) -> None:
    problem = trust.binary_problem(binary, binary, stats, ["/opt/site"])
    assert problem is None if why is None else (problem is not None and why in problem), problem


def test_restart_fpm_escalates_on_an_unproven_binary() -> None:
    """The captured fixture predates binary_stat: its FPM binary is unproven, so it is not run."""
    f = parse((FULL / "nginx_fpm_killed.txt").read_text())
    assert not f.fpm[0].binary_trusted and any("will not be run" in n for n in f.notes)
    plan = RestartFpm().plan(FixContext("web1", f, classify(f)))
    assert plan.escalate and "not run" in plan.escalate and not plan.ops


def test_wordpress_code_runs_as_the_pool_user_only(hostile_root: Path) -> None:
    """wpdata mode with a wp-load.php that reports whom it runs as."""
    if shutil.which("php") is None or shutil.which("setpriv") is None:
        pytest.skip("php-cli or setpriv missing")
    wp = hostile_root / "var/www/wordpress"
    for d in (hostile_root / "var", hostile_root / "var/www", wp):
        os.chmod(d, 0o755)
    (wp / "wp-load.php").write_text('<?php echo "uid=", trim(shell_exec("id -u")), "\\n"; exit;\n')
    os.chmod(wp / "wp-load.php", 0o644)

    def data_error(user: str) -> str | None:
        out = run_script(hostile_root, "0", "wpdata", str(wp), user).stdout
        wpd = p.split_sections(out, FIXTURE_BOUNDARY)
        assert [s.kind for s in wpd] == ["wpdata", "wpend"]
        return p.parse_wordpress(wpd[0].body, 0).data_error

    assert data_error("www-data") == "uid=33"
    assert "refusing" in (data_error("root") or "")
    assert "no user" in (data_error("") or "")


def test_site_user_and_fallback_theme_never_root() -> None:
    f = parse((FULL / "nginx_fpm_killed.txt").read_text())
    assert site_user(f) == "www-data"
    f.wordpress.template = f.wordpress.stylesheet = "broken"
    ctx = FixContext("web1", f, Diagnosis([]), {"theme": "twentytwentythree"})
    [op] = FallbackTheme().plan(ctx).ops
    assert op.argv[:6] == ("setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups", "--no-new-privs", "--")  # type: ignore[union-attr]
    for pool in f.fpm[0].pools:
        pool.user = "root"
    f.web.user = "root"
    assert site_user(f) == "" and FallbackTheme().plan(ctx).escalate


def test_fixture_boundary_is_not_in_the_script() -> None:
    assert FIXTURE_BOUNDARY not in evidence_script()


def test_every_fix_is_vetted_by_the_driver() -> None:
    """Not only restart-fpm: any plan that would run an unproven FPM binary is refused (driver)."""
    f = parse((FULL / "nginx_healthy.txt").read_text())
    ctx = FixContext("web1", f, classify(f))
    for fid in ("enable-emergency-restart", "size-max-children", "fix-socket-permissions", "disable-xdebug"):
        fix = REGISTRY[fid]()
        assert any(getattr(op, "argv", ("",))[0] == f.fpm[0].binary for op in fix.plan(ctx).ops)  # it would
        result = plan_only(fix, ctx, after_others=False)
        assert result.escalated and "not run" in result.note, fid
