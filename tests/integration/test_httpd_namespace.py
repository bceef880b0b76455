"""RHEL's Apache layout read from a real running httpd, self-contained (no lab host, no SSH): a private
mount and PID namespace with an overlay over /etc holding /etc/httpd (conf, conf.d/php.conf), RHEL's
/etc/php-fpm.conf + php-fpm.d, and /etc/init.d/httpd; Debian's apache2 and php-fpm8.2 started with
those paths (simulated layout) on 127.0.0.250:8099.  evidence.sh runs inside it, as on a host."""

from __future__ import annotations

import subprocess
from pathlib import Path

from remediations.diagnosis import classify
from remediations.facts.script import evidence_script, parse_evidence
from remediations.fixes import REGISTRY
from remediations.fixes.base import FixContext

B = "feedfacefeedfacefeedfacefeedface"
URL = "http://127.0.0.250:8099/"
MODULES = ("mpm_event", "authz_core", "proxy", "proxy_fcgi", "dir", "mime")
HTTPD = """ServerRoot "/etc/httpd"
Listen 127.0.0.250:8099
{modules}User nobody
Group nogroup
ServerName x.lab.test
DefaultRuntimeDir /run/httpd
PidFile /run/httpd/httpd.pid
TypesConfig /etc/mime.types
ErrorLog "logs/error_log"
IncludeOptional conf.d/*.conf
"""
PHP_CONF = """<FilesMatch \\.(php|phar)$>
    SetHandler "proxy:unix:/run/php-fpm/www.sock|fcgi://localhost"
</FilesMatch>
DirectoryIndex index.php
<VirtualHost 127.0.0.250:8099>
    ServerName x.lab.test
    DocumentRoot {www}
    <Directory {www}>
        Require all granted
    </Directory>
</VirtualHost>
"""
RUN = """set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/upper,workdir={d}/work /etc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/apache2
mount -t tmpfs tmpfs /etc/php
mkdir -p /run/php-fpm /run/httpd
PHP_INI_SCAN_DIR=/etc/php.d /usr/sbin/php-fpm8.2 -y /etc/php-fpm.conf -c /etc/php.ini
/usr/sbin/apache2 -d /etc/httpd -f conf/httpd.conf -k start
sleep 0.7
curl -s -o /dev/null --max-time 10 {url} || true
echo {b} | sh {d}/evidence.sh {url} 50 >{d}/healthy.txt 2>>{d}/err || true
sed -i 's#/run/php-fpm/www.sock#/var/run/php-fpm/php-fpm.sock#' /etc/httpd/conf.d/php.conf
/usr/sbin/apache2 -d /etc/httpd -f conf/httpd.conf -k graceful
sleep 1.2
curl -s -o /dev/null --max-time 10 {url} || true
sleep 1.1
echo {b} | sh {d}/evidence.sh {url} 50 >{d}/old.txt 2>>{d}/err || true
/usr/sbin/apache2 -d /etc/httpd -f conf/httpd.conf -k stop || true
kill "$(cat /run/php-fpm/php-fpm.pid)" || true
sleep 0.5
"""


def build(d: Path) -> None:
    up = d / "upper"
    (up / "httpd/conf").mkdir(parents=True)
    (up / "httpd/conf.d").mkdir()
    (up / "php-fpm.d").mkdir()
    (up / "init.d").mkdir()
    (d / "work").mkdir()
    (d / "logs").mkdir()
    (d / "www").mkdir()
    mods = "".join(f"LoadModule {m}_module modules/mod_{m}.so\n" for m in MODULES)
    (up / "httpd/conf/httpd.conf").write_text(HTTPD.format(modules=mods))
    (up / "httpd/conf.d/php.conf").write_text(PHP_CONF.format(www=d / "www"))
    (up / "httpd/modules").symlink_to("/usr/lib/apache2/modules")
    (up / "httpd/logs").symlink_to(d / "logs")
    (up / "init.d/httpd").write_text(
        '#!/bin/sh\n# httpd\nexec /usr/sbin/apache2 -d /etc/httpd -f conf/httpd.conf -k "$1"\n'
    )
    (up / "init.d/httpd").chmod(0o755)
    (up / "php.ini").write_text(Path("/etc/php/8.2/fpm/php.ini").read_text())
    subprocess.run(["cp", "-rL", "/etc/php/8.2/fpm/conf.d", str(up / "php.d")], check=True)
    (up / "php-fpm.conf").write_text(
        f"include=/etc/php-fpm.d/*.conf\n[global]\npid = /run/php-fpm/php-fpm.pid\nerror_log = {d}/logs/fpm.log\n"
    )
    (up / "php-fpm.d/www.conf").write_text(
        "[www]\nuser = nobody\ngroup = nogroup\nlisten = /run/php-fpm/www.sock\nlisten.owner = nobody\n"
        "listen.group = nogroup\nlisten.mode = 0660\npm = static\npm.max_children = 2\n"
    )
    (d / "www/index.php").write_text('<?php echo "<html><head><title>ok</title></head><body>ok</body></html>";\n')
    (d / "evidence.sh").write_text(evidence_script())
    (d / "run.sh").write_text(RUN.format(d=d, url=URL, b=B))


def test_rhel_httpd_read_from_the_running_master_and_realigned_in_php_conf(tmp_path: Path) -> None:
    d = tmp_path / "ns"
    d.mkdir()
    build(d)
    argv = [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "sh",
        str(d / "run.sh"),
    ]
    subprocess.run(argv, check=True, timeout=90, capture_output=True)
    healthy = parse_evidence((d / "healthy.txt").read_text(), B, window_seconds=10**9)
    web = healthy.web
    assert (web.kind, web.layout, web.service, web.running) == ("apache", "rhel", "httpd", True), healthy.notes
    assert web.binary_problem is None and web.config_test_ok is True
    assert [(t.directive.file, t.address) for t in web.fastcgi_targets] == [
        ("/etc/httpd/conf.d/php.conf", "/run/php-fpm/www.sock")
    ]
    (fpm,) = healthy.fpm
    assert (fpm.layout, fpm.global_file, fpm.running) == ("rhel", "/etc/php-fpm.conf", True)
    assert [p.listen for p in fpm.pools] == ["/run/php-fpm/www.sock"]

    old = parse_evidence((d / "old.txt").read_text(), B, window_seconds=10**9)
    diagnosis = classify(old)
    assert diagnosis.ids[0] == "socket-mismatch", diagnosis.ids
    plan = REGISTRY["realign-apache-handler"]().plan(FixContext("ns", old, diagnosis, {}))
    assert [op.describe() for op in plan.ops][1:] == [
        "test /usr/sbin/apache2 -d /etc/httpd -f /etc/httpd/conf/httpd.conf -t: never reload a config Apache rejects",
        "service httpd reload: load the corrected handler",
    ], plan.render()
    assert plan.ops[0].describe().startswith("edit /etc/httpd/conf.d/php.conf: line 2:"), plan.render()
    assert '+    SetHandler "proxy:unix:/run/php-fpm/www.sock|fcgi://localhost"' in plan.diffs()
