"""The FPM/ini editor touches one line (or adds one), and the real php-fpm8.2 accepts the result."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediations.edit import EditError
from remediations.edit.fpm_ini import comment_out, get_value, render_value, set_value

DEBIAN = Path(__file__).parent / "fixtures" / "configs" / "debian12"
WWW = (DEBIAN / "pool.d-www.conf").read_text()
FPM_CONF = (DEBIAN / "php-fpm.conf").read_text()
XDEBUG = (DEBIAN / "php-mods-available-xdebug.ini").read_text()


def changes(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def line_of(text: str, exact: str) -> int:
    return text.splitlines().index(exact) + 1


def test_get_value_reads_the_debian_defaults() -> None:
    assert get_value(WWW, "www", "listen") == ("/run/php/php8.2-fpm.sock", 41)
    assert get_value(WWW, "www", "pm.max_children") == ("5", 127)
    assert get_value(WWW, "www", "pm.max_requests") is None  # only a commented default
    assert get_value(WWW, "global", "listen") is None
    assert get_value(FPM_CONF, "global", "include") == ("/etc/php/8.2/fpm/pool.d/*.conf", 145)
    assert get_value(FPM_CONF, "global", "error_log") == ("/var/log/php8.2-fpm.log", 26)
    assert get_value(XDEBUG, None, "zend_extension") == ("xdebug.so", 1)


def test_get_value_drops_quotes_and_comments_and_takes_the_last_assignment() -> None:
    text = '[a]\nk = "x ; y" ; note\nj = 1 ; two\n[b]\nk = 2\n[a]\nj = 3\n'
    assert get_value(text, "a", "k") == ("x ; y", 2)
    assert get_value(text, "a", "j") == ("3", 7)  # FPM merges repeated sections: last one wins
    assert get_value(text, "b", "k") == ("2", 5)


def test_set_existing_value_changes_only_that_value() -> None:
    after = set_value(WWW, "www", "listen", "127.0.0.1:9000")
    assert changes(WWW, after) == ["-listen = /run/php/php8.2-fpm.sock\n", "+listen = 127.0.0.1:9000\n"]
    assert get_value(after, "www", "listen") == ("127.0.0.1:9000", 41)
    assert set_value(WWW, "www", "pm.max_children", "5") is WWW


def test_set_keeps_spacing_quotes_and_trailing_comment() -> None:
    text = "[www]\n  pm.max_children=5   ; tuned by ops\nlisten = '/run/a.sock'\n"
    after = set_value(text, "www", "pm.max_children", "12")
    assert after == "[www]\n  pm.max_children=12   ; tuned by ops\nlisten = '/run/a.sock'\n"
    after = set_value(text, "www", "listen", "/run/b.sock")
    assert after == "[www]\n  pm.max_children=5   ; tuned by ops\nlisten = '/run/b.sock'\n"


def test_set_after_the_commented_default_keeps_the_comment() -> None:
    after = set_value(WWW, "www", "pm.max_requests", "500")
    assert changes(WWW, after) == ["+pm.max_requests = 500\n"]
    at = line_of(WWW, ";pm.max_requests = 500")
    assert after.splitlines()[at - 1 : at + 1] == [";pm.max_requests = 500", "pm.max_requests = 500"]
    # The commented default ends in ";" (a comment of its own): the new line must not copy it.
    idle = set_value(WWW, "www", "pm.process_idle_timeout", "20s")
    assert changes(WWW, idle) == ["+pm.process_idle_timeout = 20s\n"]
    admin = set_value(WWW, "www", "php_admin_value[memory_limit]", "256M")
    assert changes(WWW, admin) == ["+php_admin_value[memory_limit] = 256M\n"]
    assert get_value(admin, "www", "php_admin_value[memory_limit]") == (
        "256M",
        line_of(WWW, ";php_admin_value[memory_limit] = 32M") + 1,
    )


def test_set_appends_at_the_end_of_the_section() -> None:
    text = "[global]\npid = /run/x.pid\n\n[www]\nuser = www-data\n\n\n[other]\nuser = nobody\n"
    after = set_value(text, "www", "pm.status_path", "/status")
    assert after == text.replace("www-data\n", "www-data\npm.status_path = /status\n")
    assert changes(text, after) == ["+pm.status_path = /status\n"]
    last = set_value("[www]\nuser = a", "www", "group", "b")  # no final newline
    assert last == "[www]\nuser = a\ngroup = b"


MINIMAL_MAIN = "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm.log\n\n; pools\ninclude={d}/pool.d/*.conf\n"


def test_global_setting_goes_before_the_pool_include() -> None:
    # After include= php-fpm reads keys as belonging to the last included pool (php-fpm8.2 -t says
    # "unknown entry 'emergency_restart_threshold'"), so a new global key never goes after it.
    text = MINIMAL_MAIN.format(d="/tmp/x")
    after = set_value(text, "global", "emergency_restart_threshold", "10")
    assert changes(text, after) == ["+emergency_restart_threshold = 10\n"]
    lines = after.splitlines()
    assert lines.index("emergency_restart_threshold = 10") + 1 == lines.index("include=/tmp/x/pool.d/*.conf")


def test_set_commented_default_in_global() -> None:
    after = set_value(FPM_CONF, "global", "emergency_restart_threshold", "10")
    at = line_of(FPM_CONF, ";emergency_restart_threshold = 0")
    assert changes(FPM_CONF, after) == ["+emergency_restart_threshold = 10\n"]
    assert after.splitlines()[at] == "emergency_restart_threshold = 10"


def test_values_needing_quotes_are_quoted() -> None:
    after = set_value(WWW, "www", "php_admin_value[sendmail_path]", "/usr/sbin/sendmail -t -i ; x")
    assert changes(WWW, after) == ['+php_admin_value[sendmail_path] = "/usr/sbin/sendmail -t -i ; x"\n']
    assert get_value(after, "www", "php_admin_value[sendmail_path]") is not None
    assert render_value("[::1]:9000") == "[::1]:9000"
    assert render_value('say "x"') == "'say \"x\"'"
    with pytest.raises(EditError):
        render_value("a\nb")


def test_errors() -> None:
    with pytest.raises(EditError, match=r"no \[nope\] section"):
        set_value(WWW, "nope", "listen", "9000")
    with pytest.raises(EditError, match="ambiguous"):
        set_value("[www]\npm = static\npm = dynamic\n", "www", "pm", "ondemand")
    with pytest.raises(EditError, match="no active"):
        comment_out(WWW, "www", "pm.max_requests")


def test_comment_out_xdebug() -> None:
    after = comment_out(XDEBUG, None, "zend_extension", "xdebug.so")
    assert after == ";zend_extension=xdebug.so\n"
    assert get_value(after, None, "zend_extension") is None
    with pytest.raises(EditError):
        comment_out(after, None, "zend_extension", "xdebug.so")


def test_comment_out_matches_full_paths_and_leaves_other_extensions() -> None:
    text = "zend_extension=opcache.so\n  zend_extension = /usr/lib/php/20220829/xdebug.so\nxdebug.mode=debug\n"
    after = comment_out(text, None, "zend_extension", "xdebug.so")
    assert after == text.replace("  zend_extension = /usr", "  ;zend_extension = /usr")


# --- properties ------------------------------------------------------------------------------
SAFE = st.text(st.sampled_from("abcxyz0189/._-:[]@"), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(key=st.sampled_from(["listen", "pm", "pm.max_children", "listen.owner", "user"]), value=SAFE)
def test_round_trip_existing_keys(key: str, value: str) -> None:
    original = get_value(WWW, "www", key)
    assert original is not None
    there = set_value(WWW, "www", key, value)
    assert get_value(there, "www", key) == (value, original[1])
    assert len(changes(WWW, there)) in (0, 2)
    assert set_value(there, "www", key, original[0]) == WWW


@settings(max_examples=80, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))
def test_round_trip_any_value_through_a_quoted_line(value: str) -> None:
    text = '[www]\nphp_admin_value[error_log] = "/var/log/fpm-www.log" ; per pool\n'
    try:
        there = set_value(text, "www", "php_admin_value[error_log]", value)
    except EditError:
        return  # unrepresentable (a double quote inside double quotes) is refused, not mangled
    assert get_value(there, "www", "php_admin_value[error_log]") == (value, 2)
    assert set_value(there, "www", "php_admin_value[error_log]", "/var/log/fpm-www.log") == text


# --- the real php-fpm ------------------------------------------------------------------------
PHP_FPM = shutil.which("php-fpm8.2") or ("/usr/sbin/php-fpm8.2" if Path("/usr/sbin/php-fpm8.2").exists() else None)
needs_fpm = pytest.mark.skipif(PHP_FPM is None, reason="php-fpm8.2 not installed")


def fpm_test(tmp_path: Path, main: str) -> subprocess.CompletedProcess[str]:
    assert PHP_FPM is not None
    conf = tmp_path / "php-fpm.conf"
    conf.write_text(main)
    argv = [PHP_FPM, "-t", "-y", str(conf), "-p", str(tmp_path)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def private_main(tmp_path: Path) -> str:
    """Debian's php-fpm.conf, pointed at tmp_path with the editor itself (also tested here)."""
    text = set_value(FPM_CONF, "global", "pid", str(tmp_path / "fpm.pid"))
    text = set_value(text, "global", "error_log", str(tmp_path / "fpm.log"))
    return set_value(text, "global", "include", str(tmp_path / "pool.d" / "*.conf"))


