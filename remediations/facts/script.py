"""One ssh command in, one :class:`HostFacts` out.

Diagnosing a host costs one round trip (two when the site is unhealthy and WordPress's own data is
needed: :func:`wordpress_command`): :func:`evidence_command` ships ``evidence.sh``
(package data, POSIX sh, no Python needed on the target) as an ``sh -c`` argument, and
:func:`parse_evidence` turns everything it printed into typed facts with the pure parsers in
:mod:`remediations.facts.parsers`.  Keeping the remote side a dumb printer means the logic is
all here, where it is tested against captured output.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass, field
from datetime import timezone

from remediations import redact
from remediations.facts import layouts, trust
from remediations.facts import parsers as p
from remediations.facts.model import (
    FpmService,
    HostFacts,
    HttpProbe,
    LogLine,
    Resources,
    TcpListener,
    WebServer,
    WordPress,
)
from remediations.facts.shipped import script_text

SCRIPT_NAME = "evidence.sh"


def evidence_script() -> str:
    return script_text(SCRIPT_NAME)


def new_boundary() -> str:
    """A fresh section boundary for one diagnosis: send it as :func:`evidence_stdin` with both round
    trips and give it to :func:`parse_evidence`.  Never put it in a command line."""
    return secrets.token_hex(16)


def evidence_stdin(boundary: str) -> str:
    """What the script reads on stdin before it prints anything: the run's boundary."""
    p.marker(boundary)
    return boundary + "\n"


def frame(sections: list[tuple[str, str, str]], boundary: str) -> str:
    """Evidence text as the script prints it, from ``(kind, arg, body)`` triples (bodies verbatim):
    the one way tests and fixtures build evidence."""
    return p.frame(sections, boundary)


def evidence_command(site_url: str, log_lines: int = 400) -> str:
    """The first round trip; every value is quoted so a hostile URL cannot break out of it.
    Run it with ``stdin=evidence_stdin(boundary)``."""
    return _script_command(site_url, str(int(log_lines)))


def wordpress_command(site_url: str, wp_root: str, run_as: str = "") -> str:
    """The second round trip, only for an unhealthy site: WordPress's active plugins and theme,
    read by the site's own code run as ``run_as`` (never root: the script refuses uid 0).

    Send the same boundary on stdin, append its output to the first one's and parse the whole again."""
    return _script_command(site_url, "0", "wpdata", wp_root, run_as)


def site_user(facts: HostFacts) -> str:
    """Whom WordPress's own code may run as (the ``wpdata`` round trip, the theme switch): the user
    PHP-FPM already runs it as for every request — the pool the web server points at, else the only
    pool user there is, else the web server's workers (mod_php).  Running it as the files' owner
    instead could hand a compromised site a user it does not have (a deploy account).  Never root:
    "" when nobody else fits, and the host refuses to run it."""
    targets = [t.endpoint for t in facts.web.fastcgi_targets]
    pools = [pool for svc in facts.fpm for pool in svc.pools]
    behind = [p for p in pools if p.endpoint is not None and any(p.endpoint.accepts(t) for t in targets)]
    for candidates in (behind, pools):
        users = {p.user for p in candidates if p.user}
        if len(users) == 1:
            (user,) = users
            return user if user not in ("root", "0") else ""
    user = facts.web.user or ""
    return user if user not in ("root", "0") else ""


def as_site_user(facts: HostFacts, argv: tuple[str, ...]) -> tuple[str, ...] | None:
    """``argv`` wrapped to run as :func:`site_user` (setpriv: that user's uid, primary group and
    groups, no new privileges, 60 s at most); None when there is nobody but root to run it as.
    Read as the site's own account (no root): that account is the site user, and runs it itself."""
    if facts.account is not None:
        return None if facts.account.user in ("", "root") else ("timeout", "60", *argv)
    user = site_user(facts)
    if not user or user.startswith("-") or not user.replace("-", "").replace("_", "").replace(".", "").isalnum():
        return None
    group = next((p.group for svc in facts.fpm for p in svc.pools if p.user == user and p.group), user)
    if group in ("root", "0") or group.startswith("-"):
        return None
    wrap = ("setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups", "--no-new-privs", "--")
    return (*wrap, "timeout", "60", *argv)


