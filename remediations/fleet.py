"""Many hosts at once: bounded forks, Ansible-style serial batches, fleet-wide failure caps.

A host's failure is a result, never an exception here.  When the failure cap is reached (counted
over the whole fleet, not per batch) no new host starts; hosts already running finish their step
(and roll back if their fix fails).  Ctrl-C sets the same stop flag; the runner checks it before
each step, so journals stay intact and ``fix502 rollback`` can finish the job.

Hosts that never started are reported as ``skipped`` (with the reason): calling them "failed"
would claim something happened on a host nobody touched.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from remediations.inventory import Host
from remediations.playbook import Playbook
from remediations.results import HostResult, Status
from remediations.runner import HostRun, RunOptions

INTERRUPTED = "interrupted by the operator"


@dataclass
class FleetResult:
    results: dict[str, HostResult]
    stopped: str | None = None

    @property
    def started(self) -> list[str]:
        return [name for name, r in self.results.items() if r.status != Status.SKIPPED]


def fail_limit_reached(failed: int, total: int, max_fail: int | None, max_fail_pct: float | None) -> str | None:
    """The stop reason once the fleet-wide failure budget is spent, else None.

    The percentage is of the whole fleet and, as in Ansible, must be strictly exceeded.
    """
    if max_fail is not None and failed >= max_fail:
        return f"--max-fail {max_fail} reached ({failed} host{'s' if failed != 1 else ''} failed)"
    if max_fail_pct is not None and total and failed * 100.0 > max_fail_pct * total:
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
) -> FleetResult:
    """Run ``playbook`` on every host; batch *n+1* starts only once batch *n* has fully finished."""
    forks = max(1, forks)
    results: dict[str, HostResult] = {}
    stopped: str | None = None
    sizes = batches or [len(hosts)]
    if sum(sizes) < len(hosts):  # a short batch list: the last size repeats, as --serial does
        sizes = list(sizes)
        while sum(sizes) < len(hosts):
            sizes.append(sizes[-1] or len(hosts))
    total = len(hosts)
    failed = 0

    def one(host: Host) -> HostResult:
        return HostRun(host, playbook, options, run_id).run()

    def must_stop() -> str | None:
        nonlocal stopped
        if stopped is None and options.stop.is_set():
            stopped = INTERRUPTED
        return stopped

    start = 0
    with ThreadPoolExecutor(max_workers=min(forks, max(1, total)), thread_name_prefix="fix502-host") as pool:
        for size in sizes:
            if start >= total or must_stop():
                break
            todo = list(hosts[start : start + size])
            start += size
            pending: dict[Future[HostResult], Host] = {}
            while todo or pending:
                while todo and len(pending) < forks and not must_stop():
                    h = todo.pop(0)
                    options.processor.host_started(h.name)
                    pending[pool.submit(one, h)] = h
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    host = pending.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # a bug on one host must not stop the fleet
                        res = HostResult(host.name, status=Status.FAILED, error=f"internal error: {exc!r}")
                    results[host.name] = res
                    if res.status.counts_as_failure:
                        failed += 1
                    if stopped is None:
                        stopped = fail_limit_reached(failed, total, max_fail, max_fail_pct)
                    options.processor.host_done(res)
    for h in hosts:
        if h.name not in results:
            results[h.name] = HostResult(h.name, status=Status.SKIPPED, error=f"not started: {stopped or INTERRUPTED}")
    return FleetResult({h.name: results[h.name] for h in hosts}, stopped)
