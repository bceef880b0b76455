"""Lab hosts laid out as RHEL/Alma/Rocky, cPanel EA4 and Plesk lay out PHP-FPM — simulated.

There is no RHEL, cPanel or Plesk here: Debian's own ``php-fpm8.2`` is started with each layout's
paths, config names, pool names, users, init script names and log places, so that fix502's
discovery (process table, the master's binary, the config it names, the init script that owns it)
is really exercised.  What the layout cannot change stays Debian's: the PHP build (8.2 even where
the path says 8.1), nginx and its site, sysv init (no systemd in the lab).

A layout host gets its own ``/opt`` (bound by hostinit) and an overlay over ``/etc`` (``etc-upper``:
files such as /etc/php-fpm.conf, /etc/php.ini and /etc/init.d/php-fpm exist on that host only).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.lab.lab import LabHost

DEBIAN_FPM = "/usr/sbin/php-fpm8.2"


@dataclass(frozen=True)
class Layout:
    name: str
    service: str  # the init script's name
    conf: str  # php-fpm.conf
    pool_dir: str
    pool: str  # the site's pool name
    user: str  # the pool's user (a system account on that host)
    socket: str
    old_socket: str  # what the site pointed at before an upgrade
    pid: str
    error_log: str
    binary: str  # where the layout keeps php-fpm (a copy of Debian's unless it is Debian's)
    ini: str
    scan_dir: str


LAYOUTS = {
    "rhel": Layout(
        name="rhel",
        service="php-fpm",
        conf="/etc/php-fpm.conf",
        pool_dir="/etc/php-fpm.d",
        pool="www",
        user="apache",
        socket="/run/php-fpm/www.sock",
        old_socket="/var/run/php-fpm/php-fpm.sock",  # RHEL 7's TCP-era name, kept by an old site
        pid="/run/php-fpm/php-fpm.pid",
        error_log="/var/log/php-fpm/error.log",
        binary=DEBIAN_FPM,  # RHEL's is /usr/sbin/php-fpm: the lab cannot add files to /usr
        ini="/etc/php.ini",
        scan_dir="/etc/php.d",
    ),
    "cpanel": Layout(
        name="cpanel",
        service="ea-php81-php-fpm",
        conf="/opt/cpanel/ea-php81/root/etc/php-fpm.conf",
        pool_dir="/opt/cpanel/ea-php81/root/etc/php-fpm.d",
        pool="web81_lab_test",
        user="labacct",
        socket="/opt/cpanel/ea-php81/root/usr/var/run/php-fpm/web81_lab_test.sock",
        old_socket="/opt/cpanel/ea-php74/root/usr/var/run/php-fpm/web81_lab_test.sock",
        pid="/opt/cpanel/ea-php81/root/usr/var/run/php-fpm/php-fpm.pid",
        error_log="/opt/cpanel/ea-php81/root/usr/var/log/php-fpm/error.log",
        binary="/opt/cpanel/ea-php81/root/usr/sbin/php-fpm",
        ini="/opt/cpanel/ea-php81/root/etc/php.ini",
        scan_dir="/opt/cpanel/ea-php81/root/etc/php.d",
    ),
    "plesk": Layout(
        name="plesk",
        service="plesk-php81-fpm",
        conf="/opt/plesk/php/8.1/etc/php-fpm.conf",
        pool_dir="/opt/plesk/php/8.1/etc/php-fpm.d",
        pool="web82.lab.test",
        user="labsub",
        socket="/var/www/vhosts/system/web82.lab.test/php-fpm.sock",
        old_socket="/var/www/vhosts/system/web82.lab.test/php-fpm74.sock",
        pid="/run/plesk-php81-fpm.pid",
        error_log="/var/log/plesk-php81-fpm/error.log",
        binary="/opt/plesk/php/8.1/sbin/php-fpm",
        ini="/opt/plesk/php/8.1/etc/php.ini",
        scan_dir="/opt/plesk/php/8.1/etc/php.d",
    ),
}

FPM_CONF = """\
;;;;;;;;;;;;;;;;;;;;;
; FPM Configuration ;
;;;;;;;;;;;;;;;;;;;;;
; laid out as the {name} layout ships it (fix502 lab: simulated with Debian's php-fpm8.2)

include={pool_dir}/*.conf

[global]
pid = {pid}
error_log = {error_log}
daemonize = yes
"""

POOL = """\
; the site's pool ({name} layout, simulated by the fix502 lab)
[{pool}]
user = {user}
group = {user}
listen = {socket}
listen.owner = {web_user}
listen.group = {web_user}
listen.mode = 0660
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
php_admin_value[error_log] = {error_log_dir}/{pool}-error.log
php_value[session.save_path] = /var/lib/php/sessions
"""

INIT_SCRIPT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          {service}
# Required-Start:    $remote_fs $network
# Required-Stop:     $remote_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: PHP FastCGI Process Manager ({name} layout, simulated by the fix502 lab)
### END INIT INFO
DAEMON={binary}
CONF={conf}
PIDFILE={pid}
export PHP_INI_SCAN_DIR={scan_dir}
case "$1" in
    start)
        mkdir -p "${{PIDFILE%/*}}" {socket_dir} {log_dir}
        $DAEMON -t -y "$CONF" -c {ini} >/dev/null 2>&1 || {{ $DAEMON -t -y "$CONF" -c {ini}; exit 1; }}
        start-stop-daemon --start --quiet --pidfile "$PIDFILE" --exec "$DAEMON" -- --fpm-config "$CONF" -c {ini}
        ;;
    stop)
        start-stop-daemon --stop --quiet --retry=QUIT/30/TERM/5/KILL/5 --pidfile "$PIDFILE" --exec "$DAEMON"
        rm -f "$PIDFILE"
        ;;
    status)
        start-stop-daemon --status --pidfile "$PIDFILE" --exec "$DAEMON"
        ;;
    reload | force-reload)
        start-stop-daemon --stop --signal USR2 --quiet --pidfile "$PIDFILE" --exec "$DAEMON"
        ;;
    restart)
        "$0" stop
        "$0" start
        ;;
    *)
        echo "Usage: $0 {{start|stop|status|restart|reload}}" >&2
        exit 3
        ;;
esac
"""

USERS = {"apache": 48, "labacct": 2101, "labsub": 2102}


def add_system_user(host: LabHost, user: str) -> None:
    """The pool's account, in the host's own /etc/passwd and group (bound by hostinit)."""
    etc = host.root / "etc"
    etc.mkdir(exist_ok=True)
    for name in ("passwd", "group", "shadow"):
        if not (etc / name).exists():
            shutil.copy2(f"/etc/{name}", etc / name)
    uid = USERS[user]
    with open(etc / "passwd", "a") as fh:
        fh.write(f"{user}:x:{uid}:{uid}:{user} (fix502 lab layout account):/nonexistent:/usr/sbin/nologin\n")
    with open(etc / "group", "a") as fh:
        fh.write(f"{user}:x:{uid}:\n")


def inside(host: LabHost, path: str) -> Path:
    """Where a layout path lives in the host's state: /opt and the /etc overlay's upper layer."""
    if path.startswith("/opt/"):
        return host.root / "opt" / path[len("/opt/") :]
    if path.startswith("/etc/"):
        return host.root / "etc-upper" / path[len("/etc/") :]
    return host.path(path)


def put(host: LabHost, path: str, text: str, mode: int = 0o644) -> None:
    target = inside(host, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def build(host: LabHost) -> None:
    """Lay the host out as ``host.layout`` (called from lab.build_root, before the namespace starts)."""
    lay = LAYOUTS[host.layout]
    root = host.root
    for d in ("etc-upper", "etc-work", "opt"):
        (root / d).mkdir(exist_ok=True)
    os.chmod(root / "opt", 0o755)
    fpm = root / "etc/php/8.2/fpm"
    put(host, lay.ini, (fpm / "php.ini").read_text())
    scan = inside(host, lay.scan_dir)
    shutil.copytree(fpm / "conf.d", scan, symlinks=False)  # the links point into mods-available
    shutil.rmtree(fpm)  # no Debian FPM on this host
    if lay.binary != DEBIAN_FPM:
        target = inside(host, lay.binary)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(DEBIAN_FPM, target)
    put(host, lay.conf, FPM_CONF.format(**lay.__dict__))
    log_dir = lay.error_log.rsplit("/", 1)[0]
    put(
        host,
        f"{lay.pool_dir}/{lay.pool}.conf",
        POOL.format(**lay.__dict__, error_log_dir=log_dir, web_user="apache" if host.web == "apache" else "www-data"),
    )
    script = INIT_SCRIPT.format(**lay.__dict__, socket_dir=lay.socket.rsplit("/", 1)[0], log_dir=log_dir)
    put(host, f"/etc/init.d/{lay.service}", script, 0o755)
    add_system_user(host, lay.user)
    site = root / "etc/nginx/sites-available/wordpress"
    site.write_text(site.read_text().replace("/run/php/php8.2-fpm.sock", lay.socket))
    if host.web == "apache":
        build_httpd(host)


def after_start(host: LabHost) -> None:
    """Inside the running namespace: Debian's FPM (and Apache) init scripts are not this layout's."""
    host.sh("rm -f /etc/init.d/php8.2-fpm" + (" /etc/init.d/apache2" if host.web == "apache" else ""))


def old_socket(host: LabHost) -> None:
    """After a PHP (or layout) upgrade the site still points at the old socket."""
    lay = LAYOUTS[host.layout]
    site = host.path("/etc/nginx/sites-available/wordpress")
    site.write_text(site.read_text().replace(lay.socket, lay.old_socket))
    host.sh("service nginx reload >/dev/null", timeout=60)
    time.sleep(1.0)  # nginx swaps workers asynchronously after a reload


# ---- Apache laid out as RHEL's httpd package lays it out (simulated with Debian's apache2) ---------
HTTPD_MODULES = [
    "mpm_event",
    "authz_core",
    "authz_host",
    "mime",
    "authn_core",
    "dir",
    "alias",
    "rewrite",
    "setenvif",
    "proxy",
    "proxy_fcgi",
]
HTTPD_CONF = """\
# /etc/httpd/conf/httpd.conf as RHEL/Alma/Rocky's httpd package lays it out
# (fix502 lab: simulated with Debian's /usr/sbin/apache2)
ServerRoot "/etc/httpd"
Listen {addr}:80
Include conf.modules.d/*.conf
User apache
Group apache
ServerName {name}.lab.test
ServerAdmin root@localhost
DefaultRuntimeDir /run/httpd
PidFile /run/httpd/httpd.pid
TypesConfig /etc/mime.types
<Directory />
    AllowOverride none
    Require all denied
</Directory>
DocumentRoot "/var/www/html"
ErrorLog "logs/error_log"
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "logs/access_log" common
IncludeOptional conf.d/*.conf
"""
HTTPD_PHP = """\
#
# The php-fpm package's /etc/httpd/conf.d/php.conf (RHEL): PHP goes to FPM through a socket
#
<Files ".user.ini">
    Require all denied
</Files>
AddType text/html .php
DirectoryIndex index.php
<FilesMatch \\.(php|phar)$>
    SetHandler "proxy:unix:{socket}|fcgi://localhost"
</FilesMatch>
"""
HTTPD_SITE = """\
# WordPress on {addr} (fix502 lab, RHEL httpd layout)
<VirtualHost {addr}:80>
    ServerName {name}.lab.test
    DocumentRoot /var/www/wordpress
    ErrorLog /var/log/httpd/wordpress-error_log
    <Directory /var/www/wordpress>
        Options FollowSymLinks
        AllowOverride All
        Require all granted
    </Directory>
</VirtualHost>
"""
HTTPD_INIT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          httpd
# Short-Description: The Apache HTTP Server (RHEL httpd layout, simulated by the fix502 lab)
### END INIT INFO
DAEMON=/usr/sbin/apache2
PIDFILE=/run/httpd/httpd.pid
ARGS="-d /etc/httpd -f conf/httpd.conf"
case "$1" in
    start)
        mkdir -p /run/httpd /var/log/httpd
        $DAEMON $ARGS -t >/dev/null 2>&1 || { $DAEMON $ARGS -t; exit 1; }
        start-stop-daemon --start --quiet --pidfile "$PIDFILE" --exec "$DAEMON" -- $ARGS -k start
        ;;
    stop)
        start-stop-daemon --stop --quiet --retry=TERM/10/KILL/5 --pidfile "$PIDFILE" --exec "$DAEMON"
        rm -f "$PIDFILE"
        ;;
    status) start-stop-daemon --status --pidfile "$PIDFILE" --exec "$DAEMON" ;;
    reload | graceful) $DAEMON $ARGS -k graceful ;;
    restart) "$0" stop; "$0" start ;;
    *) echo "Usage: $0 {start|stop|status|restart|reload}" >&2; exit 3 ;;
esac
"""


def build_httpd(host: LabHost) -> None:
    """/etc/httpd (conf, conf.modules.d, conf.d/php.conf, the site), /etc/init.d/httpd, user apache;
    Debian's /etc/apache2 keeps its files but no apache2.conf, so apache2ctl finds nothing to read."""
    lay = LAYOUTS[host.layout]
    put(host, "/etc/httpd/conf/httpd.conf", HTTPD_CONF.format(addr=host.addr, name=host.name))
    mods = "".join(f"LoadModule {m}_module modules/mod_{m}.so\n" for m in HTTPD_MODULES)
    put(host, "/etc/httpd/conf.modules.d/00-base.conf", mods)
    put(host, "/etc/httpd/conf.d/php.conf", HTTPD_PHP.format(socket=lay.socket))
    put(host, "/etc/httpd/conf.d/wordpress.conf", HTTPD_SITE.format(addr=host.addr, name=host.name))
    put(host, "/etc/init.d/httpd", HTTPD_INIT, 0o755)
    base = inside(host, "/etc/httpd")
    (base / "modules").symlink_to("/usr/lib/apache2/modules")
    (base / "logs").symlink_to("../../var/log/httpd")
    (host.root / "var/log/httpd").mkdir(parents=True, exist_ok=True)
    (host.root / "var/www/html").mkdir(parents=True, exist_ok=True)  # httpd.conf's main DocumentRoot
    (host.root / "etc/apache2/apache2.conf").unlink()
    if "apache" not in (host.root / "etc/passwd").read_text():
        add_system_user(host, "apache")


def old_handler_socket(host: LabHost) -> None:
    """After an upgrade php.conf's SetHandler still names the old socket."""
    lay = LAYOUTS[host.layout]
    conf = inside(host, "/etc/httpd/conf.d/php.conf")
    conf.write_text(conf.read_text().replace(lay.socket, lay.old_socket))
    host.sh("service httpd reload >/dev/null 2>&1", timeout=60)
    time.sleep(1.0)
