"""Typed evidence about one host.

Every field here is produced by a pure parser from one section of the evidence script's output
(see ``script.py``), so the whole picture of a host is one value that can be saved as a fixture,
diffed between runs and fed to the classifier without any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from remediations.endpoint import Endpoint, EndpointError

WebKind = Literal["nginx", "apache", "none"]
InitKind = Literal["systemd", "sysv", "unknown"]


@dataclass(frozen=True)
class Directive:
    """A config directive as written, with where it lives (needed to edit exactly that line)."""

    name: str
    args: tuple[str, ...]
    file: str
    line: int


@dataclass(frozen=True)
class FastcgiTarget:
    """Where the web server sends PHP requests: one ``fastcgi_pass``/``SetHandler``/``ProxyPassMatch``
    (or the ``server`` line of the ``upstream`` block a ``fastcgi_pass NAME`` names)."""

    endpoint: Endpoint
    directive: Directive  # the line that holds the address (the upstream's server line, if any)
    raw: str  # the argument as written, e.g. "unix:/run/php/php8.1-fpm.sock"
    via: Directive | None = None  # the fastcgi_pass that names the upstream, when there is one

    @property
    def kind(self) -> Literal["unix", "tcp"]:
        return self.endpoint.kind

    @property
    def address(self) -> str:
        return self.endpoint.address


@dataclass
class WebServer:
    kind: WebKind = "none"
    running: bool = False
    service: str | None = None  # "nginx" / "apache2"
    user: str | None = None  # worker user (www-data)
    pids: list[int] = field(default_factory=list)
    config_test_ok: bool | None = None
    config_test_output: str = ""
    fastcgi_targets: list[FastcgiTarget] = field(default_factory=list)
    buffer_directives: list[Directive] = field(default_factory=list)  # fastcgi_buffer_size/buffers
    proxy_passes: list[Directive] = field(default_factory=list)  # proxy_pass upstreams
    unresolved_targets: list[Directive] = field(default_factory=list)  # fastcgi_pass $var / unknown name
    site: str | None = None  # the server block serving site_url ("file:line server_name ..."); None: all count
    foreign_logs: list[str] = field(default_factory=list)  # other sites' own error logs: not this site's evidence
    roots: list[Directive] = field(default_factory=list)  # root / DocumentRoot
    modules: list[str] = field(default_factory=list)  # apache: loaded modules (php_module, proxy_fcgi_module)
    error_logs: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)  # "127.0.0.11:80"
    layout: str = "debian"  # apache: debian (/etc/apache2) | rhel (/etc/httpd)
    # apache on another layout: how to test its config (its own binary, -d/-f), why that binary must
    # not be run, and why its service is not known (then nothing reloads it)
    config_test_argv: tuple[str, ...] = ()
    binary: str | None = None
    binary_problem: str | None = None
    service_problem: str | None = None


@dataclass
class FpmPool:
    name: str
    file: str
    user: str | None = None
    group: str | None = None
    listen: str | None = None  # as written: "/run/php/php8.2-fpm.sock" or "127.0.0.1:9000" or "9000"
    listen_owner: str | None = None
    listen_group: str | None = None
    listen_mode: str | None = None
    pm: str | None = None
    max_children: int | None = None
    request_terminate_timeout: str | None = None
    prefix: str | None = None  # relative listen/chdir paths are relative to this
    directives: dict[str, Directive] = field(default_factory=dict)  # key -> where it is set

    @property
    def endpoint(self) -> Endpoint | None:
        """Where the pool listens, or None when ``listen`` is missing or cannot be read for sure."""
        if not self.listen:
            return None
        try:
            return Endpoint.from_listen(self.listen, self.prefix)
        except EndpointError:
            return None


@dataclass
class FpmService:
    version: str  # "8.2"
    service: str  # "php8.2-fpm"
    binary: str  # "/usr/sbin/php-fpm8.2"
    init: InitKind = "unknown"
    state: Literal["running", "stopped", "unknown"] = "unknown"
    master_pid: int | None = None
    master_started: float | None = None  # epoch seconds
    pid_file: str | None = None
    pid_file_stale: bool = False  # pid file exists but names no live master
    config_test_ok: bool | None = None
    config_test_output: str = ""
    config_unchanged: bool = False  # -t not run: no config file changed since the running master started
    global_file: str | None = None  # php-fpm.conf
    error_log: str | None = None
    emergency_restart_threshold: Directive | None = None
    emergency_restart_interval: Directive | None = None
    pools: list[FpmPool] = field(default_factory=list)
    xdebug_ini: str | None = None  # conf.d file enabling xdebug for the FPM SAPI, if any
    worker_rss_kb: list[int] = field(default_factory=list)
    # Why ``binary`` must not be run (remediations.facts.trust), None once the evidence proved it
    # root-owned, writable by root only and outside every web root: untrusted until then.
    binary_problem: str | None = "owner and mode of the binary were not reported"
    layout: str = "debian"  # debian | rhel | remi | cpanel | plesk | bitnami | other (facts/layouts.py)
    service_problem: str | None = None  # why ``service`` is not known to own the master (then: escalate)
    service_source: str | None = None  # how the service name was found, for the report
    pools_problem: str | None = None  # what was missing when the pools could not be read

    @property
    def binary_trusted(self) -> bool:
        """Whether fix502 may run ``binary`` (``-t``) as root; when False, escalate instead."""
        return self.binary_problem is None

    @property
    def config_test_argv(self) -> tuple[str, ...]:
        """``php-fpm -t`` on the config this master runs: Debian's binaries default to their own
        php-fpm.conf, every other layout's master was started with ``-y CONF`` (or a build default
        that may not be it), so the config is named."""
        if self.layout == "debian" or not self.global_file:
            return (self.binary, "-t")
        return (self.binary, "-t", "-y", self.global_file)

    @property
    def running(self) -> bool:
        """The one definition of "FPM is running": a live master, or a master pid when the state
        itself could not be read."""
        return self.state == "running" or (self.state == "unknown" and self.master_pid is not None)


@dataclass(frozen=True)
class SocketFile:
    path: str
    owner: str
    group: str
    mode: int  # permission bits, e.g. 0o660
    is_socket: bool


@dataclass(frozen=True)
class TcpListener:
    address: str  # "127.0.0.1"
    port: int
    process: str  # "php-fpm8.2" / "nginx" / ""


@dataclass(frozen=True)
class LogLine:
    source: str  # file path or "dmesg"
    text: str
    time: float | None  # epoch seconds parsed from the line, None when it has no timestamp


@dataclass
class Resources:
    mem_total_kb: int | None = None
    mem_available_kb: int | None = None


@dataclass
class WordPress:
    root: str | None = None
    version: str | None = None
    active_plugins: list[str] | None = None  # ["hello/hello.php", ...]; None when unreadable
    template: str | None = None
    stylesheet: str | None = None
    plugin_dirs: list[str] = field(default_factory=list)  # entries of wp-content/plugins
    plugins_recent: list[tuple[str, float]] = field(default_factory=list)  # (entry, mtime) < 48 h
    mu_plugins: list[str] = field(default_factory=list)
    plugins_parked: list[str] = field(default_factory=list)  # leftovers of an earlier fix502 run
    data_error: str | None = None  # why active plugins could not be read
    data_deferred: bool = False  # not read: only fetched (second round trip) when the site is unhealthy
    # What can keep serving (or crash) every page, read by both evidences (as root and as the account)
    # with the same section formats: the fixes a site owner can make read these, and only these.
    dropins: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # name -> (file|link, mtime, size)
    wp_cache: bool | None = None  # WP_CACHE true in wp-config.php (advanced-cache.php is loaded); None: unread
    caches: dict[str, tuple[str, int]] = field(default_factory=dict)  # wp-content-relative dir -> (dir|link, files)
    config_writable: bool = False  # wp-config.php is a plain file this login may rewrite (its text is in files)
    # The site's own PHP error logs (debug.log, error_log) in the window.  The site's code writes them,
    # so they are never read for the web server's, FPM's or the kernel's signatures (facts.logs).
    logs: list[LogLine] = field(default_factory=list)


@dataclass
class HttpProbe:
    url: str
    status: int | None  # None: no HTTP answer at all
    seconds: float | None = None
    error: str | None = None
    server: str | None = None  # Server: header (tells an edge such as cloudflare)
    body_hint: str | None = None  # e.g. a <title>, never the whole body
    wordpress: bool | None = None  # body has the generator tag content="WordPress; None: not looked at


@dataclass
class AccountView:
    """What a non-root account could see (the account evidence script): set only when fix502 read
    the host as the site's own user, so everything root would read is unknown.  WordPress's own
    caches, drop-ins and logs are on :class:`WordPress`, where the root evidence puts them too."""

    user: str
    home: str
    php_probe: HttpProbe | None = None  # a PHP file that loads no plugin or theme (is PHP itself up?)
    unknown: list[str] = field(default_factory=list)  # what only root could read, named


@dataclass
class HostFacts:
    now: float  # host clock, epoch
    tz: str  # "+0000"
    web: WebServer
    fpm: list[FpmService]
    sockets: list[SocketFile]
    tcp: list[TcpListener]
    logs: list[LogLine]  # only lines inside the recent window
    log_window_start: float
    dmesg_readable: bool
    resources: Resources
    wordpress: WordPress
    local_probe: HttpProbe | None = None  # curl on the host, --resolve to the origin
    remote_probe: HttpProbe | None = None  # from the controller (through any edge)
    files: dict[str, str] = field(default_factory=dict)  # config files read (path -> text), never secrets
    file_meta: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # path -> (owner, group, mode)
    notes: list[str] = field(default_factory=list)  # things we could not read, said plainly
    unix_listeners: dict[str, str] = field(default_factory=dict)  # socket path -> process (ss -x)
    missing_paths: list[str] = field(default_factory=list)  # unix socket paths named in config, absent
    account: AccountView | None = None  # read as the site's account, without root (see AccountView)
