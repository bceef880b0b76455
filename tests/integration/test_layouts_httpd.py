"""Apache laid out as RHEL's httpd on a real lab host (web83; simulated: Debian's apache2 started by
an init script named httpd with -d /etc/httpd, RHEL's FPM layout behind it)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import snapshot
from tests.integration.test_layouts import run
from tests.lab import lab, layouts


def test_rhel_httpd_an_old_handler_socket_is_realigned_in_conf_d_php_conf(tmp_path: Path) -> None:
    """Apache laid out as RHEL's httpd (/etc/httpd, conf.d/php.conf; simulated with Debian's apache2
    started by an init script named httpd): the handler is found through the running master's own
    -d/-f and DUMP_INCLUDES, php.conf is the file edited, the test is that binary's -t, and httpd is
    what reloads."""
    name, lay = "web83", layouts.LAYOUTS["rhel"]
    existing = lab.load_hosts().get(name)
    if existing is None or existing.layout != "rhel" or existing.web != "apache" or existing.init_pid is None:
        lab.up(names=[name], layout="rhel", apache=[83])
        h = lab.get(name)
    else:
        h = lab.reset(name)
    php_conf = "/etc/httpd/conf.d/php.conf"
    layouts.old_handler_socket(h)
    assert h.http("/")[0] == 503  # Apache answers a dead FastCGI backend with 503
    before = snapshot(h, ("/etc", "/var/www", "etc-upper"))
    code, r = run(name, tmp_path / "1.json", "--yes")
    assert code == 0 and r["status"] == "fixed" and "socket-mismatch" in r["causes"], r
    realign = next(a for a in r["actions"] if a["id"] == "realign-apache-handler")
    assert realign["verified"], realign
    assert f"edit {php_conf}" in realign["plan"], realign["plan"]
    assert "test /usr/sbin/apache2 -d /etc/httpd -f /etc/httpd/conf/httpd.conf -t" in realign["plan"], realign["plan"]
    assert "service httpd reload" in realign["plan"], realign["plan"]
    after = snapshot(h, ("/etc", "/var/www", "etc-upper"))
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {
        "etc-upper/httpd/conf.d/php.conf"
    }
    assert f'SetHandler "proxy:unix:{lay.socket}|fcgi://localhost"' in h.read(php_conf)
    assert h.http("/")[0] == 200