def _script_command(*args: str) -> str:
    return " ".join(["sh", "-c", shlex.quote(evidence_script()), "fix502-evidence", *map(shlex.quote, args)])


@dataclass
class _Collected:
    """The output's sections, routed by kind (files go to whoever printed them)."""

    singles: dict[str, str] = field(default_factory=dict)
    cmds: dict[str, str] = field(default_factory=dict)
    rcs: dict[str, int] = field(default_factory=dict)
    pidfiles: dict[str, p.PidFile] = field(default_factory=dict)
    nginx_files: dict[str, str] = field(default_factory=dict)
    apache_files: dict[str, str] = field(default_factory=dict)
    fpm_kv: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    fpm_files: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what reading the sections found wrong
    wp_files: dict[str, str] = field(default_factory=dict)  # wp-config.php, printed after "dropins"
    wp_logs: list[tuple[str, str]] = field(default_factory=list)  # the site's own PHP error logs


def _file_text(body: str) -> str:
    """The script prints an extra newline after each file so a missing final newline cannot glue
    the next marker onto the file's last line; drop it again."""
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _once(seen: set[tuple[str, str]], s: p.Section) -> None:
    """Each section but a config file appears once; a second copy is refused, never an override."""
    key = (s.kind, s.arg)
    if key in seen:
        raise p.EvidenceError(f"evidence has two '{' '.join(filter(None, key))}' sections: refusing it")
    seen.add(key)


def _collect(sections: list[p.Section]) -> _Collected:
    c = _Collected()
    owner: str | None = None
    seen: set[tuple[str, str]] = set()
    for s in sections:
        if s.kind != "file":
            _once(seen, s)
        if s.kind == "cmd":
            c.cmds[s.arg] = s.body
            if s.arg == "nginx-T":
                owner = "nginx"
            elif s.arg.startswith("apache-"):
                owner = "apache"
            elif s.arg.startswith("fpm-t "):
                owner = "fpm " + s.arg.split(" ", 1)[1]
            else:
                owner = None
        elif s.kind == "rc":
            try:
                c.rcs[s.arg] = int(s.body.strip())
            except ValueError:
                c.rcs[s.arg] = -1
        elif s.kind == "pidfile":
            c.pidfiles[s.arg] = p.parse_pidfile(s.body)
        elif s.kind == "file":
            text = _file_text(s.body)
            if owner == "nginx":
                _add_file(c.nginx_files, s.arg, text)
            elif owner == "apache":
                _add_file(c.apache_files, s.arg, text)
            elif owner is not None and owner.startswith("fpm "):
                _add_file(c.fpm_files.setdefault(owner[4:], {}), s.arg, text)
            elif owner == "wordpress":  # exact bytes (a final newline or its absence): the edit's "before"
                _add_file(c.wp_files, s.arg, s.body[:-1] if s.body.endswith("\n") else s.body)
        elif s.kind == "fpm":
            c.fpm_kv[s.arg] = p.parse_kv(s.body)
            c.fpm_files.setdefault(s.arg, {})
            owner = "fpm " + s.arg
        elif s.kind == "log":
            c.logs.append((s.arg, s.body))
            owner = None
        elif s.kind == "wplog":
            c.wp_logs.append((s.arg, s.body))
            owner = None
        else:
            c.singles[s.kind] = s.body
            owner = "wordpress" if s.kind == "dropins" else None
    return c


def _add_file(files: dict[str, str], path: str, text: str) -> None:
    """An include glob may name a file twice (same text); two different texts for one path cannot
    both be true."""
    if files.get(path, text) != text:
        raise p.EvidenceError(f"evidence has two different copies of {path}: refusing it")
    files[path] = text


def _service_procs(procs: list[p.Proc], pidfile: p.PidFile | None, comms: tuple[str, ...]) -> tuple[bool, list[p.Proc]]:
    """Master and workers of one web server: by its pid file, else any master of that name."""
    if pidfile is not None and pidfile.pid is not None and pidfile.alive:
        master = pidfile.pid
        group = [x for x in procs if x.pid == master or x.ppid == master]
        return True, group or [p.Proc(master, 0, "", 0, 0, comms[0], "")]
    if pidfile is not None and pidfile.exists:
        return False, []  # a pid file naming a dead process: stopped (or crashed)
    by_pid = {x.pid: x for x in procs}
    group = [x for x in procs if x.comm in comms and (x.ppid not in by_pid or by_pid[x.ppid].comm not in comms)]
    masters = {x.pid for x in group}
    group += [x for x in procs if x.ppid in masters]
    return bool(group), group


