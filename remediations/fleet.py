"""Many hosts at once: bounded forks, Ansible-style serial batches, fleet-wide failure caps.

A host's failure is a result, never an exception here.  When the failure cap is reached (counted
over the whole fleet, not per batch) no new host starts; hosts already running finish their step
(and roll back if their fix fails).  Ctrl-C sets the same stop flag; the runner checks it before
each step, so journals stay intact and ``fix502 rollback`` can finish the job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from remediations.inventory import Host
from remediations.playbook import Playbook
from remediations.runner import HostResult, HostRun, RunOptions

FAILED = {"failed", "escalated", "unreachable"}


@dataclass
class FleetResult:
    results: dict[str, HostResult]
    stopped: str | None = None


def fail_limit_reached(failed: int, total: int, max_fail: int | None, max_fail_pct: float | None) -> str | None:
    if max_fail is not None and failed >= max_fail:
        return f"--max-fail {max_fail} reached ({failed} hosts failed)"
    if max_fail_pct is not None and total and failed * 100.0 / total > max_fail_pct:
        return f"--max-fail-percentage {max_fail_pct:g} exceeded ({failed}/{total} hosts failed)"
    return None


def run_fleet(
    hosts: list[Host],
    playbook: Playbook,
    options: RunOptions,
    run_id: str,
    *,
    forks: int = 20,
    batches: list[int] | None = None,
    max_fail: int | None = None,
    max_fail_pct: float | None = None,
    on_done: Callable[[HostResult], None] | None = None,
) -> FleetResult:
    results: dict[str, HostResult] = {}
    lock = threading.Lock()
    stopped: str | None = None
    sizes = batches or [len(hosts)]
    queue = list(hosts)
    total = len(hosts)

    def one(host: Host) -> HostResult:
        return HostRun(host, playbook, options, run_id).run()

    with ThreadPoolExecutor(max_workers=max(1, forks)) as pool:
        for size in sizes:
            if not queue or stopped:
                break
            batch, queue = queue[:size], queue[size:]
            pending: dict[Future[HostResult], Host] = {}
            todo = list(batch)
            while todo or pending:
                while todo and len(pending) < forks and not stopped and not options.stop.is_set():
                    h = todo.pop(0)
                    pending[pool.submit(one, h)] = h
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    host = pending.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a bug on one host must not stop the fleet
                        res = HostResult(host.name, status="failed", error=f"internal error: {exc!r}")
                    with lock:
                        results[host.name] = res
                    if on_done:
                        on_done(res)
                    failed = sum(1 for r in results.values() if r.status in FAILED)
                    stopped = stopped or fail_limit_reached(failed, total, max_fail, max_fail_pct)
                if options.stop.is_set() and not stopped:
                    stopped = "interrupted by the operator"
            if stopped:
                break
    for h in hosts:
        if h.name not in results:
            results[h.name] = HostResult(h.name, status="failed", error=f"not started: {stopped or 'stopped'}")
    ordered = {h.name: results[h.name] for h in hosts}
    return FleetResult(ordered, stopped)
