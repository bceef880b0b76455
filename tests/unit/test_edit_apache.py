"""Retargeting Apache's FPM handlers rewrites only the endpoint, and httpd still accepts the file."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediations.edit import EditError
from remediations.edit.apache import Handler, find_handlers, parse_target, set_handler_target
from remediations.endpoint import Endpoint

DEBIAN = Path(__file__).parent / "fixtures" / "configs" / "debian12"
PHP_FPM_CONF = (DEBIAN / "apache2-conf-available-php8.2-fpm.conf").read_text()
DEFAULT_SITE = (DEBIAN / "apache2-sites-available-000-default.conf").read_text()
DEBIAN_LINE = 12  # the active SetHandler in Debian's php8.2-fpm.conf

VHOST = (
    "<VirtualHost 127.0.0.1:18081>\n"
    "    ServerName blog.example.test\n"
    "    # ProxyPassMatch ^/(.*\\.php)$ fcgi://127.0.0.1:9001/var/www/$1\n"
    "    ProxyPassMatch ^/(.*\\.php)$ fcgi://127.0.0.1:9000/var/www/$1   \n"
    '\tProxyPassMatch "^/(.*\\.php(/.*)?)$" "unix:/run/php/php8.1-fpm.sock|fcgi://localhost/var/www/"\n'
    "    <FilesMatch \\.php$>\n"
    "        SetHandler proxy:fcgi://127.0.0.1:9000\n"
    "        sethandler 'proxy:unix:/run/php/php8.1-fpm.sock|fcgi://php81'\n"
    "    </FilesMatch>\n"
    "    ProxyPass /app \\\n"
    "        fcgi://[::1]:9000/app\n"
    "    SetHandler application/x-httpd-php\n"
    "</VirtualHost>\n"
)


def changes(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_find_handlers_in_debian_files() -> None:
    # The commented SetHandler inside <If> (line 19) is not reported.
    assert find_handlers(PHP_FPM_CONF) == [
        Handler(DEBIAN_LINE, "SetHandler", "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost")
    ]
    assert find_handlers(PHP_FPM_CONF)[0].endpoint == Endpoint("unix", "/run/php/php8.2-fpm.sock")
    assert find_handlers(DEFAULT_SITE) == []


def test_find_handlers_reads_every_form() -> None:
    found = find_handlers(VHOST)
    assert [(h.line, h.directive, h.target) for h in found] == [
        (4, "ProxyPassMatch", "fcgi://127.0.0.1:9000/var/www/$1"),
        (5, "ProxyPassMatch", "unix:/run/php/php8.1-fpm.sock|fcgi://localhost/var/www/"),
        (7, "SetHandler", "proxy:fcgi://127.0.0.1:9000"),
        (8, "sethandler", "proxy:unix:/run/php/php8.1-fpm.sock|fcgi://php81"),
        (10, "ProxyPass", "fcgi://[::1]:9000/app"),
    ]
    assert [h.endpoint.address for h in found] == [
        "127.0.0.1:9000",
        "/run/php/php8.1-fpm.sock",
        "127.0.0.1:9000",
        "/run/php/php8.1-fpm.sock",
        "[::1]:9000",
    ]


def test_debian_sethandler_to_tcp_and_back() -> None:
    tcp = set_handler_target(PHP_FPM_CONF, DEBIAN_LINE, "127.0.0.1:9000")
    assert changes(PHP_FPM_CONF, tcp) == [
        '-        SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"\n',
        '+        SetHandler "proxy:fcgi://127.0.0.1:9000"\n',
    ]
    assert set_handler_target(tcp, DEBIAN_LINE, "/run/php/php8.2-fpm.sock") == PHP_FPM_CONF


def test_debian_sethandler_other_socket() -> None:
    after = set_handler_target(PHP_FPM_CONF, DEBIAN_LINE, "unix:/run/php/php8.1-fpm.sock")
    assert after == PHP_FPM_CONF.replace(
        '        SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"',
        '        SetHandler "proxy:unix:/run/php/php8.1-fpm.sock|fcgi://localhost"',
        1,  # the active line comes first; the commented example further down must not change
    )
    assert after.count("php8.2-fpm.sock") == 1  # the commented example is left alone
    assert set_handler_target(PHP_FPM_CONF, DEBIAN_LINE, "/run/php/php8.2-fpm.sock") is PHP_FPM_CONF


@pytest.mark.parametrize(
    ("line", "target", "old", "new"),
    [
        (
            4,
            "/run/php/php8.2-fpm.sock",
            "    ProxyPassMatch ^/(.*\\.php)$ fcgi://127.0.0.1:9000/var/www/$1   \n",
            "    ProxyPassMatch ^/(.*\\.php)$ unix:/run/php/php8.2-fpm.sock|fcgi://localhost/var/www/$1   \n",
        ),
        (
            5,
            "9000",
            '\tProxyPassMatch "^/(.*\\.php(/.*)?)$" "unix:/run/php/php8.1-fpm.sock|fcgi://localhost/var/www/"\n',
            '\tProxyPassMatch "^/(.*\\.php(/.*)?)$" "fcgi://127.0.0.1:9000/var/www/"\n',
        ),
        (
            7,
            "[::1]:9001",
            "        SetHandler proxy:fcgi://127.0.0.1:9000\n",
            "        SetHandler proxy:fcgi://[::1]:9001\n",
        ),
        (
            8,
            "/run/php/php8.2-fpm.sock",
            "        sethandler 'proxy:unix:/run/php/php8.1-fpm.sock|fcgi://php81'\n",
            "        sethandler 'proxy:unix:/run/php/php8.2-fpm.sock|fcgi://php81'\n",
        ),
        (10, "127.0.0.1:9002", "        fcgi://[::1]:9000/app\n", "        fcgi://127.0.0.1:9002/app\n"),
    ],
)
def test_each_form_changes_one_line(line: int, target: str, old: str, new: str) -> None:
    after = set_handler_target(VHOST, line, target)
    assert changes(VHOST, after) == ["-" + old, "+" + new]


def test_paths_with_spaces_get_quotes() -> None:
    after = set_handler_target(VHOST, 7, "/run/my php/fpm.sock")
    assert changes(VHOST, after)[1] == '+        SetHandler "proxy:unix:/run/my php/fpm.sock|fcgi://localhost"\n'


@pytest.mark.parametrize("line", [1, 3, 6, 11, 12])
def test_lines_without_an_fpm_handler_are_errors(line: int) -> None:
    with pytest.raises(EditError, match=f"line {line}"):
        set_handler_target(VHOST, line, "127.0.0.1:9000")


def test_bad_targets_are_errors() -> None:
    with pytest.raises(EditError, match="relative"):
        set_handler_target(VHOST, 7, "php.sock")
    with pytest.raises(EditError, match="port"):
        set_handler_target(VHOST, 7, "127.0.0.1:99999")


def test_parse_target() -> None:
    parsed = parse_target("unix:/run/php/a.sock|fcgi://localhost/var/www/$1")
    assert parsed is not None
    assert parsed.endpoint == Endpoint("unix", "/run/php/a.sock")
    assert (parsed.worker, parsed.suffix, parsed.prefix) == ("fcgi://localhost", "/var/www/$1", "")
    host_only = parse_target("proxy:fcgi://php")
    assert host_only is not None and host_only.endpoint == Endpoint("tcp", "php:8000")
    assert parse_target("proxy:http://127.0.0.1:8080") is None
    assert parse_target("unix:relative.sock|fcgi://localhost") is None


SOCKETS = st.from_regex(r"/run/php/[a-z0-9.\-]{1,12}\.sock", fullmatch=True)
TCP = st.builds(lambda h, p: f"{h}:{p}", st.sampled_from(["127.0.0.1", "[::1]", "10.0.0.5"]), st.integers(1, 65535))


@settings(max_examples=80, deadline=None)
@given(line=st.sampled_from([4, 5, 7, 10]), target=st.one_of(SOCKETS, TCP))
def test_round_trip(line: int, target: str) -> None:
    """Any retarget and back gives the original bytes (for localhost-named unix workers)."""
    original = next(h for h in find_handlers(VHOST) if h.line == line).endpoint.address
    there = set_handler_target(VHOST, line, target)
    assert [h.endpoint.address for h in find_handlers(there) if h.line == line] == [target]
    assert len(changes(VHOST, there)) in (0, 2)
    assert set_handler_target(there, line, original) == VHOST


# --- the real httpd --------------------------------------------------------------------------
APACHE = shutil.which("apache2") or ("/usr/sbin/apache2" if Path("/usr/sbin/apache2").exists() else None)
MODULES = Path("/usr/lib/apache2/modules")
needs_apache = pytest.mark.skipif(
    APACHE is None or not (MODULES / "mod_proxy_fcgi.so").exists(),
    reason="apache2 with mod_proxy_fcgi missing",
)


def apache_test(tmp_path: Path, included: str) -> subprocess.CompletedProcess[str]:
    """``apache2 -t`` with a private ServerRoot: Debian's envvars and /etc/apache2 are not used."""
    assert APACHE is not None
    (tmp_path / "included.conf").write_text(included)
    modules = "".join(
        f"LoadModule {name}_module {MODULES}/mod_{name}.so\n"
        for name in ("mpm_event", "authz_core", "proxy", "proxy_fcgi", "setenvif")
    )
    (tmp_path / "httpd.conf").write_text(
        f"ServerRoot {tmp_path}\nDefaultRuntimeDir {tmp_path}\nPidFile {tmp_path}/httpd.pid\n"
        f"ErrorLog {tmp_path}/error.log\nServerName localhost\nListen 127.0.0.1:18081\n{modules}"
        f"Include {tmp_path}/included.conf\n"
    )
    argv = [APACHE, "-t", "-f", str(tmp_path / "httpd.conf")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


@needs_apache
def test_real_apache_rejects_a_bad_url_so_the_check_means_something(tmp_path: Path) -> None:
    result = apache_test(tmp_path, VHOST.replace("fcgi://127.0.0.1:9000/var", "fcgi://127.0.0.1:9x/var"))
    assert result.returncode != 0
    assert "Unable to parse URL" in result.stderr


@needs_apache
@pytest.mark.parametrize("target", ["/run/php/php8.2-fpm.sock", "127.0.0.1:9000", "[::1]:9000"])
def test_real_apache_accepts_edited_files(tmp_path: Path, target: str) -> None:
    vhost = VHOST
    for handler in find_handlers(VHOST):
        vhost = set_handler_target(vhost, handler.line, target)
    conf = set_handler_target(PHP_FPM_CONF, DEBIAN_LINE, target)
    result = apache_test(tmp_path, conf + vhost)
    assert result.returncode == 0, result.stderr
    assert "Syntax OK" in result.stderr
