"""A lab of real WordPress hosts on one machine, for tests, demos and benchmarks.

Each host ``webN`` is its own Linux mount + PID namespace (see ``hostinit.py``) with its own
/etc/nginx, /etc/php, /etc/apache2, /etc/ssh, /run, /var/log, /var/www, /var/backups and /tmp, a real
sshd on ``127.0.0.(10+N):22`` that only accepts the lab key, real nginx or Apache and PHP-FPM 8.2 from
Debian packages started with ``service``, and a real WordPress (Debian's core) installed into its own
database on the one MariaDB server on 127.0.0.1.  fix502 sees only SSH: it must discover the rest.

The lab is machine-wide state under ``FIX502_LAB_DIR`` (default /var/lib/fix502-lab) so that
``lab.down`` from any checkout stops exactly the processes any ``lab.up`` started.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.lab.hostinit import BINDS as BIND_TARGETS

HERE = Path(__file__).resolve().parent
LAB_DIR = Path(os.environ.get("FIX502_LAB_DIR", "/var/lib/fix502-lab"))
PRISTINE = LAB_DIR / "pristine"  # a copy of the packages' /etc trees, taken once before any host edits
KEY = LAB_DIR / "id_ed25519"
KNOWN_HOSTS = Path(os.environ.get("FIX502_KNOWN_HOSTS", str(Path.home() / ".ssh" / "known_hosts")))
PHP = "8.2"
FPM_SOCK = f"/run/php/php{PHP}-fpm.sock"
PLUGINS = [  # written by the lab, activated through WordPress; order matters for bisection tests
    "lab-seo",
    "lab-cache",
    "lab-forms",
    "lab-gallery",
    "lab-analytics",
    "lab-backup",
    "lab-security",
    "lab-social",
    "lab-shop",
]
THEME = "lab-classic"


class LabError(RuntimeError):
    pass


def sh(
    cmd: str | list[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    args = cmd if isinstance(cmd, list) else ["sh", "-c", cmd]
    proc = subprocess.run(args, capture_output=True, text=True, input=input, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
        raise LabError(f"{shown!r} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


SUDO_USER = "deploy"
SUDO_PASSWORD = "lab sudo pw 7Qx"  # the password-sudo host's; fix502 must never write it anywhere
LOGINS = ("root", "sudo", "sudo-password", "owner", "sftp", "sftp-chroot")
ACCOUNT_LOGINS = ("owner", "sftp", "sftp-chroot")  # the site's own account logs in
SITE_OWNER = "www-data"  # login "owner": the site's own account (the FPM pool user), no sudo


@dataclass
class LabHost:
    name: str
    index: int
    web: str  # "nginx" | "apache"
    # root | sudo (deploy, NOPASSWD) | sudo-password (deploy, sudo asks) | owner | sftp | sftp-chroot
    login: str = "root"
    layout: str = "debian"  # debian | rhel | cpanel | plesk (simulated: tests/lab/layouts.py)

    @property
    def addr(self) -> str:
        return f"127.0.0.{10 + self.index}"

    @property
    def url(self) -> str:
        return f"http://{self.addr}/"

    @property
    def state(self) -> Path:
        return LAB_DIR / "hosts" / self.name

    @property
    def root(self) -> Path:
        return self.state / "root"

    def path(self, inside: str) -> Path:
        """Map a path as the host sees it to where it lives on the controller's filesystem."""
        for rel, target in BIND_TARGETS:
            if inside == target or inside.startswith(target + "/"):
                return self.root / rel / inside[len(target) :].lstrip("/")
        if self.layout != "debian" and (inside.startswith("/opt/") or inside.startswith("/etc/")):
            from tests.lab import layouts

            return layouts.inside(self, inside)
        raise LabError(f"{inside} is not a per-host path")

    @property
    def init_pid(self) -> int | None:
        try:
            pid = int((self.state / "init.pid").read_text())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def sh(self, cmd: str, *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside the host (its mount and PID namespaces), as root."""
        pid = self.init_pid
        if pid is None:
            raise LabError(f"{self.name} is not running")
        return sh(["nsenter", "-t", str(pid), "-m", "-p", "--", "sh", "-c", cmd], check=check, timeout=timeout)

    def http(self, path: str = "/", timeout: float = 30) -> tuple[int, str]:
        """GET the site from the controller: (status, body)."""
        out = sh(
            ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(timeout), f"http://{self.addr}{path}"],
            check=False,
            timeout=timeout + 5,
        )
        body, _, code = out.stdout.rpartition("\n")
        return int(code or 0), body

    def fpm_pids(self) -> list[int]:
        out = self.sh("pgrep '^php-fpm' || true").stdout.split()
        return [int(p) for p in out]

    def service_pids(self) -> dict[str, list[int]]:
        out = self.sh("ps -eo pid=,comm= || true").stdout
        pids: dict[str, list[int]] = {}
        for line in out.splitlines():
            pid, _, comm = line.strip().partition(" ")
            pids.setdefault(comm.strip(), []).append(int(pid))
        return pids

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def read(self, inside: str) -> str:
        return self.path(inside).read_text()


# --------------------------------------------------------------------------------------------
# machine-wide preparation
# --------------------------------------------------------------------------------------------
def prepare() -> None:
    """Things done once per machine: pristine copies, the lab key, MariaDB running."""
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(LAB_DIR, 0o700)
    if not (PRISTINE / "done").exists():
        if PRISTINE.exists():
            shutil.rmtree(PRISTINE)
        PRISTINE.mkdir()
        for rel in ("etc/nginx", "etc/php", "etc/apache2", "etc/ssh", "var/lib/nginx", "var/lib/apache2"):
            src = Path("/") / rel
            if src.exists():
                sh(["cp", "-a", str(src), str(PRISTINE / rel.replace("/", "_"))])
        (PRISTINE / "done").write_text("ok\n")
    if not KEY.exists():
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fix502-lab", "-f", str(KEY)])
    ensure_mariadb()


MARIADB_MARK = LAB_DIR / "mariadb-started-by-lab"


def ensure_mariadb() -> None:
    """The lab's one database server; started here (and so stopped by ``down``) only if it was
    not running already — a machine's own MariaDB is left alone."""
    if sh("mysqladmin --protocol=socket ping", check=False).returncode == 0:
        return
    sh("service mariadb start", timeout=120)
    MARIADB_MARK.write_text("1\n")
    for _ in range(60):
        if sh("mysqladmin --protocol=socket ping", check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise LabError("MariaDB did not start")


def mysql(sql: str) -> None:
    sh(["mysql", "--protocol=socket", "-e", sql])


# --------------------------------------------------------------------------------------------
# one host
# --------------------------------------------------------------------------------------------
NGINX_SITE = """\
# WordPress on {addr} (written by the fix502 lab, like a typical hand-written site)
server {{
\tlisten {addr}:80;
\tserver_name {name}.lab.test {addr};

\troot /var/www/wordpress;
\tindex index.php index.html;

\taccess_log /var/log/nginx/wordpress.access.log;
\terror_log /var/log/nginx/wordpress.error.log;

\tlocation / {{
\t\ttry_files $uri $uri/ /index.php?$args;
\t}}

\tlocation ~ \\.php$ {{
\t\tinclude snippets/fastcgi-php.conf;
\t\tfastcgi_pass unix:{sock};  # PHP-FPM pool "www"
\t}}

\tlocation ~ /\\.ht {{
\t\tdeny all;
\t}}
}}
"""

APACHE_SITE = """\
# WordPress on {addr} (written by the fix502 lab)
<VirtualHost {addr}:80>
\tServerName {name}.lab.test
\tDocumentRoot /var/www/wordpress

\t<Directory /var/www/wordpress>
\t\tOptions FollowSymLinks
\t\tAllowOverride All
\t\tRequire all granted
\t</Directory>

\t<FilesMatch ".+\\.php$">
\t\tSetHandler "proxy:unix:{sock}|fcgi://localhost"
\t</FilesMatch>

\tErrorLog ${{APACHE_LOG_DIR}}/error.log
\tCustomLog ${{APACHE_LOG_DIR}}/access.log combined
</VirtualHost>
"""

SSHD_CONFIG = """\
# sshd of lab host {name}: key-only root login on its own loopback address
ListenAddress {addr}
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin {root_login}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile /etc/ssh/authorized_keys_lab
MaxStartups 200:30:400
MaxSessions 50
Subsystem sftp /usr/lib/openssh/sftp-server
"""

PLUGIN_PHP = """<?php
/**
 * Plugin Name: {title}
 * Description: A lab plugin of the fix502 test lab. It does a little real work on each request.
 * Version: 1.0.0
 */
if ( ! defined( 'ABSPATH' ) ) {{ exit; }}
add_action( 'wp_footer', function () {{ echo "<!-- {slug} active -->\\n"; }} );
"""

THEME_STYLE = """/*
Theme Name: Lab Classic
Description: A small classic theme of the fix502 lab.
Version: 1.0
*/
body {{ font-family: sans-serif; }}
"""

THEME_INDEX = """<!DOCTYPE html>
<html <?php language_attributes(); ?>>
<head><meta charset="<?php bloginfo( 'charset' ); ?>"><?php wp_head(); ?></head>
<body <?php body_class(); ?>>
<h1><?php bloginfo( 'name' ); ?></h1>
<?php if ( have_posts() ) : while ( have_posts() ) : the_post(); ?>
<article><h2><?php the_title(); ?></h2><?php the_content(); ?></article>
<?php endwhile; endif; ?>
<?php wp_footer(); ?>
</body>
</html>
"""

INSTALL_PHP = r"""<?php
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST'] = getenv( 'LAB_ADDR' );
$_SERVER['REQUEST_URI'] = '/';
require '/var/www/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
if ( ! is_blog_installed() ) {
    $r = wp_install( getenv( 'LAB_NAME' ), 'admin', 'admin@lab.test', false, '', wp_generate_password( 24 ) );
}
$url = 'http://' . getenv( 'LAB_ADDR' );
update_option( 'siteurl', $url );
update_option( 'home', $url );
switch_theme( getenv( 'LAB_THEME' ) );
foreach ( explode( ',', getenv( 'LAB_PLUGINS' ) ) as $slug ) {
    $r = activate_plugin( "$slug/$slug.php" );
    if ( is_wp_error( $r ) ) { fwrite( STDERR, $r->get_error_message() . "\n" ); exit( 1 ); }
}
echo json_encode( array( 'active' => get_option( 'active_plugins' ), 'theme' => get_option( 'stylesheet' ) ) ), "\n";
"""


def wp_config(db: str, password: str) -> str:
    sample = Path("/usr/share/wordpress/wp-config-sample.php").read_text()
    sample = sample.replace("database_name_here", db).replace("username_here", db)
    sample = sample.replace("password_here", password).replace("'localhost'", "'127.0.0.1'")
    while "put your unique phrase here" in sample:
        sample = sample.replace("put your unique phrase here", secrets.token_urlsafe(48), 1)
    return sample


def hosts_file() -> Path:
    return LAB_DIR / "hosts.json"


def load_hosts() -> dict[str, LabHost]:
    try:
        data = json.loads(hosts_file().read_text())
    except (OSError, ValueError):
        return {}
    return {
        h["name"]: LabHost(h["name"], h["index"], h["web"], h.get("login", "root"), h.get("layout", "debian"))
        for h in data
    }


def save_hosts(hosts: dict[str, LabHost]) -> None:
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    data = [
        {"name": h.name, "index": h.index, "web": h.web, "login": h.login, "layout": h.layout}
        for h in sorted(hosts.values(), key=lambda h: h.index)
    ]
    hosts_file().write_text(json.dumps(data, indent=1) + "\n")


def build_root(host: LabHost) -> None:
    """Lay out the host's own filesystem parts from the pristine package files."""
    if host.state.exists():
        shutil.rmtree(host.state)
    root = host.root
    root.mkdir(parents=True)
    for rel in ("etc/nginx", "etc/php", "etc/apache2", "etc/ssh", "var/lib/nginx", "var/lib/apache2"):
        src = PRISTINE / rel.replace("/", "_")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sh(["cp", "-a", str(src), str(root / rel)])
    for rel in (
        "run",
        "var/www",
        "var/backups",
        "var/lib/php/sessions",
        "var/cache/apache2",
        "tmp",
        "var/log/nginx",
        "var/log/apache2",
    ):
        (root / rel).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    os.chmod(root / "var/lib/php/sessions", 0o1733)
    sh(["chown", "www-data:adm", str(root / "var/log/nginx")])
    sh(["chown", "root:adm", str(root / "var/log/apache2")])
    os.chmod(root / "var/log/apache2", 0o750)

    # PHP: production-like (no xdebug in the FPM SAPI), one pool "www" on the Debian socket.
    for sapi in ("fpm", "cli"):
        for p in (root / f"etc/php/{PHP}/{sapi}/conf.d").glob("*xdebug*"):
            p.unlink()

    # nginx
    ng = root / "etc/nginx"
    for p in (ng / "sites-enabled").iterdir():
        p.unlink()
    (ng / "sites-available/wordpress").write_text(NGINX_SITE.format(addr=host.addr, name=host.name, sock=FPM_SOCK))
    (ng / "sites-enabled/wordpress").symlink_to("/etc/nginx/sites-available/wordpress")

    # apache: event MPM + proxy_fcgi, no mod_php, listening only on the host's address
    ap = root / "etc/apache2"
    (ap / "ports.conf").write_text(f"Listen {host.addr}:80\n")
    for p in (ap / "sites-enabled").iterdir():
        p.unlink()
    (ap / "sites-available/wordpress.conf").write_text(
        APACHE_SITE.format(addr=host.addr, name=host.name, sock=FPM_SOCK)
    )
    (ap / "sites-enabled/wordpress.conf").symlink_to("../sites-available/wordpress.conf")
    mods = ap / "mods-enabled"
    for stem in ("php8.2", "mpm_prefork"):
        for ext in (".load", ".conf"):
            (mods / f"{stem}{ext}").unlink(missing_ok=True)
    for stem in ("mpm_event", "proxy", "proxy_fcgi", "setenvif", "rewrite"):
        for ext in (".load", ".conf"):
            if (ap / "mods-available" / f"{stem}{ext}").exists() and not (mods / f"{stem}{ext}").exists():
                (mods / f"{stem}{ext}").symlink_to(f"../mods-available/{stem}{ext}")
    conf = ap / "conf-enabled" / "php8.2-fpm.conf"
    if not conf.exists():
        conf.symlink_to("../conf-available/php8.2-fpm.conf")

    # ssh
    ssh = root / "etc/ssh"
    for p in ssh.glob("ssh_host_*"):
        p.unlink()
    sh(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{host.name}",
            "-f",
            str(ssh / "ssh_host_ed25519_key"),
        ]
    )
    root_login = "prohibit-password" if host.login == "root" else "no"
    (ssh / "sshd_config").write_text(SSHD_CONFIG.format(name=host.name, addr=host.addr, root_login=root_login))
    shutil.rmtree(ssh / "sshd_config.d", ignore_errors=True)
    (ssh / "authorized_keys_lab").write_text(Path(str(KEY) + ".pub").read_text())
    # sshd reads it as the logging-in user: readable by all, writable by root only
    os.chmod(ssh / "authorized_keys_lab", 0o600 if host.login == "root" else 0o644)
    if host.login in ("sudo", "sudo-password"):
        add_sudo_user(host)
    if host.layout != "debian":
        from tests.lab import layouts

        layouts.build(host)

    # WordPress: Debian's core, hard-linked where it is never edited (atomic writes break links).
    wp = root / "var/www/wordpress"
    wp.mkdir(parents=True)
    for entry in Path("/usr/share/wordpress").iterdir():
        if entry.name in ("wp-config.php", ".htaccess"):
            continue
        if entry.name in ("wp-admin", "wp-includes"):
            sh(["cp", "-al", str(entry), str(wp / entry.name)])
        else:
            sh(["cp", "-rL", str(entry), str(wp / entry.name)])
    db = f"wp_{host.name}"
    password = secrets.token_urlsafe(18)
    (wp / "wp-config.php").write_text(wp_config(db, password))
    for slug in PLUGINS:
        d = wp / "wp-content/plugins" / slug
        d.mkdir(parents=True)
        (d / f"{slug}.php").write_text(PLUGIN_PHP.format(title=slug.replace("-", " ").title(), slug=slug))
    t = wp / "wp-content/themes" / THEME
    t.mkdir(parents=True)
    (t / "style.css").write_text(THEME_STYLE.format())
    (t / "index.php").write_text(THEME_INDEX)
    (wp / "wp-content/uploads").mkdir(exist_ok=True)
    sh(["chown", "-R", "www-data:www-data", str(wp / "wp-content")])
    if host.login in ACCOUNT_LOGINS:
        add_site_owner(host)
    if host.login == "sftp":  # the same account, SFTP only (no shell, whatever it asks to run)
        with open(ssh / "sshd_config", "a") as fh:
            fh.write(f"Match User {SITE_OWNER}\n    ForceCommand internal-sftp\n")
    if host.login == "sftp-chroot":  # ... and jailed: it sees /var (root's) as "/", lands in /www
        with open(ssh / "sshd_config", "a") as fh:
            fh.write(f"Match User {SITE_OWNER}\n    ChrootDirectory /var\n    ForceCommand internal-sftp -d /www\n")
    mysql(
        f"DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}`; "
        f"CREATE OR REPLACE USER '{db}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
        f"CREATE OR REPLACE USER '{db}'@'localhost' IDENTIFIED BY '{password}'; "
        f"GRANT ALL ON `{db}`.* TO '{db}'@'127.0.0.1'; GRANT ALL ON `{db}`.* TO '{db}'@'localhost';"
    )


def add_sudo_user(host: LabHost) -> None:
    """A host where root cannot log in: the inventory's user is ``deploy`` with sudo (NOPASSWD, or
    asking for its password).  The host gets its own /etc/passwd, group, shadow, sudoers.d and /home
    (bind-mounted by hostinit), so the machine's own accounts are never touched."""
    import warnings

    with warnings.catch_warnings():  # deprecated, still in 3.11: only the lab hashes a password
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    root, uid = host.root, 2000
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    for name in ("passwd", "group", "shadow"):
        shutil.copy2(f"/etc/{name}", etc / name)
    with open(etc / "passwd", "a") as fh:
        fh.write(f"{SUDO_USER}:x:{uid}:{uid}:fix502 lab deploy user:/home/{SUDO_USER}:/bin/sh\n")
    with open(etc / "group", "a") as fh:
        fh.write(f"{SUDO_USER}:x:{uid}:\n")
    hashed = crypt.crypt(SUDO_PASSWORD, crypt.mksalt(crypt.METHOD_SHA512))
    with open(etc / "shadow", "a") as fh:
        fh.write(f"{SUDO_USER}:{hashed}:19000:0:99999:7:::\n")
    sudoers = etc / "sudoers.d"
    sh(["cp", "-a", "/etc/sudoers.d", str(sudoers)])
    rule = "NOPASSWD: ALL" if host.login == "sudo" else "ALL"
    (sudoers / "fix502-lab").write_text(f"{SUDO_USER} ALL=(root) {rule}\n")
    os.chmod(sudoers / "fix502-lab", 0o440)
    home = root / "home" / SUDO_USER
    home.mkdir(parents=True)
    os.chown(home, uid, uid)


def add_site_owner(host: LabHost) -> None:
    """Shared hosting: the inventory's user is the site's own account (the pool user, www-data),
    with a shell and the lab key but no sudo; its home (/var/www), the WordPress directory and wp-config.php
    are its own (not the shared core files below it),
    as a panel account's are.  The host gets its own passwd/group/shadow (bind-mounted by hostinit)."""
    etc = host.root / "etc"
    etc.mkdir(exist_ok=True)
    for name in ("group", "shadow"):
        shutil.copy2(f"/etc/{name}", etc / name)
    lines = Path("/etc/passwd").read_text().splitlines()
    shell = [
        ":".join([*ln.split(":")[:5], "/var/www", "/bin/sh"]) if ln.startswith(f"{SITE_OWNER}:") else ln for ln in lines
    ]
    (etc / "passwd").write_text("\n".join(shell) + "\n")
    (etc / "sudoers.d").mkdir(exist_ok=True)  # no rule: sudo refuses this account
    sh(
        [
            "chown",
            f"{SITE_OWNER}:{SITE_OWNER}",
            str(host.root / "var/www"),
            str(host.root / "var/www/wordpress"),
            str(host.root / "var/www/wordpress/wp-config.php"),
        ]
    )


def start_namespace(host: LabHost) -> None:
    (host.state / "ready").unlink(missing_ok=True)
    log = open(host.state / "init.log", "w")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            sys.executable,
            str(HERE / "hostinit.py"),
            str(host.state),
            host.addr,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    # unshare --fork: our child is unshare, its child is the namespace's PID 1.
    deadline = time.time() + 20
    while not (host.state / "ready").exists():
        if proc.poll() is not None or time.time() > deadline:
            raise LabError(f"{host.name}: namespace init failed: {(host.state / 'init.log').read_text()}")
        time.sleep(0.05)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    (host.state / "unshare.pid").write_text(f"{proc.pid}\n")
    (host.state / "init.pid").write_text(f"{children[0]}\n")


def trust_host_key(host: LabHost) -> None:
    KNOWN_HOSTS.parent.mkdir(mode=0o700, exist_ok=True)
    if KNOWN_HOSTS.exists():
        sh(["ssh-keygen", "-q", "-R", host.addr, "-f", str(KNOWN_HOSTS)], check=False)
    pub = (host.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    with open(KNOWN_HOSTS, "a") as fh:
        fh.write(f"{host.addr} {pub[0]} {pub[1]}\n")
    Path(str(KNOWN_HOSTS) + ".old").unlink(missing_ok=True)


def start_services(host: LabHost) -> None:
    web = "nginx" if host.web == "nginx" else "apache2"
    fpm = f"php{PHP}-fpm"
    if host.layout != "debian":
        from tests.lab import layouts

        layouts.after_start(host)
        fpm = layouts.LAYOUTS[host.layout].service
        web = "httpd" if host.web == "apache" else web
    host.sh(f"service {fpm} start >/dev/null && service {web} start >/dev/null", timeout=60)


def install_wordpress(host: LabHost) -> None:
    host.write("/tmp/lab-install.php", INSTALL_PHP)
    env = f"LAB_ADDR={host.addr} LAB_NAME={host.name} LAB_THEME={THEME} LAB_PLUGINS={','.join(PLUGINS)}"
    out = host.sh(f"env {env} php -d display_errors=stderr /tmp/lab-install.php", timeout=120)
    host.path("/tmp/lab-install.php").unlink()
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if len(data["active"]) != len(PLUGINS) or data["theme"] != THEME:
        raise LabError(f"{host.name}: WordPress install incomplete: {data}")


def wait_healthy(host: LabHost, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    status, body = 0, ""
    while time.time() < deadline:
        status, body = host.http("/", timeout=10)
        if status == 200 and 'content="WordPress' in body:
            return
        time.sleep(0.3)
    raise LabError(f"{host.name}: site not healthy after start: HTTP {status}")


def up_host(host: LabHost) -> LabHost:
    stop_host(host)
    build_root(host)
    start_namespace(host)
    trust_host_key(host)
    start_services(host)
    install_wordpress(host)
    wait_healthy(host)
    # Start each test from a clean log window: the install's lines are not the fault's evidence.
    for log in ("nginx/error.log", "nginx/wordpress.error.log", "apache2/error.log", f"php{PHP}-fpm.log"):
        p = host.root / "var/log" / log
        if p.exists():
            p.write_text("")
    return host


def stop_host(host: LabHost) -> None:
    """Stop exactly what this host's lab.up started: its namespace init (and with it, everything in it)."""
    for name in ("init.pid", "unshare.pid"):
        try:
            pid = int((host.state / name).read_text())
        except (OSError, ValueError):
            continue
        try:
            if name == "init.pid":
                os.kill(pid, signal.SIGTERM)
            else:
                deadline = time.time() + 8
                while time.time() < deadline:
                    os.kill(pid, 0)
                    if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                        break
                    time.sleep(0.05)
                else:
                    os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, FileNotFoundError):
            pass
        (host.state / name).unlink(missing_ok=True)


def inventory_path() -> Path:
    return LAB_DIR / "inventory.yml"


def login_user(h: LabHost) -> str:
    return "root" if h.login == "root" else SITE_OWNER if h.login in ACCOUNT_LOGINS else SUDO_USER


def write_inventory(hosts: Iterable[LabHost], path: Path | None = None) -> Path:
    """An Ansible-format inventory with connection facts and site_url only: fix502 discovers the rest."""
    path = path or inventory_path()
    lines = [
        "# written by `invoke lab.up`; Ansible inventory format",
        "all:",
        "  children:",
        "    lab:",
        "      hosts:",
    ]
    for h in sorted(hosts, key=lambda h: h.index):
        lines += [
            f"        {h.name}:",
            f"          ansible_host: {h.addr}",
            "          ansible_port: 22",
            f"          ansible_user: {login_user(h)}",
            f"          ansible_ssh_private_key_file: {KEY}",
            f'          site_url: "{h.url}"',
        ]
        if h.login in ("sudo", "sudo-password"):
            lines.append("          ansible_become: true")
            # also on the NOPASSWD host: that is where a password used to leak into file writes
            lines.append(f'          ansible_become_password: "{SUDO_PASSWORD}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# the public face used by tasks.py and tests
# --------------------------------------------------------------------------------------------
def up(
    count: int = 1,
    apache: Iterable[int] = (),
    names: Iterable[str] | None = None,
    login: str = "root",
    layout: str = "debian",
) -> list[LabHost]:
    prepare()
    hosts = load_hosts()
    apache = set(apache)
    wanted = list(names) if names else [f"web{i}" for i in range(1, count + 1)]
    started = []
    for name in wanted:
        index = int(name.removeprefix("web"))
        if not 1 <= index <= 200:
            raise LabError(f"lab host names are web1..web200, not {name}")
        host = LabHost(name, index, "apache" if index in apache else "nginx", login, layout)
        hosts[name] = host
        save_hosts(hosts)
        started.append(up_host(host))
    write_inventory(hosts.values())
    return started


def down() -> list[str]:
    hosts = load_hosts()
    for host in hosts.values():
        stop_host(host)
    if KNOWN_HOSTS.exists():
        for host in hosts.values():
            sh(["ssh-keygen", "-q", "-R", host.addr, "-f", str(KNOWN_HOSTS)], check=False)
        Path(str(KNOWN_HOSTS) + ".old").unlink(missing_ok=True)
    for host in hosts.values():
        sh(["mysql", "--protocol=socket", "-e", f"DROP DATABASE IF EXISTS `wp_{host.name}`"], check=False)
        shutil.rmtree(host.state, ignore_errors=True)
    save_hosts({})
    write_inventory([])
    if MARIADB_MARK.exists():
        sh("service mariadb stop", check=False, timeout=120)
        MARIADB_MARK.unlink(missing_ok=True)
    return sorted(hosts)


def reset(name: str) -> LabHost:
    hosts = load_hosts()
    if name not in hosts:
        raise LabError(f"no lab host {name!r}; known: {', '.join(sorted(hosts)) or 'none'}")
    prepare()
    return up_host(hosts[name])


def status() -> list[dict[str, object]]:
    rows = []
    for host in sorted(load_hosts().values(), key=lambda h: h.index):
        pid = host.init_pid
        code = host.http("/", timeout=5)[0] if pid else None
        rows.append(
            {
                "name": host.name,
                "addr": host.addr,
                "web": host.web,
                "running": pid is not None,
                "init_pid": pid,
                "http": code,
            }
        )
    return rows


def get(name: str) -> LabHost:
    hosts = load_hosts()
    if name not in hosts:
        raise LabError(f"no lab host {name!r}")
    return hosts[name]
