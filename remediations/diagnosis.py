"""The classifier: from one host's typed facts to ranked causes, each with the lines that prove it.

Every log signature below was captured from the real software (nginx 1.22.1, Apache 2.4 with
mod_proxy_fcgi, php-fpm 8.2 on Debian 12) by reproducing the fault on private instances; the
captures live in ``tests/unit/fixtures/corpus/captured/``. The only exception is the kernel OOM
line, which cannot be produced here and is matched on the format of ``mm/oom_kill.c``.

The classifier is pure: it reads :class:`HostFacts` and never touches a host. Only
``facts.logs`` count as log evidence (the parser has already cut them to the recent window), so
an old incident that was fixed long ago cannot be diagnosed again.

Rules, in the order the code applies them (each is repeated where it is implemented):

* fpm-config-error: ``php-fpm -t`` failed; its ERROR/ALERT line (``[file:line]`` when FPM gives
  one) is the evidence.
* fpm-down: no FPM master is running (or its pid file names a dead process); evidence: service
  state, stale pid file, FPM's own startup errors and the web server's connect() failures.
* socket-mismatch: a ``fastcgi_pass``/``SetHandler`` target that no running pool listens on while
  another running pool listens elsewhere (the directive with file:line and the pool's ``listen``),
  plus the (2:)/(111:) connect failures naming that target.
* socket-permission: ``(13: Permission denied)`` connect failures, or the socket's owner, group
  and mode leave the web server's user out.
* worker-crash: ``exited on signal`` 11/6/7/9 (unless that child had just been timed out), the
  ``prematurely closed``/``104: Connection reset`` lines they cause in the web server, Apache's
  AH01067/AH01075 pair, the kernel's OOM kills of php-fpm and FPM's emergency-restart line.
* header-too-big: ``upstream sent too big header``.
* worker-timeout: ``execution timed out`` (request_terminate_timeout) and that child's exit.
* pool-exhausted: ``server reached pm.max_children`` and ``(11: Resource temporarily unavailable)``.
* apache-handler-conflict: mod_php (``php_module``) and ``proxy_fcgi_module`` both loaded.
* upstream-unreachable: a ``proxy_pass``/``ProxyPass`` upstream (another HTTP tier) refused or
  timed out the connection.
* edge-origin: the remote probe got 502 through an edge (Server: cloudflare, ...) while the local
  probe, which bypasses the edge, got 200.
* not-502: the site answers something other than 502 and no upstream-connection evidence explains
  it; no 502 cause is proposed then. Apache answers 503 (not 502) when it cannot reach FPM or FPM
  dies mid-request (AH01079, AH02454, AH00957, AH01075), so that 503 is treated as Apache's 502.
* healthy: the local probe got 200 with WordPress content and nothing is structurally broken.
* unknown: a 502 with nothing recognisable.

Ranking puts the most specific root cause first: a config error before the FPM outage it causes,
a socket mismatch before "FPM down" when FPM runs elsewhere, structural causes before causes read
from logs alone, and among those the one with the most lines first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from remediations.causes import CAUSE_IDS, Cause, Diagnosis, Evidence
from remediations.endpoint import Endpoint, EndpointError
from remediations.facts.model import (
    FastcgiTarget,
    FpmPool,
    FpmService,
    HostFacts,
    HttpProbe,
    LogLine,
    SocketFile,
)
from remediations.memory import HEADROOM, memory_budget

MAX_LOG_EVIDENCE = 4  # per cause: enough to convince a reader, short enough to print
EDGE_SERVERS = ("cloudflare", "cloudfront", "akamai", "fastly", "sucuri", "stackpath", "bunnycdn", "varnish")


# ---- log signatures -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signal:
    """One log line recognised as a signature: what it means and which upstream it names."""

    kind: str  # connect | crash | crash-reset | header | timeout | timeout-kill | exhausted | slow | fatal
    line: LogLine
    errno: int | None = None
    target: str | None = None  # socket path or host:port the line names
    proxy: bool = False  # an HTTP proxy upstream (proxy_pass) rather than FastCGI
    pid: int | None = None  # FPM child pid
    signal: int | None = None


# nginx (captured): connect() to unix:/p failed (2: No such file or directory) while connecting to upstream
NGINX_CONNECT_UNIX = re.compile(
    r"connect\(\) to unix:(?P<path>\S+?) failed \((?P<errno>\d+): [^)]*\) while connecting to upstream"
)
# nginx (captured): connect() failed (111: Connection refused) while connecting to upstream, ... upstream: "fastcgi://h:p"
NGINX_CONNECT = re.compile(r"connect\(\) failed \((?P<errno>\d+): [^)]*\) while connecting to upstream")
# nginx: upstream timed out (110: Connection timed out) while connecting to upstream
NGINX_CONNECT_TIMEOUT = re.compile(r"upstream timed out \(110: [^)]*\) while connecting to upstream")
NGINX_UPSTREAM = re.compile(r'upstream: "(?P<scheme>[a-z]+)://(?P<addr>[^"]*)"')
NGINX_PREMATURE = re.compile(r"upstream prematurely closed connection while reading (?:response header from )?upstream")
NGINX_RESET = re.compile(r"(?:recv|readv|writev|send)\(\) failed \(104: Connection reset by peer\) while")
NGINX_BIG_HEADER = re.compile(r"upstream sent too big header while reading response header from upstream")
NGINX_READ_TIMEOUT = re.compile(r"upstream timed out \(110: [^)]*\) while reading")
NGINX_FCGI_FATAL = re.compile(r'FastCGI sent in stderr: "PHP message: PHP (?:Fatal|Parse) error')
# php-fpm (captured)
FPM_EXITED = re.compile(
    r"\[pool (?P<pool>[^\]]+)\] child (?P<pid>\d+) exited on signal (?P<sig>\d+) \((?P<name>SIG\w+)"
)
FPM_TIMED_OUT = re.compile(r"\[pool (?P<pool>[^\]]+)\] child (?P<pid>\d+), script .* execution timed out")
FPM_MAX_CHILDREN = re.compile(r"\[pool (?P<pool>[^\]]+)\] server reached (?:pm\.)?max_children setting")
FPM_THRESHOLD = re.compile(r"failed processes threshold \(\d+ in \d+ sec\) is reached")
FPM_START_ERROR = re.compile(
    r"ERROR: (?:unable to bind listening socket|\[(?:/|pool )[^\]]*\]|FPM initialization failed"
    r"|failed to load configuration file)"
)
FPM_CHILD_FATAL = re.compile(r"child \d+ said into stderr: \"(?:NOTICE: )?PHP message: PHP (?:Fatal|Parse) error")
# Apache mod_proxy / mod_proxy_fcgi (captured)
APACHE_CONNECT_UNIX = re.compile(
    r"\((?P<errno>\d+)\)[^:]*: AH02454: FCGI: attempt to connect to Unix domain socket (?P<path>\S+) "
)
APACHE_CONNECT_TCP = re.compile(
    r"\((?P<errno>\d+)\)[^:]*: AH00957: (?P<scheme>FCGI|http|https): attempt to connect to (?P<addr>\S+) "
)
APACHE_NO_BACKEND = re.compile(r"AH01079: failed to make connection to backend")
APACHE_HTTP_NO_BACKEND = re.compile(r"AH01114: HTTP: failed to make connection to backend")
APACHE_DISABLED = re.compile(r"AH00959: ap_proxy_connect_backend disabling worker")
APACHE_FCGI_HEADER = re.compile(r"AH01067: Failed to read FastCGI header")
APACHE_DISPATCH_RESET = re.compile(r"\(104\)Connection reset by peer: .*AH01075: Error dispatching request")
APACHE_DISPATCH_TIMEOUT = re.compile(r"\(70007\)The timeout specified has expired: .*AH01075")
APACHE_FCGI_FATAL = re.compile(r"AH01071: Got error 'PHP message: PHP (?:Fatal|Parse) error")
# Linux kernel, mm/oom_kill.c (NOT captured: an OOM kill cannot be produced on this machine):
#   "%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, ..." with message "Out of memory"
#   (or "Memory cgroup out of memory"), and dump_oom_summary's "oom-kill:...,task=%s,pid=%d,...".
KERNEL_OOM_KILL = re.compile(r"[Oo]ut of memory: Killed process (?P<pid>\d+) \((?P<comm>[^)]*)\)")
KERNEL_OOM_SUMMARY = re.compile(r"oom-kill:.*task=(?P<comm>[^,]+),pid=(?P<pid>\d+)")

CRASH_SIGNALS = {6, 7, 9, 11}  # SIGABRT, SIGBUS, SIGKILL (OOM killer), SIGSEGV


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _nginx_upstream(text: str) -> tuple[str | None, bool]:
    m = NGINX_UPSTREAM.search(text)
    if not m:
        return None, False
    addr = m.group("addr")
    addr = addr[5:].rstrip(":") if addr.startswith("unix:") else addr.split("/", 1)[0]
    return addr, m.group("scheme") in ("http", "https")


def read_signal(line: LogLine) -> Signal | None:
    """Recognise one log line; ``None`` for lines that prove nothing about a 502."""
    text = line.text
    m = NGINX_CONNECT_UNIX.search(text)
    if m:
        _, proxy = _nginx_upstream(text)
        return Signal("connect", line, errno=int(m.group("errno")), target=m.group("path"), proxy=proxy)
    m = NGINX_CONNECT.search(text)
    if m:
        target, proxy = _nginx_upstream(text)
        return Signal("connect", line, errno=int(m.group("errno")), target=target, proxy=proxy)
    if NGINX_CONNECT_TIMEOUT.search(text):
        target, proxy = _nginx_upstream(text)
        return Signal("connect", line, errno=110, target=target, proxy=proxy)
    if NGINX_BIG_HEADER.search(text):
        return Signal("header", line)
    if NGINX_PREMATURE.search(text) or NGINX_RESET.search(text):
        target, proxy = _nginx_upstream(text)
        return Signal("crash-reset", line, target=target, proxy=proxy)
    if NGINX_READ_TIMEOUT.search(text):
        target, proxy = _nginx_upstream(text)
        return Signal("slow", line, target=target, proxy=proxy)
    if NGINX_FCGI_FATAL.search(text) or APACHE_FCGI_FATAL.search(text) or FPM_CHILD_FATAL.search(text):
        return Signal("fatal", line)
    m = FPM_EXITED.search(text)
    if m:
        sig = int(m.group("sig"))
        kind = "crash" if sig in CRASH_SIGNALS else "exit"
        return Signal(kind, line, pid=int(m.group("pid")), signal=sig)
    m = FPM_TIMED_OUT.search(text)
    if m:
        return Signal("timeout", line, pid=int(m.group("pid")))
    if FPM_MAX_CHILDREN.search(text):
        return Signal("exhausted", line)
    if FPM_THRESHOLD.search(text):
        return Signal("crash", line)
    if FPM_START_ERROR.search(text):
        return Signal("fpm-start-error", line)
    m = APACHE_CONNECT_UNIX.search(text)
    if m:
        return Signal("connect", line, errno=int(m.group("errno")), target=m.group("path"))
    m = APACHE_CONNECT_TCP.search(text)
    if m:
        proxy = m.group("scheme") != "FCGI"
        return Signal("connect", line, errno=int(m.group("errno")), target=m.group("addr"), proxy=proxy)
    if APACHE_HTTP_NO_BACKEND.search(text):
        return Signal("connect", line, proxy=True)
    if APACHE_NO_BACKEND.search(text) or APACHE_DISABLED.search(text):
        return Signal("connect", line)
    if APACHE_FCGI_HEADER.search(text) or APACHE_DISPATCH_RESET.search(text):
        return Signal("crash-reset", line)
    if APACHE_DISPATCH_TIMEOUT.search(text):
        return Signal("slow", line)
    m = KERNEL_OOM_KILL.search(text) or KERNEL_OOM_SUMMARY.search(text)
    if m and "php" in m.group("comm"):
        return Signal("crash", line, pid=int(m.group("pid")), signal=9)
    return None


# ---- addresses ------------------------------------------------------------------------------------
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
ANY = {"", "*", "0.0.0.0", "::", "[::]"}


def _split_tcp(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = "", address
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def listen_matches(listen: str, kind: str, address: str) -> bool:
    """Does a pool's ``listen`` (as written) accept what a web server target connects to?"""
    try:
        pool = Endpoint.from_listen(listen)
    except EndpointError:
        return False
    return pool.accepts(Endpoint(kind, address))  # type: ignore[arg-type]


