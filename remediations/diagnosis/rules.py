"""The detectors: one function per cause, each adding the evidence that proves it.

A detector's docstring is its rule (rendered into the README by ``doc.py``).  They run in the
order written here; the only dependency between them is named in the docstring that has it
(``fpm-down`` looks at whether ``socket-mismatch`` already explains a missing socket).
The scores are what :func:`remediations.diagnosis.ranking.rank` orders by; its docstring says how.
"""

from __future__ import annotations

import re

from remediations.causes import CauseId, Evidence
from remediations.diagnosis.reading import (
    MAX_LOG_EVIDENCE,
    Reading,
    cache_evidence,
    config_error_lines,
    directive_ev,
    listens,
    log_ev,
    logged_endpoint,
    pool_ev,
    serving,
    web_user_can_connect,
)
from remediations.diagnosis.registry import DETECTORS, Findings, detector
from remediations.diagnosis.signals import KERNEL_OOM_KILL

LOG_SCORE = 150  # causes read from log lines alone; + the number of lines, up to 25
MISSING = (2, 111, None)  # connect failures of a socket or port nobody listens on
HEADER_BUFFERS = ("fastcgi_buffer_size", "fastcgi_buffers")  # what holds the response headers


def _log_score(n: int) -> int:
    return LOG_SCORE + min(n, 25)


@detector(CauseId.FPM_CONFIG_ERROR)
def fpm_config_error(r: Reading, found: Findings) -> None:
    """``php-fpm -t`` failed; its ERROR/ALERT lines (``[file:line]`` first, when FPM gives one)
    are the evidence."""
    for svc in r.facts.fpm:
        if svc.config_test_ok is not False:
            continue
        lines = config_error_lines(svc.config_test_output)
        what = re.sub(r"^\[[^\]]*\] ", "", lines[0]) if lines else "php-fpm -t failed"
        found.add(
            CauseId.FPM_CONFIG_ERROR,
            300,
            f"{svc.service} refuses its configuration ({what}); "
            f"fix that line, check with `{svc.binary} -t`, then start {svc.service}.",
            [Evidence(f"{svc.binary} -t", ln) for ln in lines[:MAX_LOG_EVIDENCE]]
            or [Evidence(f"{svc.binary} -t", "configuration test failed")],
        )


@detector(CauseId.SOCKET_MISMATCH)
def socket_mismatch(r: Reading, found: Findings) -> None:
    """A ``fastcgi_pass``/``SetHandler`` target that no pool accepts while a pool listens
    elsewhere (the running pools; with FPM down, those it would start): the directive with
    file:line, the pools' ``listen`` and the (2:)/(111:) connect failures naming that target.
    When the web config names no target it can resolve, a current connect failure to an address
    no running pool serves is the same proof: nginx logs the address a ``fastcgi_pass $var`` or an
    unknown upstream resolved to, and the unresolved directive is quoted with it."""
    pools = r.pools
    if not pools:
        return
    for t in r.facts.web.fastcgi_targets:
        if serving(pools, t.endpoint):
            continue
        ev = [directive_ev(t.directive), *(pool_ev(p) for _s, p in pools[:2])]
        ev += log_ev(s for s in r.fcgi_connect if s.target == t.address and s.errno in MISSING)
        found.add(
            CauseId.SOCKET_MISMATCH,
            290 if r.running else 270,
            f"{t.directive.name} points at {t.address} but PHP-FPM listens on {listens(pools)}; "
            "make them the same and reload the web server.",
            ev,
        )
    if r.running and not r.facts.web.fastcgi_targets:
        unresolved = [directive_ev(d) for d in r.facts.web.unresolved_targets[:2]]
        for s in r.fcgi_connect:
            client = logged_endpoint(s.target) if s.target else None
            if client is None or s.errno not in (2, 111) or not r.current(s) or serving(r.pools_up, client):
                continue
            found.add(
                CauseId.SOCKET_MISMATCH,
                290,
                f"the web server connects to {s.target} but PHP-FPM listens on {listens(r.pools_up)}; "
                "make them the same and reload the web server.",
                [*log_ev([s]), *unresolved, *(pool_ev(p) for _v, p in r.pools_up[:2])],
            )


