"""What every rule reads: one host's facts with its log signals and pools worked out once.

The rules used to recompute "which pools count", "is this line older than the FPM master" and
"the FastCGI connect failures" each in its own way; here each of those is defined once, and
the evidence helpers turn facts into the ``{source, line}`` pairs a reader can check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from remediations.causes import Evidence
from remediations.diagnosis.signals import Signal, read_signal
from remediations.endpoint import Endpoint
from remediations.facts.model import Directive, FpmPool, FpmService, HostFacts, HttpProbe, SocketFile, WordPress

MAX_LOG_EVIDENCE = 4  # per cause: enough to convince a reader, short enough to print

Pools = list[tuple[FpmService, FpmPool]]


@dataclass
class Reading:
    """One host as the rules see it; everything derived is computed on first use."""

    facts: HostFacts

    @cached_property
    def signals(self) -> list[Signal]:
        return [s for s in (read_signal(line) for line in self.facts.logs) if s is not None]

    @cached_property
    def running(self) -> list[FpmService]:
        return [s for s in self.facts.fpm if s.running]

    @cached_property
    def pools_up(self) -> Pools:
        return [(s, p) for s in self.running for p in s.pools if p.listen]

    @cached_property
    def all_pools(self) -> Pools:
        return [(s, p) for s in self.facts.fpm for p in s.pools if p.listen]

    @property
    def pools(self) -> Pools:
        """The pools that answer PHP: the running ones, else those FPM would start."""
        return self.pools_up or self.all_pools

    @cached_property
    def master_started(self) -> float | None:
        return max((s.master_started for s in self.running if s.master_started), default=None)

    def current(self, s: Signal) -> bool:
        """Lines logged before the current FPM master started describe an outage its start ended."""
        started = self.master_started
        return started is None or s.line.time is None or s.line.time >= started

    def of_kind(self, *kinds: str) -> list[Signal]:
        return [s for s in self.signals if s.kind in kinds]

    @cached_property
    def fcgi_connect(self) -> list[Signal]:
        return [s for s in self.signals if s.kind == "connect" and not s.proxy]

    @cached_property
    def proxy_connect(self) -> list[Signal]:
        return [s for s in self.signals if s.kind == "connect" and s.proxy]

    @cached_property
    def timed_out(self) -> list[Signal]:
        return self.of_kind("timeout")

    @cached_property
    def timed_out_pids(self) -> set[int | None]:
        return {s.pid for s in self.timed_out}

    @cached_property
    def crashes(self) -> list[Signal]:
        """Crash lines, without the exit of a child that request_terminate_timeout had just killed."""
        return [s for s in self.of_kind("crash") if s.pid not in self.timed_out_pids]

    @cached_property
    def resets(self) -> list[Signal]:
        return [s for s in self.of_kind("crash-reset") if not s.proxy]

    @property
    def probe(self) -> HttpProbe | None:
        return self.facts.local_probe or self.facts.remote_probe

    @property
    def status(self) -> int | None:
        return self.probe.status if self.probe else None

    @property
    def site_fails(self) -> bool:
        """A probe ran and did not get 200."""
        return self.probe is not None and self.status != 200

    def socket(self, path: str) -> SocketFile | None:
        return next((s for s in self.facts.sockets if s.path == path), None)


# ---- endpoints ----------------------------------------------------------------------------------
def logged_endpoint(target: str) -> Endpoint | None:
    """The endpoint a log line names (a socket path or ``host:port``), read like ``fastcgi_pass``."""
    return Endpoint.from_fastcgi_pass(f"unix:{target}" if target.startswith("/") else target)


def serving(pools: Pools, client: Endpoint) -> list[FpmPool]:
    """The pools that accept a connection to ``client``."""
    return [p for _s, p in pools if p.endpoint is not None and p.endpoint.accepts(client)]


def listens(pools: Pools) -> str:
    return ", ".join(sorted({p.listen or "" for _s, p in pools})) or "nothing"


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


# ---- evidence -------------------------------------------------------------------------------------
def directive_ev(d: Directive) -> Evidence:
    return Evidence(f"{d.file}:{d.line}", " ".join((d.name, *d.args)))


def pool_ev(pool: FpmPool, key: str = "listen") -> Evidence:
    d = pool.directives.get(key)
    value = {
        "listen": pool.listen,
        "pm.max_children": pool.max_children,
        "request_terminate_timeout": pool.request_terminate_timeout,
    }.get(key)
    if d is not None:
        return Evidence(f"{d.file}:{d.line}", f"{key} = {' '.join(d.args) or value}")
    return Evidence(pool.file, f"[{pool.name}] {key} = {value}")


def log_ev(signals: Iterable[Signal], limit: int = MAX_LOG_EVIDENCE) -> list[Evidence]:
    out: list[Evidence] = []
    for s in signals:
        e = Evidence(s.line.source, s.line.text)
        if e not in out:
            out.append(e)
        if len(out) >= limit:
            break
    return out


def cache_evidence(wp: WordPress) -> list[Evidence]:
    """Drop-ins WordPress loads and page caches that hold files: what can keep a broken page (or
    crash every request before any plugin runs).  The same on root and account runs."""
    if not wp.root:
        return []
    wc = f"{wp.root}/wp-content"
    ev = [
        Evidence(f"{wc}/{name}", f"drop-in present ({kind}, {size} bytes)")
        for name, (kind, _mtime, size) in sorted(wp.dropins.items())
        if name != "advanced-cache.php" or wp.wp_cache is not False
    ]
    ev += [Evidence(f"{wc}/{d}", f"page cache ({kind}, {n} files)") for d, (kind, n) in sorted(wp.caches.items())]
    return ev


PHP_FATAL = re.compile(
    r"PHP (Fatal error|Parse error)|Allowed memory size of \d+ bytes exhausted|Maximum execution time"
)


def wordpress_fatal_ev(wp: WordPress, limit: int = MAX_LOG_EVIDENCE) -> list[Evidence]:
    """The last PHP fatal lines of the site's own error logs, quoted as evidence only: the site's
    code writes these files, so they never stand for a web server or FPM signature."""
    lines = [ln for ln in wp.logs if PHP_FATAL.search(ln.text)]
    return [Evidence(ln.source, ln.text) for ln in lines[-limit:]]


def probe_ev(p: HttpProbe, name: str) -> Evidence:
    status = "no HTTP answer" if p.status is None else str(p.status)
    extra = [x for x in (f"Server: {p.server}" if p.server else None, p.body_hint, p.error) if x]
    return Evidence(name, f"GET {p.url} -> {status}" + (f" ({'; '.join(extra)})" if extra else ""))


def probes_ev(facts: HostFacts) -> list[Evidence]:
    pairs = ((facts.local_probe, "local probe"), (facts.remote_probe, "remote probe"))
    return [probe_ev(p, n) for p, n in pairs if p]


def config_error_lines(output: str) -> list[str]:
    """The lines of ``php-fpm -t`` that say what is wrong, most specific ([file:line]) first."""
    generic = ("FPM initialization failed", "failed to load configuration file", "failed to post process")
    lines = [ln.strip() for ln in output.splitlines() if re.search(r"\b(ERROR|ALERT|PHP):", ln)]
    specific = [ln for ln in lines if not any(g in ln for g in generic)]
    located = [ln for ln in specific if re.search(r"\[/[^\]]+:\d+\]", ln)]
    rest = [ln for ln in specific if ln not in located]
    return located + rest + [ln for ln in lines if ln not in specific]


def looks_like_wordpress(p: HttpProbe, facts: HostFacts) -> bool:
    """The generator tag is the proof; without that look, a non-default title on a WordPress host."""
    if p.wordpress is not None:
        return p.wordpress
    hint = (p.body_hint or "").lower()
    if any(k in hint for k in ("wordpress", "wp-content", "wp-includes", "wp-json")):
        return True
    defaults = ("welcome to nginx", "apache2 debian default page", "it works")
    return facts.wordpress.root is not None and bool(hint) and not any(d in hint for d in defaults)