def _is_unix(address: str) -> bool:
    return address.startswith("/")


# ---- structure --------------------------------------------------------------------------------------
def fpm_running(svc: FpmService) -> bool:
    return svc.running


def running_pools(facts: HostFacts) -> list[tuple[FpmService, FpmPool]]:
    return [(s, p) for s in facts.fpm if fpm_running(s) for p in s.pools if p.listen]


def all_pools(facts: HostFacts) -> list[tuple[FpmService, FpmPool]]:
    return [(s, p) for s in facts.fpm for p in s.pools if p.listen]


def _directive_evidence(t: FastcgiTarget) -> Evidence:
    d = t.directive
    return Evidence(f"{d.file}:{d.line}", " ".join((d.name, *d.args)))


def _pool_evidence(svc: FpmService, pool: FpmPool, key: str = "listen") -> Evidence:
    d = pool.directives.get(key)
    value = {
        "listen": pool.listen,
        "pm.max_children": pool.max_children,
        "request_terminate_timeout": pool.request_terminate_timeout,
    }.get(key)
    if d is not None:
        return Evidence(f"{d.file}:{d.line}", f"{key} = {' '.join(d.args) or value}")
    return Evidence(pool.file, f"[{pool.name}] {key} = {value}")


def _socket_for(facts: HostFacts, path: str) -> SocketFile | None:
    return next((s for s in facts.sockets if s.path == path), None)


