"""Everything the engine asks a host, one function each: the evidence, the probe, the clock, the lock.

Kept apart from the engine so its control flow reads without shell in between, and so each remote
step is a small function with its own command, testable with invoke's ``MockContext`` or a local
transport.  Every value that reaches a shell goes through :func:`remediations.transport.q`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from types import MappingProxyType
from typing import Any

from remediations.causes import Diagnosis
from remediations.diagnosis import classify
from remediations.errors import CommandFailed, LockHeld
from remediations.facts.model import HostFacts, HttpProbe
from remediations.facts.script import (
    evidence_command,
    evidence_stdin,
    new_boundary,
    parse_evidence,
    site_user,
    wordpress_command,
)
from remediations.fixes.base import Probe, ProbeResult
from remediations.inventory import Host
from remediations.transport import Runner as Transport
from remediations.transport import q

LOCK_DIR = "/run/fix502.lock"


def site_url(host: Host) -> str:
    url = host.vars.get("site_url")
    return str(url) if url else f"http://{host.address}/"


def site_urls(host: Host) -> list[str]:
    """The sites one run covers on this host: the ``sites`` host var (vetted as a list of URLs),
    else the one ``site_url`` (else the host's own address)."""
    listed = host.vars.get("sites")
    return [str(u) for u in listed] if isinstance(listed, list) and listed else [site_url(host)]


def for_site(host: Host, url: str) -> Host:
    """The host as one of its sites sees it: every step reads ``site_url`` from the vars."""
    return dataclasses.replace(host, vars=MappingProxyType({**host.vars, "site_url": url}))


def remote_probe(url: str, timeout: float = 10.0) -> HttpProbe:
    """The site as visitors reach it (through any edge), from the controller."""
    start = time.monotonic()
    req = urllib.request.Request(url, headers={"User-Agent": "fix502-probe"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(200_000).decode(errors="replace")
            status, server = resp.status, resp.headers.get("Server")
    except urllib.error.HTTPError as exc:
        body = exc.read(2000).decode(errors="replace") if exc.fp else ""
        status, server = exc.code, exc.headers.get("Server") if exc.headers else None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return HttpProbe(url=url, status=None, seconds=time.monotonic() - start, error=str(exc))
    hint = "wordpress" if 'content="WordPress' in body else None
    return HttpProbe(url=url, status=status, seconds=time.monotonic() - start, server=server, body_hint=hint)


def same_origin(url: str, address: str) -> bool:
    """Does the site URL lead to the very address we reached over SSH?  Then the controller's probe
    would only repeat the host's own (same origin, no edge in between) at the cost of one more
    WordPress page render per host — which a fleet diagnosis pays on every host at once."""
    try:
        parts = urllib.parse.urlsplit(url)
        name, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if not name:
            return False
        site = {ai[4][0] for ai in socket.getaddrinfo(name, port, proto=socket.IPPROTO_TCP)}
        ssh = {ai[4][0] for ai in socket.getaddrinfo(address, 22, proto=socket.IPPROTO_TCP)}
    except (OSError, ValueError, UnicodeError):
        return False
    return bool(site) and site == ssh


def collect(t: Transport, host: Host, *, since: float | None, window: int) -> tuple[HostFacts, Diagnosis]:
    """One round trip (the evidence script), a second only when the site is unhealthy and WordPress
    is there (its active plugins and theme), plus the controller's own view of the site."""
    url = site_url(host)
    boundary = new_boundary()  # secret per run, on stdin: host output cannot forge a section
    result = t.run(evidence_command(url), stdin=evidence_stdin(boundary), timeout=90)
    if not result.stdout.strip():
        raise CommandFailed(
            f"evidence script printed nothing (exit {result.exit_status}): {result.stderr.strip()[:200]}",
            where=host.name,
        )
    remote: HttpProbe | None = None
    note: str | None = None
    if url.startswith(("http://", "https://")):
        if same_origin(url, host.address):
            note = "remote probe not run: the site URL resolves to the SSH address (same origin)"
        else:
            remote = remote_probe(url)

    def diagnose(output: str) -> tuple[HostFacts, Diagnosis]:
        facts = parse_evidence(output, boundary, since=since, window_seconds=window)
        facts.remote_probe = remote
        facts.notes += [note] if note else []
        return facts, classify(facts)

    facts, diagnosis = diagnose(result.stdout)
    wp = facts.wordpress
    if not diagnosis.healthy and wp.root and wp.data_deferred:
        command = wordpress_command(url, wp.root, site_user(facts))
        more = t.run(command, stdin=evidence_stdin(boundary), timeout=60)
        facts, diagnosis = diagnose(result.stdout + more.stdout)
    return facts, diagnosis


def probe_on_host(t: Transport, host: Host, probe: Probe) -> ProbeResult:
    """Request the site on the host itself (curl --resolve to the address we reached it on)."""
    url = site_url(host).rstrip("/") + "/" + probe.path.lstrip("/")
    if probe.query:
        url += ("&" if "?" in url else "?") + probe.query
    one = (
        "out=$(curl -sS -o \"$B\" -w '%{http_code}' --max-time 20 "
        + ('-H @"$T/h" ' if probe.headers else "")
        + '--resolve "$HP:$ADDR" '
        + q(url)
        + ' 2>/dev/null) || out=000; echo "$out"'
    )
    hp = _host_port(url)
    # headers (a signature) go through stdin into the root-only temp dir: a command line is
    # readable by every local user, the web user included
    script = (
        "set -- $SSH_CONNECTION; ADDR=${3:-127.0.0.1}; "
        f"HP={q(hp)}; "
        "T=$(mktemp -d); trap 'rm -rf \"$T\"' EXIT; "
        + ('cat > "$T/h"; ' if probe.headers else "")
        + f'for i in $(seq 1 {int(probe.concurrency)}); do ( B="$T/$i"; {one} > "$T/$i.code" ) & done; wait; '
        f'for i in $(seq 1 {int(probe.concurrency)}); do printf \'%s \' "$(cat "$T/$i.code")"; '
        + (
            f'if grep -qF {q(probe.expect_body)} "$T/$i" 2>/dev/null; then echo yes; else echo no; fi; '
            if probe.expect_body
            else "echo yes; "
        )
        + "done"
    )
    headers = "".join(f"{k}: {v}\n" for k, v in probe.headers)
    result = t.run(script, stdin=headers if probe.headers else None, timeout=60)
    statuses: list[int | None] = []
    ok = bool(result.stdout.strip())
    for line in result.stdout.split("\n"):
        if not line.strip():
            continue
        code, _, content = line.strip().partition(" ")
        status = int(code) if code.isdigit() and code != "000" else None
        statuses.append(status)
        wanted = status is not None if probe.expect_status is None else status == probe.expect_status
        ok = ok and wanted and content == "yes"
    shown = ",".join(str(s) if s else "no answer" for s in statuses)
    return ProbeResult(ok=ok, status=statuses[0] if statuses else None, detail=f"HTTP {shown}")


def _host_port(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def take_lock(
    t: Transport, run_id: str, *, break_lock: bool, stale_after: int = 3600, lock_dir: str | None = None
) -> None:
    """mkdir is atomic: the first run wins; the owner file says who holds it.  A lock that cannot
    be created at all (read-only /run, no permission) is said as such, not as "held by ?".  A lock
    left by a process of this very controller that is no longer alive (a killed run, whose journal
    ``rollback`` is about to undo) is taken over: nothing else can still be using it.  ``lock_dir``:
    the account's own lock when there is no root (LOCK_DIR in /run is root's)."""
    lock_dir = lock_dir or LOCK_DIR
    out = _lock_attempt(t, run_id, break_lock, lock_dir)
    if out and out[0] == "taken":
        return
    if out and out[0].startswith("cannot "):
        raise LockHeld(f"cannot take the host lock {lock_dir}: {out[0][7:]}", where=t.host.name)
    holder, age = _holder(out[1:])
    if not break_lock and _dead_here(holder):
        take_lock(t, run_id, break_lock=True, stale_after=stale_after, lock_dir=lock_dir)
        return
    raise LockHeld(_held_message(holder, age, stale_after, lock_dir), where=t.host.name)


def _lock_attempt(t: Transport, run_id: str, break_lock: bool, lock_dir: str = LOCK_DIR) -> list[str]:
    owner = json.dumps(
        {"run_id": run_id, "controller": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    )
    script = (
        f"L={q(lock_dir)}; "
        + ('if [ -d "$L" ]; then rm -rf "$L"; fi; ' if break_lock else "")
        + 'if err=$(mkdir "$L" 2>&1); then chmod 700 "$L"; printf "%s" '
        + q(owner)
        + ' > "$L/owner"; echo taken; '
        'elif [ ! -d "$L" ]; then echo "cannot $err"; '
        'else echo held; cat "$L/owner" 2>/dev/null; echo; '
        'echo "age=$(( $(date +%s) - $(stat -c %Y "$L") ))"; fi'
    )
    return t.run(script).stdout.splitlines()


def _holder(lines: list[str]) -> tuple[dict[str, Any], int]:
    holder: dict[str, Any] = {}
    age = 0
    for line in lines:
        if line.startswith("{"):
            try:
                holder = json.loads(line)
            except ValueError:
                pass
        elif line.startswith("age=") and line[4:].lstrip("-").isdigit():
            age = int(line[4:])
    return holder, age


def _dead_here(holder: dict[str, Any]) -> bool:
    """The holder is a process of this controller that no longer exists."""
    pid = holder.get("pid")
    if holder.get("controller") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _held_message(holder: dict[str, Any], age: int, stale_after: int, lock_dir: str = LOCK_DIR) -> str:
    if not holder:
        return (
            f"host is locked ({lock_dir} exists, {age}s old, no owner recorded); pass --break-lock if no run is active"
        )
    who = f"run {holder.get('run_id', '?')} from {holder.get('controller', '?')} pid {holder.get('pid', '?')}"
    stale = f" (stale: older than {stale_after}s — pass --break-lock to take it)" if age > stale_after else ""
    return f"host is locked by {who}, {age}s ago{stale}; pass --break-lock if that run is dead"


def release_lock(t: Transport, run_id: str, lock_dir: str | None = None) -> None:
    lock_dir = lock_dir or LOCK_DIR
    t.run(f'L={q(lock_dir)}; grep -q {q(run_id)} "$L/owner" 2>/dev/null && rm -rf "$L"; true')


def host_now(t: Transport) -> float:
    """The host's clock (its logs are stamped with it, not with ours)."""
    out = t.run("date +%s").stdout.strip()
    return float(out) if out.isdigit() else time.time()