@detector(CauseId.FPM_DOWN)
def fpm_down(r: Reading, found: Findings) -> None:
    """No FPM master is running (or its pid file names a dead process); evidence: service state,
    stale pid file, FPM's own startup errors and the web server's connect() failures.  A pure
    proxy tier (no FastCGI target, no FPM installed, no FastCGI connect failure) has no FPM to be
    down.  Also when FPM runs but a running pool's own socket is gone (a current (2:) failure
    naming it and the path missing) and no socket mismatch explains it: a restart recreates it."""
    facts = r.facts
    if not r.running and (facts.fpm or facts.web.fastcgi_targets or r.fcgi_connect):
        ev: list[Evidence] = []
        for svc in facts.fpm:
            ev.append(Evidence("service", f"{svc.service}: {svc.state}"))
            if svc.pid_file_stale and svc.pid_file:
                ev.append(Evidence(svc.pid_file, "pid file names no live php-fpm master (stale)"))
        if not facts.fpm:
            ev.append(Evidence("service", "no php-fpm service found"))
        ev += log_ev(r.of_kind("fpm-start-error"))
        ev += log_ev(s for s in r.fcgi_connect if s.errno in MISSING)
        names = ", ".join(s.service for s in facts.fpm) or "php-fpm"
        found.add(CauseId.FPM_DOWN, 280, f"PHP-FPM is not running ({names}); start it and check it stays up.", ev)
    if r.running and not found.has(CauseId.SOCKET_MISMATCH):
        for s in r.fcgi_connect:
            client = logged_endpoint(s.target) if s.target else None
            # only a running pool's own socket: a path no pool listens on is a mismatch, not this
            if client is None or not serving(r.pools_up, client):
                continue
            if s.errno == 2 and s.target and r.current(s) and s.target in facts.missing_paths:
                found.add(
                    CauseId.FPM_DOWN,
                    280,
                    f"PHP-FPM runs but its socket {s.target} is gone; restart PHP-FPM to recreate it.",
                    [*log_ev([s]), Evidence("stat", f"{s.target}: missing")],
                )


def _permission_structure(r: Reading) -> list[Evidence]:
    """The unix sockets the web server dials whose owner, group and mode shut its user out."""
    user = r.facts.web.user
    out: list[Evidence] = []
    for t in r.facts.web.fastcgi_targets if user else []:
        sock = r.socket(t.address) if t.kind == "unix" else None
        if sock is None or not sock.is_socket or web_user_can_connect(sock, user or ""):
            continue
        out.append(Evidence("stat", f"{sock.path} {sock.owner}:{sock.group} {sock.mode:04o} (web user {user})"))
        for p in serving(r.all_pools, t.endpoint):
            for key in ("listen.owner", "listen.group", "listen.mode"):
                d = p.directives.get(key)
                if d is not None:
                    out.append(Evidence(f"{d.file}:{d.line}", f"{key} = {' '.join(d.args)}"))
    return out


@detector(CauseId.SOCKET_PERMISSION)
def socket_permission(r: Reading, found: Findings) -> None:
    """Current ``(13: Permission denied)`` connect failures, or the socket's owner, group and mode
    leave the web server's user out (write permission is what connecting needs; the group class
    counts only when the group is named like the user, as Debian's www-data:www-data)."""
    denied = [s for s in r.fcgi_connect if s.errno == 13 and r.current(s)]
    structural = _permission_structure(r)
    if denied or structural:
        found.add(
            CauseId.SOCKET_PERMISSION,
            260,
            f"the web server's user ({r.facts.web.user or 'www-data'}) may not connect to the PHP-FPM socket; set "
            "listen.owner/listen.group to that user and listen.mode = 0660, then restart PHP-FPM.",
            [*log_ev(denied), *structural],
        )


@detector(CauseId.UPSTREAM_UNREACHABLE)
def upstream_unreachable(r: Reading, found: Findings) -> None:
    """A ``proxy_pass``/``ProxyPass`` upstream (another HTTP tier) refused or timed out the
    connection (nginx's connect() to an http:// upstream, Apache's AH00957 http / AH01114)."""
    if not r.proxy_connect:
        return
    targets = sorted({s.target for s in r.proxy_connect if s.target})
    found.add(
        CauseId.UPSTREAM_UNREACHABLE,
        200,
        f"the proxy cannot reach its upstream {', '.join(targets)}".rstrip()
        + "; check that the origin listens there and that nothing between them blocks it.",
        [*log_ev(r.proxy_connect), *(directive_ev(d) for d in r.facts.web.proxy_passes[:2])],
    )


@detector(CauseId.WORKER_TIMEOUT)
def worker_timeout(r: Reading, found: Findings) -> None:
    """``execution timed out`` (request_terminate_timeout killed the child); that child's exit
    line (SIGTERM or SIGKILL) belongs to the timeout, not to a crash, and so does the reset the
    web server saw when no other child crashed."""
    if not r.timed_out:
        return
    exits = [s for s in r.of_kind("crash", "exit") if s.pid in r.timed_out_pids]
    ev = log_ev(r.timed_out) + log_ev(exits, 2)
    if not r.crashes:
        ev += log_ev(r.resets, 2)
    ev += [pool_ev(p, "request_terminate_timeout") for _s, p in r.pools if p.request_terminate_timeout]
    found.add(
        CauseId.WORKER_TIMEOUT,
        _log_score(len(r.timed_out)),
        "PHP-FPM killed requests that ran past request_terminate_timeout; find the slow request "
        "(slowlog) or raise the timeout in line with the web server's read timeout.",
        ev,
    )