def web_user_can_connect(sock: SocketFile, user: str) -> bool:
    """Connecting to a unix socket needs write permission on it.

    The facts do not carry the web user's supplementary groups, so the group class is granted
    only when the socket's group is named like the user (Debian's www-data:www-data), which is
    exactly the case the stock pool config sets up.
    """
    if user == "root":
        return True
    if sock.owner == user:
        return bool(sock.mode & 0o200)
    if sock.group == user:
        return bool(sock.mode & 0o020)
    return bool(sock.mode & 0o002)


@dataclass
class _Found:
    """Causes under construction: evidence accumulates, the score decides the order."""

    causes: dict[str, Cause] = field(default_factory=dict)

    def add(self, cause_id: str, base: int, summary: str, evidence: Iterable[Evidence]) -> Cause:
        assert cause_id in CAUSE_IDS, cause_id
        c = self.causes.get(cause_id)
        if c is None:
            c = self.causes[cause_id] = Cause(cause_id, [], summary, base)
        c.score = max(c.score, base)
        for e in evidence:
            if e not in c.evidence:
                c.evidence.append(e)
        return c

    def has(self, cause_id: str) -> bool:
        return cause_id in self.causes


def _log_ev(signals: Iterable[Signal], limit: int = MAX_LOG_EVIDENCE) -> list[Evidence]:
    out: list[Evidence] = []
    for s in signals:
        e = Evidence(s.line.source, s.line.text)
        if e not in out:
            out.append(e)
        if len(out) >= limit:
            break
    return out


