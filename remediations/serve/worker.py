"""Runs queued runs with the engine exactly as the CLI does (``run_fleet`` on one host), in
worker threads, never two runs for the same host at once (the store's ``claim`` sees to that; the
on-host lock still guards against a CLI run at the same time).

What each mode runs:

- ``diagnose``: the evidence only (a diagnose-only playbook, nothing can change);
- ``approve``: the whole playbook as a dry run; its plan is stored and the run waits for
  ``fix502 approve RUN_ID``.  The approved run re-diagnoses and applies a fix only when the plan it
  would apply is the approved one, byte for byte; any other plan is declined, and a host not fixed
  by what was approved is escalated (every change rolled back, as the CLI does);
- ``fix``: the whole playbook with ``--yes``: guarded fixes, verification, rollback.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediations.fleet import run_fleet
from remediations.inventory import Host, Inventory
from remediations.plan import Plan
from remediations.playbook import DiagnoseStep, Playbook
from remediations.report import report_dict
from remediations.results import HostResult, Status
from remediations.runner import RunOptions
from remediations.serve.metrics import Metrics
from remediations.serve.notify import Notifier, summary
from remediations.serve.policy import Settings
from remediations.serve.store import AWAITING, DONE, Run, Store

log = logging.getLogger("fix502.serve")
BREAKER_NOTE = "blast-radius breaker open: diagnosed only, a person must look"


@dataclass
class Engine:
    """What a run needs besides the store."""

    inventory: Inventory
    playbook: Playbook
    settings: Settings
    notifier: Notifier
    metrics: Metrics
    public_url: str
    accept_new_hosts: bool = False
    bundle_dir: str = "escalations"
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class Outcome:
    state: str
    outcome: str
    result: HostResult
    plan: list[dict[str, Any]] | None = None
    expires: float | None = None
    note: str | None = None


class Worker:
    def __init__(self, store: Store, engine: Engine, threads: int = 2) -> None:
        self.store, self.engine = store, engine
        self.threads = [
            threading.Thread(target=self._loop, name=f"fix502-serve-{i}", daemon=True) for i in range(max(1, threads))
        ]

    def start(self) -> None:
        for run in self.store.interrupt_leftovers():
            done = self.store.get(run.run_id)
            if done is not None:
                self._announce(done)
        for t in self.threads:
            t.start()

    def stop(self, timeout: float = 600) -> None:
        """Start no new run; let the running ones finish (a run cut off mid-change would leave
        the host to ``fix502 rollback``).  Queued runs stay queued for the next start."""
        self.engine.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        while not self.engine.stop.is_set():
            try:
                self.store.expire_plans()
                run = self.store.claim()
                self.engine.metrics.queue.set(self.store.queued_count())
                if run is None:
                    self.engine.stop.wait(0.3)
                    continue
                self.execute(run)
            except Exception:  # a bug in one run must not stop the server's worker
                log.exception("worker error")
                self.engine.stop.wait(1)

    def execute(self, run: Run) -> None:
        start = time.monotonic()
        host = self.engine.inventory.hosts.get(run.host)
        if host is None:
            self.store.finish(run.run_id, state=DONE, outcome="failed", report=None, note="host left the inventory")
        else:
            out = self._run(run, host)
            report = report_dict(run.run_id, self.engine.playbook.name, out.state == AWAITING, {host.name: out.result})
            self.store.finish(
                run.run_id,
                state=out.state,
                outcome=out.outcome,
                report=report,
                plan=out.plan,
                expires=out.expires,
                note=out.note,
            )
        done = self.store.get(run.run_id)
        assert done is not None
        log.info("run %s on %s (%s mode): %s", done.run_id, done.host, done.mode, done.outcome)
        self.engine.metrics.duration.observe(time.monotonic() - start)
        self.engine.metrics.runs.labels(done.outcome or "unknown", done.mode).inc()
        self._announce(done)

    def _announce(self, run: Run) -> None:
        link = f"{self.engine.public_url.rstrip('/')}/runs/{run.run_id}"
        for problem in self.engine.notifier.send(summary(run, link)):
            self.store.audit("notify-failed", host=run.host, run_id=run.run_id, problem=problem)

    def _run(self, run: Run, host: Host) -> Outcome:
        breaker_open = self.store.breaker()[0]
        if run.approved is not None:
            return self._approved(run, host)
        if run.mode == "diagnose" or breaker_open:
            r = self._fleet(run, host, self._diagnose_only(), RunOptions(dry_run=True))
            if breaker_open:
                return Outcome(DONE, "escalated", r, note=BREAKER_NOTE)
            if r.status in (Status.UNREACHABLE, Status.FAILED):
                return Outcome(DONE, str(r.status), r)
            return Outcome(DONE, "healthy" if r.causes == ["healthy"] else "diagnosed", r)
        if run.mode == "approve":
            r = self._fleet(run, host, self.engine.playbook, RunOptions(dry_run=True))
            if r.status != Status.PLANNED:
                return Outcome(DONE, str(r.status), r)
            plan = [{"id": a.id, "plan": a.plan, "diff": a.diff, "note": a.note} for a in r.actions]
            expires = time.time() + self.engine.settings.plan_ttl
            return Outcome(AWAITING, "planned", r, plan=plan, expires=expires, note="waiting for `fix502 approve`")
        r = self._fleet(run, host, self.engine.playbook, RunOptions(dry_run=False, yes=True))
        return Outcome(DONE, str(r.status), r)

    def _approved(self, run: Run, host: Host) -> Outcome:
        approved = {p["id"]: p["plan"] for p in run.plan or []}
        declined: list[str] = []

        def confirm(_host: str, plan: Plan) -> bool:
            if approved.get(plan.fix_id) == plan.render():
                return True
            declined.append(plan.fix_id)
            return False

        r = self._fleet(run, host, self.engine.playbook, RunOptions(dry_run=False, confirm=confirm))
        note = None
        if declined:
            note = "declined (plan differs from the approved one): " + ", ".join(declined)
        if declined and r.status not in (Status.FIXED, Status.HEALTHY):
            return Outcome(DONE, "escalated", r, note=note)
        return Outcome(DONE, str(r.status), r, note=note)

    def _diagnose_only(self) -> Playbook:
        pb = self.engine.playbook
        return Playbook(name="diagnose", path=pb.path, steps=[DiagnoseStep(window=None, where="diagnose")])

    def _fleet(self, run: Run, host: Host, pb: Playbook, options: RunOptions) -> HostResult:
        options.accept_new_hosts = self.engine.accept_new_hosts
        options.bundle_dir = self.engine.bundle_dir
        self.store.audit("run-started", host=host.name, run_id=run.run_id, mode=run.mode, dry_run=options.dry_run)
        fleet = run_fleet([host], pb, options, run.run_id, forks=1)
        return fleet.results[host.name]


def bundle_dir(state: str | Path) -> str:
    return str(Path(state) / "escalations")