@detector(CauseId.WORKER_CRASH)
def worker_crash(r: Reading, found: Findings) -> None:
    """``exited on signal`` 11/6/7/9 (unless that child had just been timed out), the
    ``prematurely closed``/``104: Connection reset`` lines they cause in the web server, Apache's
    AH01067/AH01075 pair, the kernel's OOM kills of php-fpm and FPM's emergency-restart line.
    A cache drop-in WordPress loads (object-cache.php; advanced-cache.php unless WP_CACHE is off)
    or a page cache with files is named with them: a drop-in runs before any plugin."""
    crashes, resets = r.crashes, r.resets
    if not crashes and not (resets and not r.timed_out):
        return
    oom = [s for s in crashes if s.line.source == "dmesg" or KERNEL_OOM_KILL.search(s.line.text)]
    if oom:
        summary = (
            "PHP-FPM workers are killed by the kernel's OOM killer; lower pm.max_children so a full pool "
            "fits in RAM; find the request that allocates so much."
        )
    else:
        summary = (
            "PHP-FPM workers are crashing mid-request; disable the extension or plugin that crashes "
            "(xdebug, imagick, a recent plugin) and set emergency_restart_threshold."
        )
    caches = cache_evidence(r.facts.wordpress)
    if caches and not oom:
        summary += " A cache drop-in or page cache is there: it runs before any plugin, so move it aside first."
    found.add(
        CauseId.WORKER_CRASH,
        _log_score(len(crashes) + len(resets)),
        summary,
        log_ev(oom) + log_ev([s for s in crashes if s not in oom]) + log_ev(resets, 2) + caches[:2],
    )


@detector(CauseId.HEADER_TOO_BIG)
def header_too_big(r: Reading, found: Findings) -> None:
    """``upstream sent too big header``: the response headers do not fit fastcgi_buffer_size
    (with the fastcgi_buffer_size / fastcgi_buffers lines as they are set, when they are)."""
    big = r.of_kind("header")
    if big:
        found.add(
            CauseId.HEADER_TOO_BIG,
            _log_score(len(big)),
            "PHP sends more response headers than nginx's FastCGI buffer holds; raise "
            "fastcgi_buffer_size / fastcgi_buffers (e.g. 32k / 16 16k).",
            log_ev(big) + [directive_ev(d) for d in r.facts.web.buffer_directives if d.name in HEADER_BUFFERS][:2],
        )


@detector(CauseId.READ_TIMEOUT)
def read_timeout(r: Reading, found: Findings) -> None:
    """nginx's ``upstream timed out (110: …) while reading response header`` from PHP (a 504)
    while PHP itself killed nothing (no ``execution timed out``): ``fastcgi_read_timeout`` is
    shorter than what PHP allows; the ``fastcgi_read_timeout`` lines with it."""
    slow = [s for s in r.of_kind("slow") if not s.proxy]
    if not slow or r.timed_out or r.facts.web.kind != "nginx":
        return
    timeouts = [d for d in r.facts.web.buffer_directives if d.name == "fastcgi_read_timeout"]
    found.add(
        CauseId.READ_TIMEOUT,
        _log_score(len(slow)),
        "nginx stopped waiting for PHP (fastcgi_read_timeout) before PHP's own limit; raise "
        "fastcgi_read_timeout to PHP's request_terminate_timeout, or find the slow request.",
        log_ev(slow) + [directive_ev(d) for d in timeouts[:2]],
    )


@detector(CauseId.POOL_EXHAUSTED)
def pool_exhausted(r: Reading, found: Findings) -> None:
    """``server reached pm.max_children``, and ``(11: Resource temporarily unavailable)``: with a
    full listen backlog nginx is refused at once; the pools' ``pm.max_children`` lines with them."""
    full = r.of_kind("exhausted")
    eagain = [s for s in r.fcgi_connect if s.errno == 11]
    sizes = [pool_ev(p, "pm.max_children") for _s, p in r.pools if p.max_children is not None]
    if full or eagain:
        found.add(
            CauseId.POOL_EXHAUSTED,
            _log_score(len(full) + len(eagain)),
            "all PHP-FPM workers are busy (pm.max_children reached); raise pm.max_children "
            "within the memory budget or find what keeps workers busy.",
            log_ev(full) + log_ev(eagain, 2) + sizes,
        )


@detector(CauseId.APACHE_HANDLER_CONFLICT)
def apache_handler_conflict(r: Reading, found: Findings) -> None:
    """Apache loads mod_php (``php_module``) and ``proxy_fcgi_module`` together: PHP may run in
    either, prefork is forced and PHP sits in every Apache child."""
    mods = set(r.facts.web.modules)
    php = sorted(mods & {"php_module", "php7_module"})
    if r.facts.web.kind == "apache" and "proxy_fcgi_module" in mods and php:
        found.add(
            CauseId.APACHE_HANDLER_CONFLICT,
            100,
            "Apache loads mod_php and proxy_fcgi together; disable mod_php (a2dismod php8.2, "
            "switch to mpm_event) so PHP runs only in PHP-FPM.",
            [
                Evidence("apache2ctl -M", f"{php[0]} (shared)"),
                Evidence("apache2ctl -M", "proxy_fcgi_module (shared)"),
            ],
        )


def detect(r: Reading) -> Findings:
    """Run every detector on one host."""
    found = Findings()
    for run in DETECTORS:
        run(r, found)
    return found