def _probe_ev(p: HttpProbe, name: str) -> Evidence:
    status = "no HTTP answer" if p.status is None else str(p.status)
    extra = [x for x in (f"Server: {p.server}" if p.server else None, p.body_hint, p.error) if x]
    return Evidence(name, f"GET {p.url} -> {status}" + (f" ({'; '.join(extra)})" if extra else ""))


def looks_like_wordpress(p: HttpProbe, facts: HostFacts) -> bool:
    """The generator tag is the proof; without that look, a non-default title on a WordPress host."""
    if p.wordpress is not None:
        return p.wordpress
    hint = (p.body_hint or "").lower()
    if any(k in hint for k in ("wordpress", "wp-content", "wp-includes", "wp-json")):
        return True
    defaults = ("welcome to nginx", "apache2 debian default page", "it works")
    return facts.wordpress.root is not None and bool(hint) and not any(d in hint for d in defaults)


def _is_edge(server: str | None) -> bool:
    return server is not None and any(e in server.lower() for e in EDGE_SERVERS)


# ---- the classifier ---------------------------------------------------------------------------------
CONNECTION_CAUSES = {
    "fpm-down",
    "fpm-config-error",
    "socket-mismatch",
    "socket-permission",
    "upstream-unreachable",
}


def classify(facts: HostFacts) -> Diagnosis:
    """Rank the causes of a 502 on this host; ``["healthy"]`` alone when all is well."""
    signals = [s for s in (read_signal(line) for line in facts.logs) if s is not None]
    found = _Found()
    running = [s for s in facts.fpm if fpm_running(s)]
    pools_up = running_pools(facts)
    web_targets = facts.web.fastcgi_targets

    # Log lines before the current FPM master started describe an outage that restart ended.
    started = max((s.master_started for s in running if s.master_started), default=None)

    def current(s: Signal) -> bool:
        return started is None or s.line.time is None or s.line.time >= started

    fcgi_connect = [s for s in signals if s.kind == "connect" and not s.proxy]
    proxy_connect = [s for s in signals if s.kind == "connect" and s.proxy]

    # fpm-config-error: `php-fpm -t` failed; the ERROR/ALERT lines (with [file:line]) are the proof.
    for svc in facts.fpm:
        if svc.config_test_ok is False:
            lines = _config_error_lines(svc.config_test_output)
            what = _short(lines[0]) if lines else "php-fpm -t failed"
            found.add(
                "fpm-config-error",
                300,
                f"{svc.service} refuses its configuration ({what}); "
                f"fix that line, check with `{svc.binary} -t`, then start {svc.service}.",
                [Evidence(f"{svc.binary} -t", ln) for ln in lines[:MAX_LOG_EVIDENCE]]
                or [Evidence(f"{svc.binary} -t", "configuration test failed")],
            )

    # fpm-down: no FPM master at all (or its pid file names a dead process). A pure proxy tier
    # (no FastCGI target, no FPM installed, no FastCGI connect failure) has no FPM to be down.
    if not running and (facts.fpm or web_targets or fcgi_connect):
        ev: list[Evidence] = []
        for svc in facts.fpm:
            ev.append(Evidence("service", f"{svc.service}: {svc.state}"))
            if svc.pid_file_stale and svc.pid_file:
                ev.append(Evidence(svc.pid_file, "pid file names no live php-fpm master (stale)"))
        if not facts.fpm:
            ev.append(Evidence("service", "no php-fpm service found"))
        ev += _log_ev([s for s in signals if s.kind == "fpm-start-error"])
        ev += _log_ev([s for s in fcgi_connect if s.errno in (2, 111, None)])
        names = ", ".join(s.service for s in facts.fpm) or "php-fpm"
        found.add("fpm-down", 280, f"PHP-FPM is not running ({names}); start it and check it stays up.", ev)

    # socket-mismatch: a target no running pool listens on, while some running pool listens
    # elsewhere (FPM down: compare with the pools it would start).
    candidates = pools_up if running else all_pools(facts)
    for t in web_targets:
        if any(listen_matches(p.listen or "", t.kind, t.address) for _s, p in candidates):
            continue
        if not candidates:
            continue
        ev = [_directive_evidence(t)]
        ev += [_pool_evidence(s, p) for s, p in candidates[:2]]
        ev += _log_ev([s for s in fcgi_connect if s.target == t.address and s.errno in (2, 111, None)])
        listens = ", ".join(sorted({p.listen or "" for _s, p in candidates}))
        found.add(
            "socket-mismatch",
            290 if running else 270,
            f"{t.directive.name} points at {t.address} but PHP-FPM listens on {listens}; "
            "make them the same and reload the web server.",
            ev,
        )
    # The same from the logs alone, when the web config could not be read: a connect failure
    # naming an address that no running pool serves.
    if running and not web_targets:
        for s in fcgi_connect:
            if (
                s.target
                and s.errno in (2, 111)
                and current(s)
                and not any(
                    listen_matches(p.listen or "", "unix" if _is_unix(s.target) else "tcp", s.target)
                    for _v, p in pools_up
                )
            ):
                listens = ", ".join(sorted({p.listen or "" for _v, p in pools_up}))
                found.add(
                    "socket-mismatch",
                    290,
                    f"the web server connects to {s.target} but PHP-FPM listens on {listens}; "
                    "make them the same and reload the web server.",
                    [*_log_ev([s]), *[_pool_evidence(v, p) for v, p in pools_up[:2]]],
                )
    # A running pool whose socket file vanished (e.g. /run/php removed under it): a restart
    # recreates it, which is the fpm-down fix.
    if running and not found.has("socket-mismatch"):
        for s in fcgi_connect:
            if s.errno == 2 and s.target and current(s) and s.target in facts.missing_paths:
                found.add(
                    "fpm-down",
                    280,
                    f"PHP-FPM runs but its socket {s.target} is gone; restart PHP-FPM to recreate it.",
                    [*_log_ev([s]), Evidence("stat", f"{s.target}: missing")],
                )

    # socket-permission: EACCES on connect, or a socket whose owner/group/mode shuts the web user out.
    denied = [s for s in fcgi_connect if s.errno == 13 and current(s)]
    structural: list[Evidence] = []
    user = facts.web.user
    if user:
        for t in web_targets:
            sock = _socket_for(facts, t.address) if t.kind == "unix" else None
            if sock is not None and sock.is_socket and not web_user_can_connect(sock, user):
                structural.append(
                    Evidence("stat", f"{sock.path} {sock.owner}:{sock.group} {sock.mode:04o} (web user {user})")
                )
                for _svc, p in all_pools(facts):
                    if p.listen == sock.path:
                        for key in ("listen.owner", "listen.group", "listen.mode"):
                            d = p.directives.get(key)
                            if d is not None:
                                structural.append(Evidence(f"{d.file}:{d.line}", f"{key} = {' '.join(d.args)}"))
    if denied or structural:
        found.add(
            "socket-permission",
            260,
            f"the web server's user ({user or 'www-data'}) may not connect to the PHP-FPM socket; set "
            "listen.owner/listen.group to that user and listen.mode = 0660, then restart PHP-FPM.",
            [*_log_ev(denied), *structural],
        )

    # upstream-unreachable: another HTTP tier behind proxy_pass/ProxyPass refuses or times out.
    if proxy_connect:
        targets = sorted({s.target for s in proxy_connect if s.target})
        found.add(
            "upstream-unreachable",
            200,
            f"the proxy cannot reach its upstream {', '.join(targets) or ''}".rstrip()
            + "; check that the origin listens there and that nothing between them blocks it.",
            [
                *_log_ev(proxy_connect),
                *[Evidence(f"{d.file}:{d.line}", " ".join((d.name, *d.args))) for d in facts.web.proxy_passes[:2]],
            ],
        )

    # worker-timeout: request_terminate_timeout killed the child; that child's exit line (SIGTERM,
    # or SIGKILL) belongs to the timeout, not to a crash.
    timed_out = [s for s in signals if s.kind == "timeout"]
    timed_pids = {s.pid for s in timed_out}
    exits_after_timeout = [s for s in signals if s.kind in ("crash", "exit") and s.pid in timed_pids]
    crashes = [s for s in signals if s.kind == "crash" and s.pid not in timed_pids]
    resets = [s for s in signals if s.kind == "crash-reset" and not s.proxy]
    if timed_out:
        ev = _log_ev(timed_out) + _log_ev(exits_after_timeout, 2)
        if not crashes:
            ev += _log_ev(resets, 2)  # the reset the web server saw is the timeout's kill
        for _svc, p in pools_up or all_pools(facts):
            if p.request_terminate_timeout:
                ev.append(_pool_evidence(_svc, p, "request_terminate_timeout"))
        found.add(
            "worker-timeout",
            150 + min(len(timed_out), 25),
            "PHP-FPM killed requests that ran past request_terminate_timeout; find the slow request "
            "(slowlog) or raise the timeout in line with the web server's read timeout.",
            ev,
        )

    # worker-crash: signals 11/6/7/9, OOM kills, and the resets they cause in the web server.
    if crashes or (resets and not timed_out):
        oom = [s for s in crashes if s.line.source == "dmesg" or KERNEL_OOM_KILL.search(s.line.text)]
        what = "killed by the kernel's OOM killer" if oom else "crashing mid-request"
        summary = f"PHP-FPM workers are {what}; "
        if oom:
            summary += "lower pm.max_children so a full pool fits in RAM; find the request that allocates so much."
        else:
            summary += (
                "disable the extension or plugin that crashes (xdebug, imagick, a recent plugin) "
                "and set emergency_restart_threshold."
            )
        found.add(
            "worker-crash",
            150 + min(len(crashes) + len(resets), 25),
            summary,
            _log_ev(oom) + _log_ev([s for s in crashes if s not in oom]) + _log_ev(resets, 2),
        )

    # header-too-big: the response headers do not fit fastcgi_buffer_size.
    big = [s for s in signals if s.kind == "header"]
    if big:
        ev = _log_ev(big) + [
            Evidence(f"{d.file}:{d.line}", " ".join((d.name, *d.args))) for d in facts.web.buffer_directives[:2]
        ]
        found.add(
            "header-too-big",
            150 + min(len(big), 25),
            "PHP sends more response headers than nginx's FastCGI buffer holds; raise "
            "fastcgi_buffer_size / fastcgi_buffers (e.g. 32k / 16 16k).",
            ev,
        )

    # read-timeout: nginx gave up reading PHP's answer (504) while PHP itself did not kill the
    # request (no "execution timed out"): fastcgi_read_timeout is shorter than what PHP allows.
    slow = [s for s in signals if s.kind == "slow" and not s.proxy and facts.web.kind == "nginx"]
    if slow and not timed_out:
        timeouts = [d for d in facts.web.buffer_directives if d.name == "fastcgi_read_timeout"]
        found.add(
            "read-timeout",
            150 + min(len(slow), 25),
            "nginx stopped waiting for PHP (fastcgi_read_timeout) before PHP's own limit; raise "
            "fastcgi_read_timeout to PHP's request_terminate_timeout, or find the slow request.",
            _log_ev(slow) + [Evidence(f"{d.file}:{d.line}", " ".join((d.name, *d.args))) for d in timeouts[:2]],
        )

    # pool-exhausted: every child busy; with a short backlog nginx is refused at once (EAGAIN).
    full = [s for s in signals if s.kind == "exhausted"]
    eagain = [s for s in fcgi_connect if s.errno == 11]
    if full or eagain:
        ev = _log_ev(full) + _log_ev(eagain, 2)
        for svc, p in pools_up or all_pools(facts):
            if p.max_children is not None:
                ev.append(_pool_evidence(svc, p, "pm.max_children"))
        found.add(
            "pool-exhausted",
            150 + min(len(full) + len(eagain), 25),
            "all PHP-FPM workers are busy (pm.max_children reached); raise pm.max_children "
            "within the memory budget or find what keeps workers busy.",
            ev,
        )

    # apache-handler-conflict: mod_php and proxy_fcgi both loaded; PHP may run in either.
    mods = set(facts.web.modules)
    if facts.web.kind == "apache" and "proxy_fcgi_module" in mods and mods & {"php_module", "php7_module"}:
        php_mod = sorted(mods & {"php_module", "php7_module"})[0]
        found.add(
            "apache-handler-conflict",
            100,
            "Apache loads mod_php and proxy_fcgi together; disable mod_php (a2dismod php8.2, "
            "switch to mpm_event) so PHP runs only in PHP-FPM.",
            [
                Evidence("apache2ctl -M", f"{php_mod} (shared)"),
                Evidence("apache2ctl -M", "proxy_fcgi_module (shared)"),
            ],
        )

    diagnosis = Diagnosis(causes=[], checks=[], memory=memory_budget(facts))
    diagnosis.causes = _gate(facts, found, signals)
    diagnosis.checks = build_checks(facts, diagnosis, signals)
    return diagnosis