def _site(c: _Collected) -> tuple[str | None, str | None]:
    """The site URL the script probed and the address it reached it on (``resolve=host:port:addr``)."""
    kv = p.parse_kv(c.singles.get("probe", ""))
    url = (kv.get("url") or [""])[0]
    resolve = (kv.get("resolve") or [""])[0]
    address = resolve.split(":", 2)[2] if resolve.count(":") >= 2 else None
    return url or None, address or None


def _nginx(c: _Collected, procs: list[p.Proc]) -> WebServer:
    head, files = p.split_nginx_dump(c.cmds.get("nginx-T", ""))
    short = p.short_dump_files(files, c.singles["nginxsizes"]) if files and "nginxsizes" in c.singles else []
    if short:
        shown = ", ".join(short[:3])
        c.notes.append(
            f"nginx -T printed {shown} shorter than the file is (a forged file boundary, or a file changed "
            "meanwhile): the nginx configuration is unknown"
        )
        files = {}
    elif not files:
        files = dict(c.nginx_files)
    c.nginx_files = files
    cfg = p.parse_nginx_config(files, *_site(c))
    running, group = _service_procs(procs, c.pidfiles.get("nginx"), ("nginx",))
    workers = [x for x in group if "master process" not in x.args and x.user]
    logs = [log for log in cfg.error_logs if log.startswith("/")]
    return WebServer(
        kind="nginx",
        running=running,
        service="nginx",
        user=workers[0].user if workers else cfg.user,
        pids=sorted(x.pid for x in group),
        config_test_ok=c.rcs.get("nginx-T") == 0 if "nginx-T" in c.rcs else None,
        config_test_output=head.strip(),
        fastcgi_targets=cfg.fastcgi_targets,
        unresolved_targets=cfg.unresolved_targets,
        buffer_directives=cfg.buffer_directives,
        proxy_passes=cfg.proxy_passes,
        roots=cfg.roots,
        modules=[],
        error_logs=list(dict.fromkeys(logs or ["/var/log/nginx/error.log"])),
        listen=cfg.listen,
        site=cfg.site,
        foreign_logs=cfg.foreign_logs,
    )


def _apache(c: _Collected, procs: list[p.Proc]) -> WebServer:
    run = p.parse_apache_run(c.cmds.get("apache-S", ""))
    main_log = run.get("Main ErrorLog", "/var/log/apache2/error.log")
    log_dir = main_log.rsplit("/", 1)[0] if "/" in main_log else "/var/log/apache2"
    cfg = p.parse_apache_config(c.apache_files, log_dir)
    running, group = _service_procs(procs, c.pidfiles.get("apache"), ("apache2", "httpd"))
    workers = [x for x in group if x.user and x.user != "root"]
    logs = [main_log, *(log for log in cfg.error_logs if log.startswith("/"))]
    web = WebServer(
        kind="apache",
        running=running,
        service="apache2",
        user=workers[0].user if workers else run.get("User"),
        pids=sorted(x.pid for x in group),
        config_test_ok=c.rcs.get("apache-configtest") == 0 if "apache-configtest" in c.rcs else None,
        config_test_output=c.cmds.get("apache-configtest", "").strip(),
        fastcgi_targets=cfg.fastcgi_targets,
        unresolved_targets=cfg.unresolved_targets,
        buffer_directives=cfg.buffer_directives,
        proxy_passes=cfg.proxy_passes,
        roots=cfg.roots,
        modules=p.parse_apache_modules(c.cmds.get("apache-M", "")),
        error_logs=list(dict.fromkeys(logs)),
        listen=cfg.listen,
    )
    if "apache-layout" in c.singles:
        roots = [d.args[0] for d in cfg.roots if d.args]
        layouts.apache_layout(web, p.parse_kv(c.singles["apache-layout"]), roots)
    return web


