"""The engine: runs a playbook on one host — lock → diagnose → guarded fixes → diagnose again,
until the site is healthy or nothing is left to try — and says what happened as data.

Per host everything is a result: a failure becomes ``HostResult(status=FAILED, error=...)`` and
never stops other hosts.  What a fix's plan goes through (confirm, apply, verify, roll back) is
:mod:`remediations.fixes.driver`'s; this module supplies the host side of it (:class:`HostRun` is
the driver's ``Session``) and decides what each step means for the host's status.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from remediations import account
from remediations.capability import Capability, detect, drop_become
from remediations.causes import Diagnosis
from remediations.errors import CommandFailed, CommandTimeout, Fix502Error, TransportError
from remediations.facts.model import HostFacts
from remediations.fixes import REGISTRY
from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult
from remediations.fixes.driver import Driver, plan_only
from remediations.inventory import Host
from remediations.journal import Journal
from remediations.plan import ConfigTest, Plan
from remediations.playbook import DiagnoseStep, FixStep, Playbook, VerifySpec
from remediations.remote import collect, for_site, host_now, probe_on_host, release_lock, site_urls, take_lock
from remediations.report import write_bundle
from remediations.results import HostResult, NullProcessor, Processor, Status, merge_sites
from remediations.sftp_journal import SftpJournal
from remediations.sftp_remote import SftpAccount
from remediations.transport import Runner as Transport
from remediations.transport import connect, join

__all__ = ["HostResult", "HostRun", "RunOptions", "Status", "new_run_id"]


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
    ssh_config: Path | None = None  # --ssh-config (ssh -F); None: ~/.ssh/config then /etc/ssh/ssh_config
    confirm: Callable[[str, Plan], bool] | None = None  # TTY prompt; None = --yes or dry-run
    processor: Processor = field(default_factory=NullProcessor)
    stop: threading.Event = field(default_factory=threading.Event)  # Ctrl-C: start no new fix
    least_privilege: bool = False  # --least-privilege: only WordPress-level fixes, even with root


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"


class HostRun:
    def __init__(self, host: Host, playbook: Playbook, options: RunOptions, run_id: str) -> None:
        self.host = host
        self.pb = playbook
        self.opt = options
        self.run_id = run_id
        self.result = HostResult(host.name)
        self.t: Transport | None = None
        self.journal: Journal | SftpJournal | None = None
        self.since: float | None = None
        self.scope = ""  # "site2" while the second of several sites runs: tags its journal records
        self.cap: Capability | None = None  # what the login may do (detected first)
        self.sftp: SftpAccount | None = None  # SFTP only (no shell): the account's files, nothing to run

    # -- the whole host --------------------------------------------------------------------
    def run(self) -> HostResult:
        start = time.monotonic()
        locked = False
        try:
            self.t = connect(
                self.host,
                accept_new_hosts=self.opt.accept_new_hosts,
                connect_timeout=self.opt.connect_timeout,
                command_timeout=self.opt.command_timeout,
                ssh_config=self.opt.ssh_config,
            )
            self._access()
            if not self.opt.dry_run:
                self._prepare_account()
                self._lock()
                locked = True
            self._sites()
        except CommandTimeout as exc:  # the host answered, then a command hung: not "unreachable"
            self._failed(Status.FAILED, exc)
        except TransportError as exc:
            self._failed(Status.UNREACHABLE if self.journal is None else Status.FAILED, exc)
        except Fix502Error as exc:
            self._failed(Status.FAILED, exc)
        finally:
            self._close(locked)
            self.result.seconds = time.monotonic() - start
        return self.result

    def _failed(self, status: Status, exc: Fix502Error) -> None:
        self.result.status = status
        self.result.error = exc.one_line()

    def _close(self, locked: bool) -> None:
        if self.t is None:
            return
        if locked:
            try:
                self._unlock()
            except Fix502Error:
                pass  # the lock is stale-aware; a dead connection cannot remove it
        self.result.connections = getattr(self.t, "connections_opened", 0)
        self.result.round_trips = getattr(self.t, "round_trips", 0) + (self.sftp.files.ops if self.sftp else 0)
        if self.sftp is not None:
            self.sftp.close()
        self.t.close()

    def _lock(self) -> None:
        assert self.t is not None
        if self.sftp is not None:
            self.sftp.lock(self.run_id, break_lock=self.opt.break_lock)
        else:
            take_lock(self.t, self.run_id, break_lock=self.opt.break_lock, lock_dir=self._lock_dir())

    def _unlock(self) -> None:
        assert self.t is not None
        if self.sftp is not None:
            self.sftp.unlock(self.run_id)
        else:
            release_lock(self.t, self.run_id, self._lock_dir())

    # -- sites ------------------------------------------------------------------------------
    def _sites(self) -> None:
        """Each site the host serves, one after another under the one lock: its own server block,
        pool and log decide its diagnosis; its fixes are tagged so escalating one site undoes only
        that site's changes.  A host with one site runs exactly as before."""
        urls = site_urls(self.host)
        if len(urls) == 1:
            self.host = for_site(self.host, urls[0]) if "sites" in self.host.vars else self.host
            self._steps()
            return
        base, whole, results = self.host, self.result, {}
        try:
            for n, url in enumerate(urls, 1):
                if self.opt.stop.is_set():
                    break
                self.host, self.scope = for_site(base, url), f"site{n}"
                self.result = HostResult(base.name, capability=whole.capability)
                results[url] = self.result
                self.say(f"site {url}")
                self._one_site()
        finally:
            self.host, self.scope = base, ""
            if results:
                self.result = merge_sites(base.name, results)
                self.result.capability = whole.capability
            else:
                self.result = whole

    def _one_site(self) -> None:
        """A site's own failure (a command, a config test) is that site's result; losing the host
        (the connection, a hung command) ends every site."""
        try:
            self._steps()
        except (CommandTimeout, TransportError):
            raise
        except Fix502Error as exc:
            self._failed(Status.FAILED, exc)

    def _tag(self, fix_id: str) -> str:
        return f"{fix_id}@{self.scope}" if self.scope else fix_id

    # -- access (root, sudo, or only the site's account) ------------------------------------
    @property
    def as_account(self) -> bool:
        """No root here: evidence and changes are the account's own (shared hosting)."""
        return self.cap is not None and not self.cap.root

    @property
    def wordpress_only(self) -> bool:
        return self.as_account or self.opt.least_privilege

    def _access(self) -> None:
        assert self.t is not None
        self.cap = detect(self.t, self.host.user or "")
        if not self.cap.shell:
            self._sftp()
        self.result.capability = self.cap.as_json()
        self.say(self.cap.line())
        if self.as_account:
            drop_become(self.t)  # sudo refused or not asked for: every command runs as the account
            if not self.cap.home.startswith("/"):
                raise Fix502Error(f"{self.cap.login} has no usable $HOME for fix502's journal", where=self.host.name)

    def _sftp(self) -> None:
        """No shell ran our command: the account's files over SFTP (the WordPress-level fixes,
        probes from the controller), or — when SFTP is refused too — a clear stop."""
        assert self.t is not None and self.cap is not None
        if not hasattr(self.t, "sftp"):
            raise Fix502Error(f"{self.cap.login} has no shell here ({self.cap.detail})", where=self.host.name)
        try:
            self.sftp = SftpAccount.open(self.t, self.host, self.cap.login, write=not self.opt.dry_run)
        except Fix502Error as exc:
            why = f"{self.cap.login} has no shell here ({self.cap.detail}), and SFTP failed: {exc.message}"
            self.result.capability = self.cap.as_json()
            self.say(self.cap.line())
            raise Fix502Error(why, where=self.host.name) from None
        self.cap.home, self.cap.sftp = self.sftp.seen.home, True
        self.cap.detail = "WordPress-level fixes through SFTP, the site probed from the controller"

    def _prepare_account(self) -> None:
        if self.sftp is not None:
            return  # made when the SFTP session opened (the clock file needs it)
        if self.as_account and self.t is not None and self.cap is not None:
            self.t.run(join("mkdir", "-p", "-m", "700", account.state_dir(self.cap.home)))

    def _lock_dir(self) -> str | None:
        return account.lock_dir(self.cap.home) if self.as_account and self.cap else None

    # -- steps ------------------------------------------------------------------------------
    def diagnose(self, window: int | None = None) -> tuple[HostFacts, Diagnosis]:
        assert self.t is not None
        if self.sftp is not None:
            facts, diag = self.sftp.collect(self.t, self.host, since=self.since, window=window or self.opt.window)
        else:
            gather = account.collect_account if self.as_account else collect
            facts, diag = gather(self.t, self.host, since=self.since, window=window or self.opt.window)
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
        state: tuple[HostFacts, Diagnosis] | None = None
        planned = False
        for step in self.pb.steps:
            if self.opt.stop.is_set():
                self.result.error = "stopped by the operator before this step"
                break
            if isinstance(step, DiagnoseStep):
                if not (self.opt.dry_run and state is not None):  # a dry run changed nothing
                    state = self.diagnose(step.window)
            else:
                state = state or self.diagnose()
                if state[1].healthy:
                    break
                state, stop, planned = self._fix_step(step, *state, planned=planned)
                if stop:
                    break
            if state[1].healthy:
                break
        self._finish(state[1] if state else None)

    def _fix_step(
        self, step: FixStep, facts: HostFacts, diag: Diagnosis, *, planned: bool
    ) -> tuple[tuple[HostFacts, Diagnosis], bool, bool]:
        """One fix step: (the host's state after it, stop trying fixes?, planned anything?)."""
        fix = REGISTRY[step.fix_id]()
        ctx = FixContext(self.host.name, facts, diag, dict(step.params), dict(self.host.vars))
        if not self._applies(step, fix, ctx):
            return (facts, diag), False, planned
        if self.wordpress_only and fix.id not in account.WORDPRESS_LEVEL:
            why = "no root on this host" if self.as_account else "--least-privilege"
            self.result.needs_root.append(f"{fix.id} ({fix.title}): not run, {account.NEEDS_ROOT} ({why})")
            self.say(f"skip {fix.id}: {account.NEEDS_ROOT} ({why})")
            return (facts, diag), False, planned
        if self.opt.dry_run:
            self.result.actions.append(plan_only(fix, ctx, after_others=planned))
            self.say(f"plan {fix.id}")
            return (facts, diag), False, True
        outcome = Driver(self).run(fix, ctx, step.verify, step.rollback)
        self.result.actions.append(outcome)
        if not outcome.changed:
            return (facts, diag), outcome.escalated, planned
        return self.diagnose(), outcome.escalated, planned

    def _applies(self, step: FixStep, fix: Fix, ctx: FixContext) -> bool:
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

    # -- the driver's Session ---------------------------------------------------------------
    def say(self, message: str) -> None:
        self.opt.processor.host_event(self.host.name, message)

    def confirm(self, plan: Plan) -> bool:
        return self.opt.confirm is None or self.opt.confirm(self.host.name, plan)

    def begin_change(self) -> None:
        assert self.t is not None
        if self.journal is None:
            root = account.backup_root(self.cap.home) if self.as_account and self.cap else None
            served = account.served_state(self.cap.home, self.result.facts) if root and self.cap else None
            if served:
                raise Fix502Error(served, where=self.host.name)
            if self.sftp is not None:
                self.journal = self.sftp.journal(self.run_id)
            else:
                self.journal = Journal(self.t, self.run_id, root)
            self.journal.begin(self.pb.name, socket.gethostname())
        self.since = self._host_now()

    def _host_now(self) -> float:
        assert self.t is not None
        if self.sftp is not None:
            return self.sftp.now()
        return host_now(self.t)

    def apply(self, plan: Plan, fix_id: str) -> None:
        assert self.journal is not None and self.t is not None
        for op in plan.ops:
            if not isinstance(op, ConfigTest):
                self.journal.apply(op, self._tag(fix_id))
                continue
            if self.sftp is not None:
                raise Fix502Error(f"{' '.join(op.argv)}: needs a shell (SFTP only)", where=self.host.name)
            result = self.t.run(join(*op.argv) + " 2>&1")
            if result.exit_status != 0:
                detail = " | ".join(result.stdout.strip().splitlines()[-2:])
                self.undo(fix_id)
                raise CommandFailed(
                    f"{' '.join(op.argv)} failed, edit reverted, nothing reloaded: {detail}", where=self.host.name
                )

    def probe(self, probe: Probe, spec: VerifySpec) -> ProbeResult:
        assert self.t is not None
        t = self.t
        retries = spec.retries if probe.attempts is None else probe.attempts - 1
        if spec.path:
            probe = dataclasses.replace(probe, path=spec.path)
        attempts = 0

        def attempt() -> ProbeResult:
            nonlocal attempts
            attempts += 1
            if self.sftp is not None:
                return self.sftp.probe(t, self.host, probe)
            return probe_on_host(t, self.host, probe)

        retrying = Retrying(
            stop=stop_after_attempt(max(1, retries + 1)),
            wait=wait_exponential(multiplier=spec.delay, exp_base=max(spec.backoff, 1.0), max=spec.max_delay),
            retry=retry_if_result(lambda r: not r.ok),
            # the last failed answer is the result (tenacity would raise RetryError instead)
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            reraise=True,
        )
        result: ProbeResult = retrying(attempt)
        return dataclasses.replace(result, attempts=attempts)

    def causes_gone(self, fix: Fix) -> bool:
        before = set(self.result.causes)
        self.settle()
        _, diag = self.diagnose()
        after = set(diag.ids)
        return bool(fix.causes & before) and not (fix.causes & after) and after <= before | {"healthy"}

    def settle(self) -> None:
        """Only evidence logged from now on counts.  Logs have one-second resolution, so the window
        opens at the next second and we wait for it: lines from the fix itself stay out."""
        self.since = self._host_now() + 1
        time.sleep(1.05)

    def undo(self, fix_id: str | None) -> None:
        """Roll back one fix (or the whole run) and open a fresh evidence window: the next
        diagnosis must see the host as it is after the undo, including its own probe's failure."""
        assert self.journal is not None
        if fix_id is None and self.scope:  # "the whole run" of one site: only that site's fixes
            for a in reversed(self.result.actions):
                if a.stays_applied:
                    self.journal.undo(fix_id=self._tag(a.id))
        else:
            self.journal.undo(fix_id=None if fix_id is None else self._tag(fix_id))
        self.settle()

    # -- the end of a host ------------------------------------------------------------------
    def _finish(self, diag: Diagnosis | None) -> None:
        r = self.result
        if diag is None:
            r.status, r.error = Status.FAILED, r.error or "the playbook has no diagnose step"
        elif self.opt.dry_run:
            r.status = Status.HEALTHY if diag.healthy else Status.PLANNED
        elif diag.healthy:
            r.status = Status.FIXED if any(a.stays_applied for a in r.actions) else Status.HEALTHY
        else:
            self._escalate()

    def _escalate(self) -> None:
        """Not healthy and nothing left to try: undo whatever is still applied, write the bundle."""
        r = self.result
        if self.journal is not None and any(a.stays_applied for a in r.actions):
            self.say("no fix brought the site back: rolling back every change of this run")
            self.undo(None)
            for a in r.actions:
                a.rolled_back = a.rolled_back or a.changed
            self.diagnose()
        r.bundle = write_bundle(self.opt.bundle_dir, self.run_id, self.host, r, self.scope)
        r.status = Status.ESCALATED
