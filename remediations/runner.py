"""Runs a playbook on hosts: lock → diagnose → guarded fixes (plan, confirm, apply, verify,
roll back) → diagnose again, until the site is healthy or nothing is left to try.

Per host everything is data: a failure becomes ``HostResult(status="failed", error=...)`` and never
stops other hosts.  Fixes only return plans; this module is the one that applies them (through the
journal, which backs up first) and decides what "worked" means.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from remediations.causes import Diagnosis
from remediations.diagnosis import classify
from remediations.errors import CommandFailed, Fix502Error, LockHeld, TransportError
from remediations.facts.model import HostFacts, HttpProbe
from remediations.facts.script import (
    evidence_command,
    evidence_stdin,
    new_boundary,
    parse_evidence,
    site_user,
    wordpress_command,
)
from remediations.fixes import REGISTRY
from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult
from remediations.inventory import Host
from remediations.journal import Journal
from remediations.plan import ConfigTest, Plan
from remediations.playbook import DiagnoseStep, FixStep, Playbook
from remediations.transport import Runner as Transport
from remediations.transport import connect, join, q

LOCK_DIR = "/run/fix502.lock"


@dataclass
class Action:
    id: str
    changed: bool = False
    verified: bool = False
    rolled_back: bool = False
    diff: str = ""
    plan: str = ""
    probes: int = 0
    note: str = ""
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "changed": self.changed,
            "verified": self.verified,
            "rolled_back": self.rolled_back,
            "diff": self.diff,
            "probes": self.probes,
            "note": self.note,
            "error": self.error,
        }


@dataclass
class HostResult:
    name: str
    status: str = "failed"  # healthy|fixed|planned|failed|escalated|unreachable
    causes: list[str] = field(default_factory=list)
    evidence: list[dict[str, str]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    error: str | None = None
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    connections: int = 0
    round_trips: int = 0
    seconds: float = 0.0
    bundle: str | None = None
    facts: HostFacts | None = None
    diagnosis: Diagnosis | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "causes": self.causes,
            "evidence": self.evidence,
            "actions": [a.as_json() for a in self.actions],
            "error": self.error,
            "checks": [list(c) for c in self.checks],
            "memory": self.memory,
            "ssh_connections": self.connections,
            "round_trips": self.round_trips,
            "seconds": round(self.seconds, 3),
            "bundle": self.bundle,
        }


@dataclass
class RunOptions:
    dry_run: bool = False
    yes: bool = False
    accept_new_hosts: bool = False
    break_lock: bool = False
    connect_timeout: float = 10.0
    command_timeout: float = 120.0
    window: int = 900
    bundle_dir: str = "reports/escalations"
    confirm: Callable[[str, Plan], bool] | None = None  # TTY prompt; None = --yes or dry-run
    on_event: Callable[[str, str], None] | None = None  # (host, message) progress lines
    stop: threading.Event = field(default_factory=threading.Event)  # Ctrl-C: start no new fix


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"


# ----------------------------------------------------------------------------------------------
# evidence
# ----------------------------------------------------------------------------------------------
def site_url(host: Host) -> str:
    url = host.vars.get("site_url")
    return str(url) if url else f"http://{host.address}/"


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
    boundary = new_boundary()  # secret per run: host output cannot forge a section
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
        more = t.run(wordpress_command(url, wp.root, site_user(facts)), stdin=evidence_stdin(boundary), timeout=60)
        facts, diagnosis = diagnose(result.stdout + more.stdout)
    return facts, diagnosis


def probe_on_host(t: Transport, host: Host, probe: Probe) -> ProbeResult:
    """Request the site on the host itself (curl --resolve to the address we reached it on)."""
    url = site_url(host).rstrip("/") + "/" + probe.path.lstrip("/")
    one = (
        "out=$(curl -sS -o \"$B\" -w '%{http_code}' --max-time 20 "
        '--resolve "$HP:$ADDR" ' + q(url) + ' 2>/dev/null) || out=000; echo "$out"'
    )
    hp = _host_port(url)
    script = (
        "set -- $SSH_CONNECTION; ADDR=${3:-127.0.0.1}; "
        f"HP={q(hp)}; "
        "T=$(mktemp -d); trap 'rm -rf \"$T\"' EXIT; "
        f'for i in $(seq 1 {int(probe.concurrency)}); do ( B="$T/$i"; {one} > "$T/$i.code" ) & done; wait; '
        f'for i in $(seq 1 {int(probe.concurrency)}); do printf \'%s \' "$(cat "$T/$i.code")"; '
        + (
            f'if grep -qF {q(probe.expect_body)} "$T/$i" 2>/dev/null; then echo yes; else echo no; fi; '
            if probe.expect_body
            else "echo yes; "
        )
        + "done"
    )
    result = t.run(script, timeout=60)
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
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


# ----------------------------------------------------------------------------------------------
# the host lock
# ----------------------------------------------------------------------------------------------
def take_lock(t: Transport, run_id: str, *, break_lock: bool, stale_after: int = 3600) -> None:
    """mkdir is atomic: the first run wins; the owner file says who holds it."""
    owner = json.dumps(
        {"run_id": run_id, "controller": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    )
    script = (
        f"L={q(LOCK_DIR)}; "
        + ('if [ -d "$L" ]; then rm -rf "$L"; fi; ' if break_lock else "")
        + 'if mkdir "$L" 2>/dev/null; then chmod 700 "$L"; printf "%s" '
        + q(owner)
        + ' > "$L/owner"; echo taken; '
        'else echo held; cat "$L/owner" 2>/dev/null; echo; '
        'echo "age=$(( $(date +%s) - $(stat -c %Y "$L") ))"; fi'
    )
    out = t.run(script).stdout.splitlines()
    if out and out[0] == "taken":
        return
    holder: dict[str, Any] = {}
    age = 0
    for line in out[1:]:
        if line.startswith("{"):
            try:
                holder = json.loads(line)
            except ValueError:
                pass
        elif line.startswith("age="):
            age = int(line[4:] or 0)
    who = f"run {holder.get('run_id', '?')} from {holder.get('controller', '?')} pid {holder.get('pid', '?')}"
    stale = f" (stale: older than {stale_after}s — pass --break-lock to take it)" if age > stale_after else ""
    raise LockHeld(
        f"host is locked by {who}, {age}s ago{stale}; pass --break-lock if that run is dead", where=t.host.name
    )


def release_lock(t: Transport, run_id: str) -> None:
    t.run(f'L={q(LOCK_DIR)}; grep -q {q(run_id)} "$L/owner" 2>/dev/null && rm -rf "$L"; true')


# ----------------------------------------------------------------------------------------------
# one host
# ----------------------------------------------------------------------------------------------
class HostRun:
    def __init__(self, host: Host, playbook: Playbook, options: RunOptions, run_id: str) -> None:
        self.host = host
        self.pb = playbook
        self.opt = options
        self.run_id = run_id
        self.result = HostResult(host.name)
        self.t: Transport | None = None
        self.journal: Journal | None = None
        self.since: float | None = None

    def say(self, message: str) -> None:
        if self.opt.on_event:
            self.opt.on_event(self.host.name, message)

    def run(self) -> HostResult:
        start = time.monotonic()
        locked = False
        try:
            self.t = connect(
                self.host,
                accept_new_hosts=self.opt.accept_new_hosts,
                connect_timeout=self.opt.connect_timeout,
                command_timeout=self.opt.command_timeout,
            )
            if not self.opt.dry_run:
                take_lock(self.t, self.run_id, break_lock=self.opt.break_lock)
                locked = True
            self._steps()
        except TransportError as exc:
            self.result.status = "unreachable" if self.journal is None else "failed"
            self.result.error = exc.one_line()
        except Fix502Error as exc:
            self.result.status = "failed"
            self.result.error = exc.one_line()
        finally:
            if self.t is not None:
                if locked:
                    try:
                        release_lock(self.t, self.run_id)
                    except Fix502Error:
                        pass  # the lock is stale-aware; a dead connection cannot remove it
                self.result.connections = getattr(self.t, "connections_opened", 0)
                self.result.round_trips = getattr(self.t, "round_trips", 0)
                self.t.close()
            self.result.seconds = time.monotonic() - start
        return self.result

    # -- steps --------------------------------------------------------------------------------
    def diagnose(self, window: int | None = None) -> tuple[HostFacts, Diagnosis]:
        assert self.t is not None
        facts, diag = collect(self.t, self.host, since=self.since, window=window or self.opt.window)
        r = self.result
        r.facts, r.diagnosis = facts, diag
        # The report keeps what was found (first diagnosis) plus anything new later, not just the
        # final "healthy": a fixed host's report must say what was wrong and prove it.
        fresh = [c for c in diag.causes if c.id not in r.causes and not (r.causes and c.id == "healthy")]
        r.causes = r.causes + [c.id for c in fresh]
        r.evidence += [{"cause": c.id, "source": e.source, "line": e.line} for c in fresh for e in c.evidence]
        r.checks, r.memory = list(diag.checks), dict(diag.memory)
        self.say("diagnosis: " + ", ".join(diag.ids))
        return facts, diag

    def _steps(self) -> None:
        facts: HostFacts | None = None
        diag: Diagnosis | None = None
        planned_before = False
        for step in self.pb.steps:
            if self.opt.stop.is_set():
                self.result.error = "stopped by the operator before this step"
                break
            if isinstance(step, DiagnoseStep):
                if self.opt.dry_run and facts is not None:
                    continue  # nothing changed, the first diagnosis still holds
                facts, diag = self.diagnose(step.window)
                if diag.healthy:
                    break
                continue
            assert isinstance(step, FixStep)
            if facts is None or diag is None:
                facts, diag = self.diagnose()
            if diag.healthy:
                break
            fix = REGISTRY[step.fix_id]()
            ctx = FixContext(self.host.name, facts, diag, dict(step.params), dict(self.host.vars))
            if not self._guard(step, fix, ctx):
                continue
            if self.opt.dry_run:
                self._plan_only(fix, ctx, may_change=planned_before)
                planned_before = True
                continue
            worked = self._apply_fix(step, fix, ctx)
            facts, diag = self.diagnose()
            if diag.healthy:
                break
            if worked is None:  # escalation requested by the fix
                break
        self._finish(diag)

    def _guard(self, step: FixStep, fix: Fix, ctx: FixContext) -> bool:
        if not fix.guard(ctx):
            return False
        if step.when is None:
            return True
        context = {
            "causes": ctx.diagnosis.ids,
            "facts": ctx.facts,
            "vars": {**self.pb.vars, **ctx.vars},
            "diagnosis": ctx.diagnosis,
        }
        return bool(step.when(context))

    def _plan_only(self, fix: Fix, ctx: FixContext, *, may_change: bool) -> None:
        plan = next(fix.steps(ctx))
        action = Action(fix.id, changed=False, diff=plan.diffs(), plan=plan.render())
        if may_change:
            action.note = "may change: depends on the outcome of the fixes planned before it"
        if plan.may_change:
            action.note = (action.note + "; " if action.note else "") + "later steps depend on probe results"
        self.result.actions.append(action)
        self.say(f"plan {fix.id}: {plan.summary}")

    # -- applying one fix ---------------------------------------------------------------------
    def _apply_fix(self, step: FixStep, fix: Fix, ctx: FixContext) -> bool | None:
        assert self.t is not None
        if self.journal is None:
            self.journal = Journal(self.t, self.run_id)
            self.journal.begin(self.pb.name, socket.gethostname())
        action = Action(fix.id)
        self.result.actions.append(action)
        steps = fix.steps(ctx)
        plan = next(steps)
        action.plan = plan.render()
        if plan.escalate:
            action.note = plan.escalate
            self.say(f"{fix.id}: escalate: {plan.escalate}")
            return None
        if plan.empty:
            action.note = "nothing to change"
            return False
        if self.opt.confirm and not self.opt.confirm(self.host.name, plan):
            action.note = "declined by the operator"
            return False
        self.since = self._host_now()
        diffs: list[str] = []
        probe = fix.verify(ctx)
        try:
            while True:
                self.say(f"apply {fix.id}: {plan.summary}")
                self._apply_plan(plan, fix.id)
                action.changed = action.changed or not plan.empty
                diffs.append(plan.diffs())
                result = self._verify(step, probe, action)
                try:
                    plan = steps.send(result)
                except StopIteration as stop:
                    if stop.value:
                        action.note = str(stop.value)
                    break
                if plan.escalate:
                    action.note = plan.escalate
                    break
                probe = fix.verify(ctx)
            action.diff = "".join(diffs)
            # Still a 5xx: the site may fail for another cause; the fix stands if its own causes
            # are gone.  Any other failed probe (wrong page, no WordPress content) is a failure.
            failing_5xx = result.status is not None and result.status >= 500
            verified = result.ok or (failing_5xx and self._cause_gone(fix))
            if verified:
                # Evidence from before this point (including failures our own probes provoked
                # while searching) is history now, not a reason for the next fix.
                self._fresh_window()
                action.verified = True
                self.say(f"{fix.id}: verified ({result.detail})")
                return True
            action.error = f"verification failed: {result.detail}"
        except Fix502Error as exc:
            action.diff = "".join(diffs)
            action.error = exc.one_line()
            if isinstance(exc, TransportError):
                raise
        if step.rollback == "auto":
            self.say(f"{fix.id}: rolling back ({action.error})")
            self._undo(fix.id)
            action.rolled_back = True
        return False

    def _cause_gone(self, fix: Fix) -> bool:
        """The site may still fail for another cause: the fix counts as verified when the causes it
        addresses are gone and nothing new appeared."""
        before = set(self.result.causes)
        self._fresh_window()
        _, diag = self.diagnose()
        after = set(diag.ids)
        return bool(fix.causes & before) and not (fix.causes & after) and after <= before | {"healthy"}

    def _undo(self, fix_id: str | None) -> None:
        """Roll back (one fix, or the whole run) and open a fresh evidence window: the next
        diagnosis must see the host as it is after the undo, including its own probe's failure."""
        assert self.journal is not None
        self.journal.undo(fix_id=fix_id)
        self._fresh_window()

    def _fresh_window(self) -> None:
        """Only evidence logged from now on counts.  Logs have one-second resolution, so the window
        opens at the next second and we wait for it: lines from the fix itself stay out."""
        self.since = self._host_now() + 1
        time.sleep(1.05)

    def _host_now(self) -> float:
        assert self.t is not None
        out = self.t.run("date +%s").stdout.strip()
        return float(out) if out.isdigit() else time.time()

    def _apply_plan(self, plan: Plan, fix_id: str) -> None:
        assert self.journal is not None and self.t is not None
        for op in plan.ops:
            if isinstance(op, ConfigTest):
                result = self.t.run(join(*op.argv) + " 2>&1")
                if result.exit_status != 0:
                    detail = " | ".join(result.stdout.strip().splitlines()[-2:])
                    self._undo(fix_id)
                    raise CommandFailed(
                        f"{' '.join(op.argv)} failed, edit reverted, nothing reloaded: {detail}", where=self.host.name
                    )
                continue
            self.journal.apply(op, fix_id)

    def _verify(self, step: FixStep, probe: Probe, action: Action) -> ProbeResult:
        assert self.t is not None
        spec = step.verify
        retries = int(getattr(spec, "retries", 5)) if probe.attempts is None else probe.attempts - 1
        delay = float(getattr(spec, "delay", 1.0))
        backoff = float(getattr(spec, "backoff", 2.0))
        max_delay = float(getattr(spec, "max_delay", 10.0))
        path = getattr(spec, "path", None)
        if path:
            probe = dataclasses.replace(probe, path=path)
        t = self.t

        def attempt() -> ProbeResult:
            action.probes += 1
            return probe_on_host(t, self.host, probe)

        retrying = Retrying(
            stop=stop_after_attempt(max(1, retries + 1)),
            wait=wait_exponential(multiplier=delay, exp_base=max(backoff, 1.0), max=max_delay),
            retry=retry_if_result(lambda r: not r.ok),
            reraise=True,
        )
        try:
            result: ProbeResult = retrying(attempt)
        except RetryError as exc:  # pragma: no cover - reraise=True returns the last result instead
            result = exc.last_attempt.result()
        return result

    # -- the end of a host --------------------------------------------------------------------
    def _finish(self, diag: Diagnosis | None) -> None:
        r = self.result
        if diag is None:
            r.status = "failed"
            r.error = r.error or "the playbook has no diagnose step"
            return
        if self.opt.dry_run:
            r.status = "healthy" if diag.healthy else "planned"
            return
        if diag.healthy:
            r.status = "fixed" if any(a.changed and not a.rolled_back for a in r.actions) else "healthy"
            return
        # Not healthy and nothing left to try: undo whatever is still applied, write the bundle.
        if self.journal is not None and any(a.changed and not a.rolled_back for a in r.actions):
            self.say("no fix brought the site back: rolling back every change of this run")
            self._undo(None)
            for a in r.actions:
                if a.changed:
                    a.rolled_back = True
            self.diagnose()
        from remediations.report import write_bundle

        r.bundle = write_bundle(self.opt.bundle_dir, self.run_id, self.host, r)
        r.status = "escalated"
