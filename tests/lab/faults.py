"""Named, composable faults that break a healthy lab host the way production breaks.

Each fault is a function ``fault(host)`` that changes the host through its own tools (``service``,
editing its config, writing a plugin) and records what a real on-call engineer would see:
``EXPECT[name]`` holds the HTTP status and a log line fragment captured from the real software
(asserted by tests/integration/test_lab.py, so these stay true).  Faults compose: apply several
to one host and the symptoms combine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.lab.lab import FPM_SOCK, PHP, LabHost

POOL = f"/etc/php/{PHP}/fpm/pool.d/www.conf"
FPM_CONF = f"/etc/php/{PHP}/fpm/php-fpm.conf"
NGINX_SITE = "/etc/nginx/sites-available/wordpress"
APACHE_SITE = "/etc/apache2/sites-available/wordpress.conf"
CULPRIT = "lab-gallery"  # neither first nor last of the active plugins


@dataclass(frozen=True)
class Expect:
    status: int  # what a visitor gets
    log: str  # a fragment of the real log line that proves it (regex)
    log_file: str  # where it shows up on the host
    cause: str  # the cause id fix502 must name


def set_ini(text: str, key: str, value: str) -> str:
    """Lab-side helper (not the product's editor): set or add `key = value` in a pool file."""
    pattern = re.compile(rf"^;?\s*{re.escape(key)}\s*=.*$", re.M)
    if pattern.search(text):
        return pattern.sub(f"{key} = {value}", text, count=1)
    return text.rstrip("\n") + f"\n{key} = {value}\n"


def edit(host: LabHost, path: str, fn: Callable[[str], str]) -> None:
    target = host.path(path)
    target.write_text(fn(target.read_text()))


def edit_pool(host: LabHost, settings: dict[str, str]) -> None:
    """Set (or add) each ``key = value`` in the www pool file."""

    def apply(text: str) -> str:
        for key, value in settings.items():
            text = set_ini(text, key, value)
        return text

    edit(host, POOL, apply)


def restart_fpm(host: LabHost) -> None:
    host.sh(f"service php{PHP}-fpm restart >/dev/null 2>&1 || true", timeout=60)


def reload_web(host: LabHost) -> None:
    web = "nginx" if host.web == "nginx" else "apache2"
    host.sh(f"service {web} reload >/dev/null", timeout=60)
    time.sleep(1.0)  # nginx/apache swap workers asynchronously after a reload


def plugin_file(slug: str) -> str:
    return f"/var/www/wordpress/wp-content/plugins/{slug}/{slug}.php"


def poison_plugin(host: LabHost, slug: str, code: str) -> None:
    """A plugin update lands: the plugin's main file now runs ``code`` on front-end requests."""

    def add(text: str) -> str:
        return text + f"\nif ( ! is_admin() && ! defined( 'WP_CLI' ) && PHP_SAPI !== 'cli' ) {{\n{code}\n}}\n"

    edit(host, plugin_file(slug), add)
    await_opcache()


def await_opcache() -> None:
    """Wait until PHP-FPM's opcache sees a file just written, as a real site would a moment later.

    opcache.revalidate_freq=2 (Debian default) re-stats a cached script only when the request's
    whole-second time is strictly past its last check + 2, and that check may have happened in the
    same second as our write.  So the update is certain to be seen from floor(now) + 3 on; sleeping
    a flat 2.2 s left half of the runs serving the old script (HTTP 200 instead of the fault).
    """
    now = time.time()
    time.sleep(int(now) + 3.05 - now)


# --- the faults ------------------------------------------------------------------------------
def healthy(host: LabHost) -> None:
    """No fault: the control case."""


def fpm_stopped(host: LabHost) -> None:
    """A deploy script stopped PHP-FPM and forgot to start it."""
    host.sh(f"service php{PHP}-fpm stop >/dev/null", timeout=60)


def fpm_killed(host: LabHost) -> None:
    """The OOM killer (or a kill -9) took the whole pool: socket and pid file stay behind."""
    host.sh("pkill -KILL '^php-fpm' || true")
    time.sleep(0.3)


def old_php_socket(host: LabHost) -> None:
    """After a PHP upgrade the site still points at the previous version's socket."""
    edit(
        host,
        NGINX_SITE if host.web == "nginx" else APACHE_SITE,
        lambda t: t.replace(FPM_SOCK, "/run/php/php8.1-fpm.sock"),
    )
    reload_web(host)


STORE_POOL = f"""; a second pool on the same host (a second site's, or a shop's own workers)
[store]
user = www-data
group = www-data
listen = /run/php/php{PHP}-fpm-store.sock
listen.owner = www-data
listen.group = www-data
pm = ondemand
pm.max_children = 5
"""


def two_pools_old_store_socket(host: LabHost) -> None:
    """Two pools (www, store); after a PHP upgrade the site still points at the store pool's
    previous-version socket.  Only the store pool corresponds to it: no one has to choose."""
    host.write(f"/etc/php/{PHP}/fpm/pool.d/store.conf", STORE_POOL)
    restart_fpm(host)
    edit(
        host,
        NGINX_SITE if host.web == "nginx" else APACHE_SITE,
        lambda t: t.replace(FPM_SOCK, "/run/php/php8.1-fpm-store.sock"),
    )
    reload_web(host)


def huge_headers_plugin(host: LabHost) -> None:
    """A plugin sends ~45 KiB of headers: 32k does not hold them, 64k does (the ladder's 2nd step)."""
    poison_plugin(
        host,
        "lab-social",
        "add_action( 'send_headers', function () { for ( $i = 0; $i < 45; $i++ ) "
        "{ header( 'X-Lab-Social-' . $i . ': ' . str_repeat( 'x', 1000 ) ); } } );",
    )


def tcp_port_mismatch(host: LabHost) -> None:
    """FPM moved to TCP 9000 on the host address, nginx talks to 9001."""
    edit_pool(host, {"listen": f"{host.addr}:9000"})
    restart_fpm(host)
    edit(host, NGINX_SITE, lambda t: t.replace(f"unix:{FPM_SOCK}", f"{host.addr}:9001"))
    reload_web(host)


def socket_permissions(host: LabHost) -> None:
    """The pool's socket is owned by root:root 0660, so the web server user cannot connect."""

    edit_pool(host, {"listen.owner": "root", "listen.group": "root", "listen.mode": "0660"})
    restart_fpm(host)


def segfault_plugin(host: LabHost) -> None:
    """A plugin update crashes the worker natively (C-stack overflow → SIGSEGV in PHP 8.2)."""
    poison_plugin(
        host,
        CULPRIT,
        "function lab_gallery_walk( $x ) { return array_map( 'lab_gallery_walk', array( $x ) ); }\n"
        "lab_gallery_walk( 1 );",
    )


def segfault_plugin_on_home(host: LabHost) -> None:
    """The culprit crashes the front page only: any other page (here ``?lab-visitor=1``) still
    renders with every plugin, so a test can watch what visitors get while a fix searches."""
    poison_plugin(
        host,
        CULPRIT,
        "if ( ! isset( $_GET['lab-visitor'] ) ) {\n"
        "function lab_gallery_walk( $x ) { return array_map( 'lab_gallery_walk', array( $x ) ); }\n"
        "lab_gallery_walk( 1 );\n}",
    )


def custom_mu_plugin_dir(host: LabHost) -> None:
    """The site keeps its must-use plugins elsewhere (WPMU_PLUGIN_DIR, as Bedrock-style layouts
    do): a file put in wp-content/mu-plugins is never loaded."""
    mu = "/var/www/wordpress/wp-content/site-mu"
    host.sh(f"mkdir -p {mu} && chown www-data:www-data {mu}")
    edit(
        host,
        "/var/www/wordpress/wp-config.php",
        lambda t: t.replace("<?php\n", f"<?php\ndefine( 'WPMU_PLUGIN_DIR', '{mu}' );\n", 1),
    )
    await_opcache()


def segfault_theme(host: LabHost) -> None:
    """The active theme's functions.php crashes the worker natively (plugins are innocent)."""
    theme = "/var/www/wordpress/wp-content/themes/lab-classic/functions.php"
    host.write(
        theme,
        "<?php\nif ( ! is_admin() ) {\n"
        "function lab_theme_walk( $x ) { return array_map( 'lab_theme_walk', array( $x ) ); }\n"
        "lab_theme_walk( 1 );\n}\n",
    )
    host.sh(f"chown www-data:www-data {theme}")
    await_opcache()


def big_headers_plugin(host: LabHost) -> None:
    """A plugin sets cookies/headers larger than nginx's default fastcgi buffer."""
    poison_plugin(
        host,
        "lab-social",
        "add_action( 'send_headers', function () { for ( $i = 0; $i < 12; $i++ ) "
        "{ header( 'X-Lab-Social-' . $i . ': ' . str_repeat( 'x', 1000 ) ); } } );",
    )


def slow_plugin(host: LabHost, seconds: int = 8) -> None:
    poison_plugin(host, "lab-analytics", f"sleep( {seconds} );")


def request_timeout(host: LabHost) -> None:
    """request_terminate_timeout kills a request a slow plugin holds too long."""
    edit_pool(host, {"request_terminate_timeout": "3s"})
    restart_fpm(host)
    slow_plugin(host, 8)


def short_read_timeout(host: LabHost) -> None:
    """Someone copied ``fastcgi_read_timeout 2s`` into the site: a legitimate 4 s export page, which
    PHP itself would let finish (no request_terminate_timeout, sleep does not count towards
    max_execution_time), is cut off by nginx with a 504."""
    edit(
        host,
        NGINX_SITE,
        lambda t: t.replace("\t\tfastcgi_pass unix:", "\t\tfastcgi_read_timeout 2s;\n\t\tfastcgi_pass unix:", 1),
    )
    reload_web(host)
    slow_plugin(host, 4)


def pool_exhausted(host: LabHost) -> None:
    """One worker, a tiny backlog and slow requests: visitors beyond it are refused at connect."""

    edit_pool(host, {"pm": "static", "pm.max_children": "1", "listen.backlog": "0"})
    restart_fpm(host)
    slow_plugin(host, 3)
    visitors(host, loops=3, seconds=120)


def visitors(host: LabHost, loops: int, seconds: int) -> None:
    """Steady traffic from inside the host (loopback only, bounded in time): exhaustion needs load."""
    loop = (
        f"end=$(( $(date +%s) + {int(seconds)} )); while [ $(date +%s) -lt $end ]; do "
        f"curl -s -o /dev/null --max-time 10 http://{host.addr}/; done"
    )
    for _ in range(loops):
        host.sh(f"setsid sh -c '{loop}' </dev/null >/dev/null 2>&1 &")
    time.sleep(1.0)


def fpm_config_error(host: LabHost) -> None:
    """A typo in the pool file: FPM refuses to start again."""
    edit_pool(host, {"pm": "sometimes"})
    host.sh(f"service php{PHP}-fpm restart >/dev/null 2>&1 || true", timeout=60)


def apache_wrong_socket(host: LabHost) -> None:
    """Apache's SetHandler still names the old PHP version's socket."""
    old_php_socket(host)


def apache_mod_php(host: LabHost) -> None:
    """mod_php (with the prefork MPM it needs) enabled next to proxy_fcgi."""
    host.sh(
        "a2dismod -q mpm_event >/dev/null && a2enmod -q mpm_prefork php8.2 >/dev/null "
        "&& service apache2 restart >/dev/null",
        timeout=60,
    )


def xdebug_in_fpm(host: LabHost) -> None:
    """xdebug left enabled in the production FPM SAPI."""
    enable_xdebug(host)
    restart_fpm(host)


def enable_xdebug(host: LabHost) -> None:
    """php8.2-xdebug as its package enables it, but inside this host's own /etc only: FPM and CLI."""
    for sapi in ("fpm", "cli"):
        host.sh(f"ln -sf /etc/php/{PHP}/mods-available/xdebug.ini /etc/php/{PHP}/{sapi}/conf.d/20-xdebug.ini")


def xdebug_slows_plugin(host: LabHost) -> None:
    """php8.2-xdebug installed on production (enabled for FPM, develop mode: Debian's default once
    loaded): a heavy but legitimate plugin (~1.4 s of PHP per page here) runs 4-5x slower under it,
    and request_terminate_timeout kills the page before it finishes.  Without xdebug it fits."""
    edit_pool(host, {"request_terminate_timeout": "3s"})
    enable_xdebug(host)
    restart_fpm(host)
    poison_plugin(
        host,
        "lab-seo",
        "$lab_seo_score = 0;\n"
        "for ( $i = 0; $i < 150000000; $i++ ) { $lab_seo_score = ( $lab_seo_score * 31 + $i ) % 1000003; }",
    )


CACHE_DROPIN = """<?php
/* Object cache drop-in of a cache plugin that has since been removed (fix502 lab fault). */
if ( PHP_SAPI === 'cli' ) { require_once ABSPATH . WPINC . '/cache.php'; return; }
function lab_cache_walk( $x ) { return array_map( 'lab_cache_walk', array( $x ) ); }
lab_cache_walk( 1 );
"""


def owned(host: LabHost, inside: str) -> None:
    """Files a site's own code writes belong to the pool user (www-data), as PHP would leave them."""
    host.sh(f"chown -R www-data:www-data {inside}")


def cache_dropin(host: LabHost) -> None:
    """A cache plugin was removed but its object-cache.php drop-in stayed: WordPress loads it on
    every request before any plugin, and it crashes the worker natively (php-cli is spared)."""
    host.write("/var/www/wordpress/wp-content/object-cache.php", CACHE_DROPIN)
    owned(host, "/var/www/wordpress/wp-content/object-cache.php")
    await_opcache()


def stale_page_cache(host: LabHost) -> None:
    """WP Super Cache's directory holds pages cached earlier (served by its rules, not by PHP)."""
    page = f"/var/www/wordpress/wp-content/cache/supercache/{host.addr}/index.html"
    host.write(page, "<html><head><title>cached</title></head><body>stale page</body></html>\n")
    owned(host, "/var/www/wordpress/wp-content/cache")


def memory_hungry_plugin(host: LabHost) -> None:
    """A plugin update needs 160 MB per request, over PHP's 128M; the owner had turned on debug.log,
    so PHP's "Allowed memory size ... exhausted" lands where the account can read it."""
    config = "/var/www/wordpress/wp-config.php"
    debug = "define( 'WP_DEBUG', true );\ndefine( 'WP_DEBUG_LOG', true );\ndefine( 'WP_DEBUG_DISPLAY', false );\n"
    edit(host, config, lambda text: text.replace("define( 'WP_DEBUG', false );\n", debug, 1))
    poison_plugin(host, CULPRIT, "$lab_gallery_buffer = str_repeat( 'x', 160 * 1024 * 1024 );")


FAULTS: dict[str, Callable[[LabHost], None]] = {
    "healthy": healthy,
    "fpm-stopped": fpm_stopped,
    "fpm-killed": fpm_killed,
    "old-php-socket": old_php_socket,
    "tcp-port-mismatch": tcp_port_mismatch,
    "socket-permissions": socket_permissions,
    "segfault-plugin": segfault_plugin,
    "segfault-plugin-on-home": segfault_plugin_on_home,
    "custom-mu-plugin-dir": custom_mu_plugin_dir,
    "segfault-theme": segfault_theme,
    "big-headers-plugin": big_headers_plugin,
    "request-timeout": request_timeout,
    "pool-exhausted": pool_exhausted,
    "short-read-timeout": short_read_timeout,
    "two-pools-old-store-socket": two_pools_old_store_socket,
    "huge-headers-plugin": huge_headers_plugin,
    "fpm-config-error": fpm_config_error,
    "apache-wrong-socket": apache_wrong_socket,
    "apache-mod-php": apache_mod_php,
    "xdebug-in-fpm": xdebug_in_fpm,
    "xdebug-slows-plugin": xdebug_slows_plugin,
    "cache-dropin": cache_dropin,
    "stale-page-cache": stale_page_cache,
    "memory-hungry-plugin": memory_hungry_plugin,
}


def apply(host: LabHost, *names: str) -> None:
    for name in names:
        if name not in FAULTS:
            raise KeyError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        FAULTS[name](host)


NGINX_LOG = "/var/log/nginx/wordpress.error.log"
APACHE_LOG = "/var/log/apache2/error.log"
FPM_LOG = f"/var/log/php{PHP}-fpm.log"

# What real software answered and logged for each fault (tests/unit/fixtures/captured/*.json).
EXPECT: dict[str, Expect] = {
    "fpm-stopped": Expect(
        502, r"connect\(\) to unix:\S+ failed \(2: No such file or directory\)", NGINX_LOG, "fpm-down"
    ),
    "fpm-killed": Expect(502, r"connect\(\) to unix:\S+ failed \(111: Connection refused\)", NGINX_LOG, "fpm-down"),
    "old-php-socket": Expect(
        502, r"connect\(\) to unix:/run/php/php8\.1-fpm\.sock failed \(2: No such file", NGINX_LOG, "socket-mismatch"
    ),
    "tcp-port-mismatch": Expect(
        502,
        r"connect\(\) failed \(111: Connection refused\).*upstream: \"fastcgi://127\.0\.0\.\d+:9001\"",
        NGINX_LOG,
        "socket-mismatch",
    ),
    "socket-permissions": Expect(502, r"failed \(13: Permission denied\)", NGINX_LOG, "socket-permission"),
    "segfault-plugin": Expect(502, r"exited on signal 11 \(SIGSEGV\)", FPM_LOG, "worker-crash"),
    "big-headers-plugin": Expect(502, r"upstream sent too big header", NGINX_LOG, "header-too-big"),
    "request-timeout": Expect(502, r"execution timed out", FPM_LOG, "worker-timeout"),
    "xdebug-slows-plugin": Expect(502, r"execution timed out", FPM_LOG, "worker-timeout"),
    "pool-exhausted": Expect(502, r"failed \(11: Resource temporarily unavailable\)", NGINX_LOG, "pool-exhausted"),
    "short-read-timeout": Expect(
        504,
        r"upstream timed out \(110: Connection timed out\) while reading response header",
        NGINX_LOG,
        "read-timeout",
    ),
    "fpm-config-error": Expect(
        502, r"connect\(\) to unix:\S+ failed \(2: No such file or directory\)", NGINX_LOG, "fpm-config-error"
    ),
    "apache-wrong-socket": Expect(
        503,
        r"AH02454: FCGI: attempt to connect to Unix domain socket /run/php/php8\.1-fpm\.sock",
        APACHE_LOG,
        "socket-mismatch",
    ),
}