def _choose_web(c: _Collected, procs: list[p.Proc], probe: HttpProbe | None, notes: list[str]) -> WebServer:
    """One host, one front web server: the running one, else the one the probe's Server names."""
    found: list[WebServer] = []
    if "nginx-T" in c.cmds:
        found.append(_nginx(c, procs))
    if "apache-S" in c.cmds:
        found.append(_apache(c, procs))
    if not found:
        return WebServer()
    if len(found) == 1:
        return found[0]
    running = [w for w in found if w.running]
    server = (probe.server or "").lower() if probe else ""
    pool = running or found
    for w in pool:
        if w.kind in server or (w.kind == "apache" and "apache" in server):
            chosen = w
            break
    else:
        with_php = [w for w in pool if w.fastcgi_targets or "php_module" in w.modules]
        chosen = (with_php or pool)[0]
    other = next(w for w in found if w is not chosen)
    notes.append(
        f"both nginx and apache2 are installed; facts describe {chosen.service}"
        f" ({'running' if chosen.running else 'stopped'}), {other.service} is"
        f" {'running' if other.running else 'stopped'}"
    )
    return chosen


def _fpm(version: str, c: _Collected, procs: list[p.Proc], now: float, roots: list[str]) -> FpmService:
    kv = c.fpm_kv[version]

    def get(key: str) -> str | None:
        values = kv.get(key)
        return values[0] if values else None

    files = c.fpm_files.get(version, {})
    xdebug = get("xdebug")
    conf = get("conf")
    ordered = {k: v for k, v in files.items() if k == conf}
    ordered.update({k: v for k, v in files.items() if k != conf and k != xdebug})
    ini = p.parse_fpm_ini(ordered)
    init_kind = get("init")
    svc = FpmService(
        version=version,
        service=f"php{version}-fpm",
        binary=get("binary") or f"/usr/sbin/php-fpm{version}",
        init="systemd" if init_kind == "systemd" else "sysv" if init_kind == "sysv" else "unknown",
        pid_file=get("pidfile"),
        global_file=conf,
        error_log=get("error_log"),
        emergency_restart_threshold=ini.globals.get("emergency_restart_threshold"),
        emergency_restart_interval=ini.globals.get("emergency_restart_interval"),
        pools=ini.pools,
    )
    svc.binary_problem = trust.binary_problem(svc.binary, get("binary_real"), kv.get("binary_stat"), roots)
    pid = get("pid")
    alive = get("pid_alive") == "yes" and "php-fpm" in (get("pid_comm") or "php-fpm")
    if pid and pid.isdigit() and alive:
        svc.master_pid = int(pid)
    elif pid is not None:
        svc.pid_file_stale = True
    if svc.master_pid is None and get("pidfile_exists") == "no" and conf:
        for x in procs:  # no pid file: find the master by the config it was started with
            if x.args.startswith("php-fpm: master process") and f"({conf})" in x.args:
                svc.master_pid = x.pid
                break
    if svc.master_pid is not None:
        svc.state = "running"
        master = next((x for x in procs if x.pid == svc.master_pid), None)
        if master is not None:
            svc.master_started = now - master.etimes
        svc.worker_rss_kb = [x.rss_kb for x in procs if x.ppid == svc.master_pid and x.rss_kb > 0]
    elif get("installed") == "yes":
        svc.state = "stopped"
    rc = c.rcs.get(f"fpm-t {version}")
    svc.config_test_ok = None if rc is None else rc == 0
    svc.config_test_output = c.cmds.get(f"fpm-t {version}", "").strip()
    svc.config_unchanged = rc is None and get("config_test") == "unchanged"
    if xdebug:
        text = files.get(xdebug)
        active = text is None or any(
            line.strip().startswith("zend_extension") and "xdebug" in line for line in text.splitlines()
        )
        svc.xdebug_ini = xdebug if active else None
    return svc


