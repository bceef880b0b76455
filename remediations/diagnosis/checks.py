"""The checks table: a `wp doctor`-like list of what a person would look at, one row each.

It reads the same :class:`Reading` as the rules (the same pools, sockets, permissions and
signals), so the table and the causes cannot disagree about what is broken.  Statuses: ok,
warning, error, info, and unknown where the facts cannot settle a question the failing site
raises.
"""

from __future__ import annotations

from remediations.causes import Diagnosis
from remediations.diagnosis.reading import (
    Reading,
    config_error_lines,
    listens,
    probe_ev,
    serving,
    web_user_can_connect,
)

Row = tuple[str, str, str]


def _web(r: Reading) -> list[Row]:
    web = r.facts.web
    if web.kind == "none":
        return [("web server", "info", "no nginx or Apache found")]
    if web.running:
        return [("web server", "ok", f"{web.service or web.kind} running as {web.user or '?'}")]
    return [("web server", "error", f"{web.service or web.kind} is not running")]


def _fpm(r: Reading) -> list[Row]:
    rows: list[Row] = [] if r.facts.fpm else [("FPM service", "error", "no php-fpm service found")]
    for svc in r.facts.fpm:
        if svc.running:
            rows.append(("FPM service", "ok", f"{svc.service} running (master {svc.master_pid or '?'})"))
        elif svc.pid_file_stale:
            rows.append(("FPM service", "error", f"{svc.service} {svc.state}; stale pid file {svc.pid_file}"))
        else:
            rows.append(("FPM service", "error", f"{svc.service} {svc.state}"))
    return rows


def _config_tests(r: Reading) -> list[Row]:
    web = r.facts.web
    tests: list[tuple[str, str]] = []
    if web.config_test_ok is not None:
        first = next((ln for ln in web.config_test_output.splitlines() if ln.strip()), "")
        said = "ok" if web.config_test_ok else first
        tests.append(("ok" if web.config_test_ok else "error", f"{web.kind}: {said}"))
    for svc in r.facts.fpm:
        if svc.config_test_ok is not None:
            lines = config_error_lines(svc.config_test_output)
            said = "ok" if svc.config_test_ok else (lines[0] if lines else "failed")
            tests.append(("ok" if svc.config_test_ok else "error", f"{svc.service}: {said}"))
        elif svc.config_unchanged:
            tests.append(("ok", f"{svc.service}: unchanged since its master started"))
    if not tests:
        return [("config test", "info", "not run")]
    status = "error" if any(s == "error" for s, _ in tests) else "ok"
    return [("config test", status, "; ".join(m for _, m in tests))]


def _alignment(r: Reading) -> list[Row]:
    web, pools = r.facts.web, r.pools
    rows: list[Row] = []
    for t in web.fastcgi_targets:
        hit = serving(pools, t.endpoint)
        if hit:
            rows.append(("socket alignment", "ok", f"{t.address} is pool [{hit[0].name}]"))
        else:
            said = (
                f"{t.address} ({t.directive.file}:{t.directive.line}) matches no pool; pools listen on {listens(pools)}"
            )
            rows.append(("socket alignment", "error", said))
    for d in web.unresolved_targets:
        said = f"{d.name} {' '.join(d.args)} ({d.file}:{d.line}) cannot be resolved from the configuration"
        rows.append(("socket alignment", "unknown" if r.site_fails else "info", said))
    if not rows:
        rows.append(("socket alignment", "info", "no fastcgi_pass/SetHandler target found"))
    return rows


def _permissions(r: Reading) -> list[Row]:
    web = r.facts.web
    unix = [t for t in web.fastcgi_targets if t.kind == "unix"]
    rows: list[Row] = [] if unix else [("socket permissions", "info", "no unix socket in use")]
    for t in unix:
        sock = r.socket(t.address)
        if sock is None:
            missing = t.address in r.facts.missing_paths
            said = f"{t.address}: " + ("missing" if missing else "not examined")
            rows.append(("socket permissions", "warning" if missing else "info", said))
            continue
        said = f"{t.address} {sock.owner}:{sock.group} {sock.mode:04o}"
        if not web.user:
            rows.append(("socket permissions", "info", said))
            continue
        ok = web_user_can_connect(sock, web.user)
        said += f", web user {web.user}" + ("" if ok else " cannot connect")
        rows.append(("socket permissions", "ok" if ok else "error", said))
    return rows


def _logs(r: Reading) -> list[Row]:
    n = len(r.facts.logs)
    kinds: dict[str, int] = {}
    for s in r.signals:
        if s.kind != "exit":
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
    if kinds:
        rows = [("logs", "warning", f"{n} recent lines; " + ", ".join(f"{c} {k}" for k, c in sorted(kinds.items())))]
    else:
        rows = [("logs", "ok", f"{n} recent lines, no 502 signature")]
    if not r.facts.dmesg_readable:
        rows.append(("logs", "info", "kernel log (dmesg) not readable: OOM kills cannot be seen"))
    return rows


def _memory(diagnosis: Diagnosis) -> list[Row]:
    mem = diagnosis.memory
    status = {"ok": "ok", "over": "warning"}.get(str(mem.get("verdict")), "info")
    return [("memory", status, str(mem.get("message", "")))]


def _wordpress(r: Reading) -> list[Row]:
    wp = r.facts.wordpress
    if wp.root is None:
        return [("WordPress", "info", "no WordPress install found")]
    if wp.data_error:
        return [("WordPress", "warning", f"{wp.root}: {wp.data_error}")]
    if wp.data_deferred:
        return [("WordPress", "ok", f"{wp.root} version {wp.version or '?'} (plugins read only when unhealthy)")]
    n = "?" if wp.active_plugins is None else str(len(wp.active_plugins))
    return [("WordPress", "ok", f"{wp.root} version {wp.version or '?'}, {n} active plugins")]


def _probes(r: Reading) -> list[Row]:
    rows: list[Row] = []
    for p, name in ((r.facts.local_probe, "probe"), (r.facts.remote_probe, "remote probe")):
        if p is not None:
            st = "ok" if p.status == 200 else ("error" if p.status in (None, 502, 503, 504) else "warning")
            rows.append((name, st, probe_ev(p, name).line))
    return rows or [("probe", "info", "not probed")]


def build_checks(r: Reading, diagnosis: Diagnosis) -> list[Row]:
    """One row per thing a person would look at; a check may have several rows (one per target)."""
    return [
        *_web(r),
        *_fpm(r),
        *_config_tests(r),
        *_alignment(r),
        *_permissions(r),
        *_logs(r),
        *_memory(diagnosis),
        *_wordpress(r),
        *_probes(r),
    ]