def _config_error_lines(output: str) -> list[str]:
    """The lines of ``php-fpm -t`` that say what is wrong, most specific ([file:line]) first."""
    generic = ("FPM initialization failed", "failed to load configuration file", "failed to post process")
    lines = [ln.strip() for ln in output.splitlines() if re.search(r"\b(ERROR|ALERT|PHP):", ln)]
    specific = [ln for ln in lines if not any(g in ln for g in generic)]
    located = [ln for ln in specific if re.search(r"\[/[^\]]+:\d+\]", ln)]
    rest = [ln for ln in specific if ln not in located]
    return located + rest + [ln for ln in lines if ln not in specific]


def _short(line: str) -> str:
    return re.sub(r"^\[[^\]]*\] ", "", line)


def _gate(facts: HostFacts, found: _Found, signals: list[Signal]) -> list[Cause]:
    """Weigh the found causes against what the site actually answers."""
    local, remote = facts.local_probe, facts.remote_probe
    probe = local or remote
    status = probe.status if probe else None
    causes = found.causes

    def ranked(ids: Iterable[str]) -> list[Cause]:
        order: Callable[[Cause], tuple[int, int]] = lambda c: (-c.score, CAUSE_IDS.index(c.id))  # noqa: E731
        return sorted((causes[i] for i in ids), key=order)

    probe_ev = [_probe_ev(p, n) for p, n in ((local, "local probe"), (remote, "remote probe")) if p]

    # edge-origin: the edge says 502 while the origin, asked directly, says 200.
    if (
        local is not None
        and remote is not None
        and local.status == 200
        and remote.status is not None
        and (remote.status == 502 or 520 <= remote.status <= 527)
        and (_is_edge(remote.server) or remote.server != local.server)
    ):
        edge = Cause(
            "edge-origin",
            probe_ev,
            f"the origin answers 200 but the edge ({remote.server or 'proxy'}) answers {remote.status}; "
            "check the edge's origin settings, its IP ranges in the firewall and TLS mode.",
            250,
        )
        return [edge, *ranked(i for i in causes if i not in CONNECTION_CAUSES)]

    if status == 200:
        # Structural breakage and recent 502-class lines (intermittent crashes, timeouts, a full
        # pool) matter even when this one request succeeded; connect failures with healthy
        # structure are from an outage that has ended.
        keep = [i for i in causes if i not in ("fpm-down",) or not any(fpm_running(s) for s in facts.fpm)]
        keep = [i for i in keep if i != "socket-permission" or _structural_permission(causes[i])]
        keep = [i for i in keep if i != "upstream-unreachable"]
        if keep:
            return ranked(keep)
        assert probe is not None
        if looks_like_wordpress(probe, facts):
            return [Cause("healthy", probe_ev, "the site answers 200 with WordPress content; nothing to fix.")]
        return [
            Cause(
                "not-502",
                probe_ev,
                "the site answers 200 but not with WordPress content; check the vhost/root, this is not a 502.",
                50,
            )
        ]

    apache_502 = (
        facts.web.kind == "apache"
        and status == 503
        and (any(i in causes for i in CONNECTION_CAUSES) or any(s.kind in ("connect", "crash-reset") for s in signals))
    )
    if status == 504 and "read-timeout" in causes:
        return ranked(["read-timeout"])  # a 504 this tool can explain (and fix) from its own evidence
    if status is not None and status != 502 and not apache_502:
        # not-502: only upstream-connection causes can explain a non-502 answer.
        conn = [i for i in causes if i in CONNECTION_CAUSES]
        if conn:
            return ranked(conn)
        why = [s for s in signals if s.kind in ("slow", "fatal", "exhausted")]
        return [
            Cause(
                "not-502",
                probe_ev + _log_ev(why, 2),
                f"the site answers {status}, not 502: {_not_502_hint(status)}",
                50,
            )
        ]

    if status is None and probe is not None and not facts.web.running and not causes:
        return [
            Cause(
                "not-502",
                [*probe_ev, Evidence("service", f"{facts.web.service or 'web server'}: not running")],
                "the web server itself is not running (no HTTP answer at all); start it — this is not a 502.",
                50,
            )
        ]

    if causes:
        return ranked(causes)
    return [
        Cause(
            "unknown",
            probe_ev,
            "a 502 with no recognisable evidence in the recent logs or the configuration; "
            "collect the web server's error log for a failing request and escalate.",
            0,
        )
    ]