def _fpm_any(key: str, c: _Collected, procs: list[p.Proc], now: float, roots: list[str], root: str) -> FpmService:
    """``fpm 8.2`` is Debian's layout; ``fpm /etc/php-fpm.conf`` a master (or config) of another one."""
    if not key.startswith("/"):
        return _fpm(key, c, procs, now, roots)
    svc = layouts.layout_fpm(key, c.fpm_kv[key], c.fpm_files.get(key, {}), procs, now, roots, root)
    rc = c.rcs.get(f"fpm-t {key}")
    svc.config_test_ok = None if rc is None else rc == 0
    svc.config_test_output = c.cmds.get(f"fpm-t {key}", "").strip()
    svc.config_unchanged = rc is None and (c.fpm_kv[key].get("config_test") or [""])[0] == "unchanged"
    return svc


def _wordpress_body(c: _Collected, notes: list[str]) -> str:
    """The second round trip's ``wpdata`` section answers what the first one deferred."""
    body = c.singles["wordpress"]
    if "wpdata" in c.singles and "wpend" not in c.singles:
        notes.append("WordPress data output is incomplete (no wpend marker): the second round trip was cut short")
    if "wpdata" in c.singles:
        body = "\n".join(ln for ln in body.splitlines() if ln != "deferred=yes") + "\n" + c.singles["wpdata"]
    return body


_MASTER = re.compile(r"php-fpm: master process \((?P<conf>/[^)]*)\)")


def _unread_masters(procs: list[p.Proc], known: list[FpmService], now: float, root: str) -> list[FpmService]:
    """FPM masters the process table shows whose configuration the script did not read (RHEL's
    /etc/php-fpm.conf, Remi, cPanel, Plesk...): running, with nothing else known.  Without them a
    running FPM would look absent, and "fpm-down" is how a wrong restart happens."""
    confs = {s.global_file for s in known}
    seen: set[str] = set()
    out = []
    for x in procs:
        # any user can title a process "php-fpm: master process (...)": a web user must not be able
        # to hide an outage that way, so only root's masters count (init starts FPM as root)
        m = _MASTER.fullmatch(x.args.strip()) if x.user == "root" else None
        if m is None or m["conf"] in confs or m["conf"] in seen or not m["conf"].startswith(root):
            continue
        seen.add(m["conf"])
        out.append(
            FpmService(
                version="unknown",
                service=f"php-fpm ({m['conf']})",
                binary="",
                state="running",
                master_pid=x.pid,
                master_started=now - x.etimes,
                global_file=m["conf"],
                binary_problem="its binary was not read (a layout fix502 does not read yet)",
                worker_rss_kb=[w.rss_kb for w in procs if w.ppid == x.pid and w.rss_kb > 0],
            )
        )
    return out


def _listeners(c: _Collected) -> tuple[list[TcpListener], dict[str, str]]:
    """TCP listeners and unix socket listeners, from ss (or netstat where ss is missing)."""
    if "ss-t" in c.cmds:
        return p.parse_ss_tcp(c.cmds["ss-t"]), p.parse_ss_unix(c.cmds.get("ss-x", ""))
    if "netstat-t" in c.cmds:
        return p.parse_netstat_tcp(c.cmds["netstat-t"]), p.parse_netstat_unix(c.cmds.get("netstat-x", ""))
    return [], {}


def _window_logs(
    c: _Collected, web: WebServer, tz: timezone, boot: float | None, start: float, notes: list[str]
) -> tuple[list[LogLine], bool]:
    """The log lines inside the window (this site's, FPM's, the kernel's) and whether dmesg could be read."""
    logs: list[LogLine] = []
    for source, body in c.logs:
        if source in web.foreign_logs:  # another site's own error log: its 502s are not this site's
            continue
        logs.extend(line for line in p.parse_log(source, body, tz) if line.time is not None and line.time >= start)
    dmesg_body = c.cmds.get("dmesg")
    dmesg_readable = dmesg_body is not None and c.rcs.get("dmesg") == 0
    if dmesg_body is not None and not dmesg_readable:
        first = next((line for line in dmesg_body.splitlines() if line.strip()), "no output")
        notes.append(f"dmesg unreadable: {first.strip()}")
    elif dmesg_body is not None:
        kernel = p.parse_log("dmesg", dmesg_body, tz, boot)
        logs.extend(line for line in kernel if line.time is not None and line.time >= start)
    return logs, dmesg_readable


