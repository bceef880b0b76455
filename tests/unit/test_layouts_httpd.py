"""Apache laid out as RHEL's httpd, read through its running master (captured from the simulated
lab host web83: Debian's apache2 started by /etc/init.d/httpd with -d /etc/httpd -f conf/httpd.conf)."""

from __future__ import annotations

from remediations.fixes import REGISTRY
from tests.unit.test_fix_plans import context

# ---- Apache laid out as RHEL's httpd (simulated: Debian's apache2 started by /etc/init.d/httpd with
# -d /etc/httpd -f conf/httpd.conf), captured by tests/lab/capture_layouts.py ------------
PHP_CONF = "/etc/httpd/conf.d/php.conf"
HTTPD_TEST = ("/usr/sbin/apache2", "-d", "/etc/httpd", "-f", "/etc/httpd/conf/httpd.conf", "-t")


def test_rhel_httpd_is_read_through_its_running_master() -> None:
    ctx = context({"capture": "layout-rhel-httpd-healthy"})
    web = ctx.facts.web
    assert (web.kind, web.layout, web.service, web.running) == ("apache", "rhel", "httpd", True)
    assert web.binary_problem is None and web.service_problem is None and web.config_test_argv == HTTPD_TEST
    assert [(t.directive.file, t.address) for t in web.fastcgi_targets] == [(PHP_CONF, "/run/php-fpm/www.sock")]
    assert "/etc/httpd/logs/error_log" in web.error_logs
    assert ctx.diagnosis.ids == ["healthy"]


def test_rhel_httpd_old_handler_socket_is_realigned_in_php_conf() -> None:
    ctx = context({"capture": "layout-rhel-httpd-old-socket"})
    assert ctx.diagnosis.ids[0] == "socket-mismatch", ctx.diagnosis.ids
    plan = REGISTRY["realign-apache-handler"]().plan(ctx)
    ops = [op.describe() for op in plan.ops]
    assert ops[0].startswith(f"edit {PHP_CONF}: line ") and "→ /run/php-fpm/www.sock" in ops[0], ops
    assert ops[1:] == [
        f"test {' '.join(HTTPD_TEST)}: never reload a config Apache rejects",
        "service httpd reload: load the corrected handler",
    ]
    assert '+    SetHandler "proxy:unix:/run/php-fpm/www.sock|fcgi://localhost"' in plan.diffs()


def test_rhel_httpd_with_a_writable_binary_is_never_run() -> None:
    writable = ("binary_stat=0|755|directory|/usr/sbin\n", "binary_stat=0|775|directory|/usr/sbin\n")
    ctx = context({"capture": "layout-rhel-httpd-old-socket", "patch": [writable]})
    assert ctx.facts.web.binary_problem is not None
    plan = REGISTRY["realign-apache-handler"]().plan(ctx)
    assert plan.escalate is not None and "/usr/sbin/apache2 not run" in plan.escalate and not plan.ops