def _structural_permission(c: Cause) -> bool:
    return any(e.source == "stat" for e in c.evidence)


def _not_502_hint(status: int) -> str:
    hints = {
        504: "the upstream is reachable but too slow (504); look at slow requests and read timeouts.",
        503: "the server refuses for now (503: maintenance mode, rate limit or overload).",
        500: "PHP or WordPress failed cleanly (500); read the PHP fatal error in the logs.",
    }
    return hints.get(status, "this tool fixes 502s; look at the answer itself.")


# ---- checks table ---------------------------------------------------------------------------------
def build_checks(facts: HostFacts, diagnosis: Diagnosis, signals: list[Signal]) -> list[tuple[str, str, str]]:
    """A `wp doctor`-like table: one row per thing a person would look at, worst status wins."""
    rows: list[tuple[str, str, str]] = []
    web = facts.web
    if web.kind == "none":
        rows.append(("web server", "info", "no nginx or Apache found"))
    elif web.running:
        rows.append(("web server", "ok", f"{web.service or web.kind} running as {web.user or '?'}"))
    else:
        rows.append(("web server", "error", f"{web.service or web.kind} is not running"))

    if not facts.fpm:
        rows.append(("FPM service", "error", "no php-fpm service found"))
    for svc in facts.fpm:
        if fpm_running(svc):
            rows.append(("FPM service", "ok", f"{svc.service} running (master {svc.master_pid or '?'})"))
        elif svc.pid_file_stale:
            rows.append(("FPM service", "error", f"{svc.service} {svc.state}; stale pid file {svc.pid_file}"))
        else:
            rows.append(("FPM service", "error", f"{svc.service} {svc.state}"))

    tests: list[tuple[str, str]] = []
    if web.config_test_ok is not None:
        first = next((ln for ln in web.config_test_output.splitlines() if ln.strip()), "")
        tests.append(
            (
                "ok" if web.config_test_ok else "error",
                f"{web.kind}: " + ("ok" if web.config_test_ok else first),
            )
        )
    for svc in facts.fpm:
        if svc.config_test_ok is not None:
            lines = _config_error_lines(svc.config_test_output)
            tests.append(
                (
                    "ok" if svc.config_test_ok else "error",
                    f"{svc.service}: " + ("ok" if svc.config_test_ok else (lines[0] if lines else "failed")),
                )
            )
        elif svc.config_unchanged:
            tests.append(("ok", f"{svc.service}: unchanged since its master started"))
    if tests:
        status = "error" if any(s == "error" for s, _ in tests) else "ok"
        rows.append(("config test", status, "; ".join(m for _, m in tests)))
    else:
        rows.append(("config test", "info", "not run"))

    pools = running_pools(facts) or all_pools(facts)
    if not web.fastcgi_targets:
        rows.append(("socket alignment", "info", "no fastcgi_pass/SetHandler target found"))
    for t in web.fastcgi_targets:
        hit = [p for _s, p in pools if listen_matches(p.listen or "", t.kind, t.address)]
        if hit:
            rows.append(("socket alignment", "ok", f"{t.address} is pool [{hit[0].name}]"))
        else:
            listens = ", ".join(sorted({p.listen or "" for _s, p in pools})) or "nothing"
            rows.append(
                (
                    "socket alignment",
                    "error",
                    f"{t.address} ({t.directive.file}:{t.directive.line}) matches no pool; pools listen on {listens}",
                )
            )

    unix_targets = [t for t in web.fastcgi_targets if t.kind == "unix"]
    if not unix_targets:
        rows.append(("socket permissions", "info", "no unix socket in use"))
    for t in unix_targets:
        sock = _socket_for(facts, t.address)
        if sock is None:
            rows.append(
                (
                    "socket permissions",
                    "warning" if t.address in facts.missing_paths else "info",
                    f"{t.address}: " + ("missing" if t.address in facts.missing_paths else "not examined"),
                )
            )
        elif not web.user:
            rows.append(("socket permissions", "info", f"{t.address} {sock.owner}:{sock.group} {sock.mode:04o}"))
        else:
            okp = web_user_can_connect(sock, web.user)
            rows.append(
                (
                    "socket permissions",
                    "ok" if okp else "error",
                    f"{t.address} {sock.owner}:{sock.group} {sock.mode:04o}, web user {web.user}"
                    + ("" if okp else " cannot connect"),
                )
            )

    kinds: dict[str, int] = {}
    for s in signals:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    bad = {k: n for k, n in kinds.items() if k not in ("exit",)}
    if bad:
        rows.append(
            (
                "logs",
                "warning",
                f"{len(facts.logs)} recent lines; " + ", ".join(f"{n} {k}" for k, n in sorted(bad.items())),
            )
        )
    else:
        rows.append(("logs", "ok", f"{len(facts.logs)} recent lines, no 502 signature"))
    if not facts.dmesg_readable:
        rows.append(("logs", "info", "kernel log (dmesg) not readable: OOM kills cannot be seen"))

    mem = diagnosis.memory
    verdict = mem.get("verdict")
    rows.append(("memory", {"ok": "ok", "over": "warning"}.get(str(verdict), "info"), str(mem.get("message", ""))))

    wp = facts.wordpress
    if wp.root is None:
        rows.append(("WordPress", "info", "no WordPress install found"))
    elif wp.data_error:
        rows.append(("WordPress", "warning", f"{wp.root}: {wp.data_error}"))
    elif wp.data_deferred:
        rows.append(("WordPress", "ok", f"{wp.root} version {wp.version or '?'} (plugins read only when unhealthy)"))
    else:
        n = "?" if wp.active_plugins is None else str(len(wp.active_plugins))
        rows.append(("WordPress", "ok", f"{wp.root} version {wp.version or '?'}, {n} active plugins"))

    for p, name in ((facts.local_probe, "probe"), (facts.remote_probe, "remote probe")):
        if p is None:
            continue
        st = "ok" if p.status == 200 else ("error" if p.status in (None, 502, 503, 504) else "warning")
        rows.append((name, st, _probe_ev(p, name).line))
    if facts.local_probe is None and facts.remote_probe is None:
        rows.append(("probe", "info", "not probed"))
    return rows


__all__ = [
    "HEADROOM",
    "Signal",
    "build_checks",
    "classify",
    "listen_matches",
    "looks_like_wordpress",
    "memory_budget",
    "read_signal",
    "web_user_can_connect",
]