def parse_evidence(output: str, boundary: str, *, since: float | None = None, window_seconds: int = 900) -> HostFacts:
    """Everything the evidence script printed, framed with this run's ``boundary``, as one value
    (pure: replayable from a fixture).  Raises :class:`~remediations.facts.parsers.EvidenceError`
    when a section appears twice."""
    sections = p.split_sections(output, boundary)
    c = _collect(sections)
    notes: list[str] = []
    if "end" not in c.singles:
        notes.append("evidence output is incomplete (no end marker): the script was cut short")
    if "meta" in c.singles:
        meta = p.parse_meta(c.singles["meta"])
    else:
        meta = p.Meta(0.0, "+0000", "", None)
        notes.append("no meta section: host clock unknown")
    tz = p.tzinfo_of(meta.tz)
    boot = meta.now - meta.uptime if meta.uptime is not None else None

    probe = p.parse_probe(c.singles["probe"]) if "probe" in c.singles else None
    procs = p.parse_ps(c.singles.get("ps", ""))
    web = _choose_web(c, procs, probe, notes)
    if web.binary_problem:
        notes.append(f"{web.binary} will not be run: {web.binary_problem}")
    if web.service_problem:
        notes.append(f"{web.service}: {web.service_problem}: it is not reloaded by guess")
    wordpress = p.parse_wordpress(_wordpress_body(c, notes), meta.now) if "wordpress" in c.singles else WordPress()
    p.parse_wp_files(wordpress, c.singles.get("dropins", ""), c.singles.get("caches", ""))
    roots = [d.args[0] for d in web.roots if d.args] + ([wordpress.root] if wordpress.root else [])
    fpm = [_fpm_any(v, c, procs, meta.now, roots, meta.root) for v in c.fpm_kv]
    notes += [f"{s.service}: {s.service_problem}: it is not restarted by guess" for s in fpm if s.service_problem]
    notes += [f"{s.service}: pools unknown: {s.pools_problem}" for s in fpm if s.pools_problem]
    notes += [f"{s.binary} will not be run: {s.binary_problem}" for s in fpm if s.binary_problem]
    unread = _unread_masters(procs, fpm, meta.now, meta.root)
    notes += [
        f"php-fpm master {s.master_pid} runs with {s.global_file}, a layout fix502 does not read yet: "
        "its pools, sockets and service are unknown (FPM is not called down)"
        for s in unread
    ]
    fpm += unread

    sockets, missing = p.parse_stat(c.singles.get("sockets", ""))
    tcp, unix = _listeners(c)

    # (an unread master's restart says nothing about the pools the logs here are about)
    starts = [s.master_started for s in fpm if s.state == "running" and s.master_started and s not in unread]
    # Evidence logged before fix502's last change on this host (journal mtime) is history: the
    # change was verified or rolled back since.  Logs have one-second resolution, hence +1.
    last = c.singles.get("lastchange", "").strip()
    changed = [float(last) + 1] if last.isdigit() else []
    window_start = max([meta.now - window_seconds, *starts, *changed, *([since] if since is not None else [])])
    logs, dmesg_readable = _window_logs(c, web, tz, boot, window_start, notes)
    wordpress.logs = [ln for source, body in c.wp_logs for ln in p.parse_php_log(source, body, tz, window_start)]

    notes.extend(line.strip() for line in c.singles.get("notes", "").splitlines() if line.strip())
    notes.extend(c.notes)
    files: dict[str, str] = {}
    files.update(c.apache_files)
    files.update(c.nginx_files)
    for per_version in c.fpm_files.values():
        files.update(per_version)
    files.update(c.wp_files)  # wp-config.php: its secrets are learned by the redactor below

    facts = HostFacts(
        now=meta.now,
        tz=meta.tz,
        web=web,
        fpm=fpm,
        sockets=sockets,
        tcp=tcp,
        logs=logs,
        log_window_start=window_start,
        dmesg_readable=dmesg_readable,
        resources=p.parse_meminfo(c.singles["meminfo"]) if "meminfo" in c.singles else Resources(),
        wordpress=wordpress,
        local_probe=probe,
        files=files,
        file_meta=p.parse_file_meta(c.singles.get("filemeta", "")),
        notes=notes,
        unix_listeners=unix,
        missing_paths=missing,
    )
    # Whatever secret values this host showed are masked in everything fix502 prints from now on.
    redact.remember_facts(facts)
    return facts