def with_pool(tmp_path: Path, pool: str) -> str:
    (tmp_path / "pool.d").mkdir(exist_ok=True)
    (tmp_path / "pool.d" / "www.conf").write_text(pool)
    return private_main(tmp_path)


@needs_fpm
def test_real_fpm_rejects_a_bad_pool_so_the_check_means_something(tmp_path: Path) -> None:
    result = fpm_test(tmp_path, with_pool(tmp_path, set_value(WWW, "www", "pm", "sometimes")))
    assert result.returncode != 0
    assert "pm" in result.stderr


@needs_fpm
@pytest.mark.parametrize("listen", ["127.0.0.1:9000", "[::1]:9000", "9000", "/tmp/fix502-www.sock"])
def test_real_fpm_accepts_the_edited_pool(tmp_path: Path, listen: str) -> None:
    pool = set_value(WWW, "www", "listen", listen)
    pool = set_value(pool, "www", "pm.max_children", "12")
    pool = set_value(pool, "www", "pm.max_requests", "500")
    pool = set_value(pool, "www", "request_terminate_timeout", "60s")
    pool = set_value(pool, "www", "php_admin_value[error_log]", str(tmp_path / "a b; c.log"))
    pool = set_value(pool, "www", "pm.status_path", "/fpm-status")
    result = fpm_test(tmp_path, with_pool(tmp_path, pool))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_fpm
def test_real_fpm_accepts_the_edited_main_config(tmp_path: Path) -> None:
    main = with_pool(tmp_path, WWW)
    main = set_value(main, "global", "emergency_restart_threshold", "10")
    main = set_value(main, "global", "process.max", "64")
    assert len(changes(FPM_CONF, main)) == 3 * 2 + 2  # pid, error_log, include changed; two added
    result = fpm_test(tmp_path, main)
    assert result.returncode == 0, result.stderr


@needs_fpm
def test_real_fpm_accepts_a_global_key_added_to_a_main_config_ending_in_include(tmp_path: Path) -> None:
    with_pool(tmp_path, WWW)
    main = set_value(MINIMAL_MAIN.format(d=tmp_path), "global", "emergency_restart_threshold", "10")
    result = fpm_test(tmp_path, main)
    assert result.returncode == 0, result.stderr
    appended = MINIMAL_MAIN.format(d=tmp_path) + "emergency_restart_threshold = 10\n"
    assert fpm_test(tmp_path, appended).returncode != 0  # what a naive append would have done
