"""PHP-FPM on the layouts other than Debian's ``/etc/php/VERSION/fpm``: RHEL/Alma/Rocky, Remi SCL,
cPanel EA4, Plesk and Bitnami.

The evidence script prints one ``fpm CONF`` section per master the process table shows (root's only)
and per config those layouts keep at a fixed place; this module turns one into an
:class:`FpmService`.  What the running system says wins over what the layout suggests: the master's
own binary (``/proc/PID/exe``) over the init script's over the layout's, the systemd unit whose
cgroup holds the master over the init scripts and units that name the config.  The layout only
names the conventional service and version when the system does not say — and when nothing
decides the service, it stays unknown (``service_problem``) and nothing is started by guess.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from remediations.facts import parsers as p
from remediations.facts import trust
from remediations.facts.model import FpmService, WebServer

_SERVICE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9@._-]*")
_CGROUP_UNIT = re.compile(r"/([A-Za-z0-9_][A-Za-z0-9@._-]*)\.service$")
_BINARY_VERSION = re.compile(r"php-fpm(\d+\.\d+)$")
_V_OUTPUT = re.compile(r"PHP (\d+\.\d+)\.\d+")


@dataclass(frozen=True)
class Layout:
    name: str  # rhel | remi | cpanel | plesk | bitnami | other
    version: str | None  # what the path says ("8.1"), None when it says nothing
    service: str | None  # the layout's conventional service name


_LAYOUTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"/etc/php-fpm\.conf"), "rhel"),
    (re.compile(r"/etc/opt/remi/php(?P<a>\d)(?P<b>\d+)/php-fpm\.conf"), "remi"),
    (re.compile(r"/opt/cpanel/ea-php(?P<a>\d)(?P<b>\d+)/root/etc/php-fpm\.conf"), "cpanel"),
    (re.compile(r"/opt/plesk/php/(?P<a>\d+)\.(?P<b>\d+)/etc/php-fpm\.conf"), "plesk"),
    (re.compile(r"/opt/bitnami/php/etc/php-fpm\.conf"), "bitnami"),
]


def layout_of(conf: str, root: str = "") -> Layout:
    """Which layout a master's config belongs to, from its path (``root``: the test hook's prefix)."""
    path = conf[len(root) :] if root and conf.startswith(root) else conf
    for pattern, name in _LAYOUTS:
        m = pattern.fullmatch(path)
        if m is None:
            continue
        a, b = (m.groupdict().get("a"), m.groupdict().get("b"))
        version = f"{a}.{b}" if a and b else None
        service = {
            "rhel": "php-fpm",
            "remi": f"php{a}{b}-php-fpm",
            "cpanel": f"ea-php{a}{b}-php-fpm",
            "plesk": f"plesk-php{a}{b}-fpm",
            "bitnami": "php-fpm",
        }[name]
        return Layout(name, version, service)
    return Layout("other", None, None)


def version_of(layout: Layout, binary: str, version_output: str | None) -> str:
    """The layout's version, else the binary's name (``php-fpm8.2``), else ``php-fpm -v``."""
    if layout.version:
        return layout.version
    m = _BINARY_VERSION.search(binary)
    if m:
        return m.group(1)
    m = _V_OUTPUT.match(version_output or "")
    return m.group(1) if m else "unknown"


@dataclass(frozen=True)
class InitFile:
    """An init script or systemd unit the script found (``unit=PATH|MARKS|BINARY``)."""

    name: str  # the service name: the file's name without ``.service``
    names_conf: bool
    names_binary: bool
    binary: str  # the first php-fpm binary it names, "" when none
    names_other_conf: bool = False  # it starts FPM with another php-fpm.conf: not this master's


def parse_units(lines: list[str]) -> list[InitFile]:
    """``unit=`` lines; a name that could not be a service name (or could be an option) is dropped."""
    out: dict[str, InitFile] = {}
    for line in lines:
        path, sep, rest = line.partition("|")
        marks, _, binary = rest.partition("|")
        name = posixpath.basename(path).removesuffix(".service")
        if not sep or not _SERVICE_NAME.fullmatch(name):
            continue
        prior = out.get(name)
        flags = marks.split("+")
        f = InitFile(name, "conf" in flags, "binary" in flags, binary, "otherconf" in flags)
        if prior is not None:  # /lib is often /usr/lib: the same unit twice
            f = InitFile(
                name,
                f.names_conf or prior.names_conf,
                f.names_binary or prior.names_binary,
                prior.binary,
                f.names_other_conf or prior.names_other_conf,
            )
        out[name] = f
    return list(out.values())


def choose_service(layout: Layout, init: str, cgroups: list[str], units: list[InitFile]) -> tuple[str | None, str]:
    """The service that owns the master, and how it was decided (or, with None, what was missing).

    The systemd unit whose cgroup holds the running master is certain; else the one init script or
    unit naming the master's config; else the layout's own name if such a script or unit exists;
    else the one naming its binary.  Anything else is a guess, and a guessed restart may start
    another FPM (or none)."""
    if init == "systemd":
        for cg in cgroups:
            m = _CGROUP_UNIT.search(cg.strip())
            if m:
                return m.group(1), "the systemd unit whose cgroup holds the master"
    by_conf = sorted(u.name for u in units if u.names_conf)
    if len(by_conf) == 1:
        return by_conf[0], "the init script or unit that names its config"
    names = {u.name for u in units}
    if layout.service and layout.service in names and (not by_conf or layout.service in by_conf):
        return layout.service, f"the {layout.name} layout's service, which exists"
    by_binary = sorted(u.name for u in units if u.names_binary and not u.names_other_conf)
    if not by_conf and len(by_binary) == 1:
        return by_binary[0], "the init script or unit that names its binary"
    if by_conf or by_binary:
        return None, "several init scripts or units could own it: " + ", ".join(by_conf or by_binary)
    return None, "no init script or systemd unit names its config or binary"


def layout_fpm(
    conf: str,
    kv: dict[str, list[str]],
    files: dict[str, str],
    procs: list[p.Proc],
    now: float,
    roots: list[str],
    root: str = "",
) -> FpmService:
    """One ``fpm CONF`` section (and the files printed after it) as a service."""

    def get(key: str) -> str | None:
        values = kv.get(key)
        return values[0] if values else None

    layout = layout_of(conf, root)
    binary = get("binary") or ""
    init = get("init")
    service, how = choose_service(layout, init or "", kv.get("cgroup", []), parse_units(kv.get("unit", [])))
    ordered = {k: v for k, v in files.items() if k == conf}
    ordered.update({k: v for k, v in files.items() if k != conf})
    ini = p.parse_fpm_ini(ordered)
    svc = FpmService(
        version=version_of(layout, binary, get("version_output")),
        service=service or f"php-fpm ({conf})",
        binary=binary,
        init="systemd" if init == "systemd" else "sysv" if init == "sysv" else "unknown",
        pid_file=get("pidfile") or None,
        global_file=conf,
        error_log=get("error_log") or None,
        emergency_restart_threshold=ini.globals.get("emergency_restart_threshold"),
        emergency_restart_interval=ini.globals.get("emergency_restart_interval"),
        pools=ini.pools,
        layout=layout.name,
        service_problem=None if service else how,
        service_source=how if service else None,
    )
    svc.binary_problem = trust.binary_problem(binary, get("binary_real"), kv.get("binary_stat"), roots)
    _master(svc, kv, procs, now)
    if conf not in files:
        svc.pools_problem = f"{conf} could not be read"
    elif svc.running and not svc.pools:
        svc.pools_problem = f"no pool found in {conf} or the files it includes"
    return svc


def _master(svc: FpmService, kv: dict[str, list[str]], procs: list[p.Proc], now: float) -> None:
    """Running: a root master the process table shows with this config, else the pid file's live
    FPM; stopped when neither and the binary is installed."""

    def get(key: str) -> str:
        values = kv.get(key)
        return values[0] if values else ""

    by_pid = {x.pid: x for x in procs}
    master, pid = get("master"), get("pid")
    shown = by_pid.get(int(master)) if master.isdigit() else None
    pid_live = pid.isdigit() and get("pid_alive") == "yes" and get("pid_comm").startswith("php-fpm")
    if shown is not None and shown.user == "root":
        svc.master_pid = shown.pid
    elif pid_live:
        svc.master_pid = int(pid)
    svc.pid_file_stale = "pid" in kv and not pid_live
    if svc.master_pid is not None:
        svc.state = "running"
        x = by_pid.get(svc.master_pid)
        if x is not None:
            svc.master_started = now - x.etimes
        svc.worker_rss_kb = [w.rss_kb for w in procs if w.ppid == svc.master_pid and w.rss_kb > 0]
    elif get("installed") == "yes":
        svc.state = "stopped"


def apache_layout(web: WebServer, kv: dict[str, list[str]], roots: list[str]) -> None:
    """Apache laid out as RHEL's httpd (the ``apache-layout`` section): its service from the init
    system (``httpd`` by convention), its config test with its own binary and ``-d``/``-f``, and
    whether that binary may be run at all."""

    def get(key: str) -> str:
        values = kv.get(key)
        return values[0] if values else ""

    web.layout = get("layout") or "rhel"
    binary, server_root, conf = get("binary"), get("server_root"), get("conf")
    web.binary = binary
    web.binary_problem = trust.binary_problem(binary, get("binary_real"), kv.get("binary_stat"), roots)
    httpd = Layout(web.layout, None, "httpd")
    service, how = choose_service(httpd, get("init"), kv.get("cgroup", []), parse_units(kv.get("unit", [])))
    web.service = service or f"httpd ({conf})"
    web.service_problem = None if service else how
    web.config_test_argv = (binary, "-d", server_root, "-f", conf, "-t")
