"""One host on a worker: the Redis host lock, the start slot, the run, the result.

Tasks are delivered at least once (acks_late: a worker that dies leaves its messages unacked and
the broker hands them out again), so everything here is safe to repeat:

1. the Redis lock per host (with a heartbeat) keeps a second delivery off a host someone works on:
   it is retried later and then finds the host "done";
2. the start slot (:meth:`RunState.reserve`) says whether this is a first start, a re-attempt
   after a lost worker, a host already finished, or a host the stopped run must skip;
3. a re-attempt first rolls back, from the on-host journal, whatever the lost attempt(s) changed
   (``undo_run`` re-checks every step before it acts), then runs the playbook afresh — the host is
   diagnosed as it is, exactly as a fresh run would see it;
4. the result is recorded only while this worker still holds the host's lock (fencing token).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remediations.distributed import codec
from remediations.distributed.state import RunState
from remediations.errors import Fix502Error
from remediations.fixes import REGISTRY
from remediations.inventory import Host
from remediations.journals import HostJournals
from remediations.playbook import DiagnoseStep, Playbook, load_playbook
from remediations.results import FixResult, HostResult, Status
from remediations.runner import HostRun, RunOptions
from remediations.transport import connect

if TYPE_CHECKING:
    import redis

MAX_ATTEMPTS = 3  # a host whose runs keep killing workers is not retried forever


class Busy(Exception):
    """Another worker holds this host (or its batch is not open yet): try again later."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"retry in {countdown:g}s")
        self.countdown = countdown


@dataclass
class WorkerContext:
    """What a worker process brings: its own inventory (keys, vault secrets stay on the worker)."""

    client: redis.Redis
    hosts: dict[str, Host]
    ssh_config: Path | None = None
    lock_ttl: float = 150.0
    say: Any = print
    playbooks: dict[str, Playbook] = field(default_factory=dict)


CONTEXT: WorkerContext | None = None  # set once by `fix502 worker` before Celery starts


def journal_id(run_id: str, attempt: int) -> str:
    """Attempt 1 journals under the run id (as the in-process executor does); later attempts get
    their own journal, so sequence numbers and "undone" marks never mix between attempts."""
    return run_id if attempt <= 1 else f"{run_id}-r{attempt}"


class RedisEvents:
    """The worker's progress events, relayed to the controller's display through Redis."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def host_started(self, host: str) -> None:
        return None

    def host_event(self, host: str, message: str) -> None:
        try:
            self.state.event(f"{host}\t{message}")
        except Exception:  # progress is best effort; the result is not
            pass

    def host_done(self, result: HostResult) -> None:
        return None


class Heartbeat(threading.Thread):
    """Keeps the host's Redis lock alive; if it is lost (Redis gone, TTL passed) the host's run
    stops before its next step.  An operator's interrupt on the controller stops it the same way."""

    def __init__(self, lock: Any, state: RunState, stop: threading.Event, every: float) -> None:
        super().__init__(daemon=True, name="fix502-heartbeat")
        self.lock, self.state, self.stop, self.every = lock, state, stop, every
        self.done = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                self.lock.reacquire()
                if self.state.stopped()[0] == "interrupted":
                    self.stop.set()
            except Exception:
                self.lost = True
                self.stop.set()
                return


def playbook_for(ctx: WorkerContext, run_id: str, spec: dict[str, Any]) -> Playbook:
    """The controller's playbook text, checked here again: a worker runs only what it validated."""
    if run_id in ctx.playbooks:
        return ctx.playbooks[run_id]
    with tempfile.TemporaryDirectory(prefix="fix502-pb-") as tmp:
        path = Path(tmp) / Path(str(spec["playbook_name"])).name
        path.write_text(str(spec["playbook_text"]))
        pb = load_playbook(path, {fid: dict(cls.params) for fid, cls in REGISTRY.items()})
    if spec.get("diagnose_only"):
        pb = Playbook(name="diagnose", path=pb.path, steps=[DiagnoseStep(window=None, where="diagnose")])
    ctx.playbooks[run_id] = pb
    return pb


def options_for(ctx: WorkerContext, state: RunState, spec: dict[str, Any], stop: threading.Event) -> RunOptions:
    return RunOptions(
        dry_run=bool(spec["dry_run"]),
        yes=True,
        accept_new_hosts=bool(spec["accept_new_hosts"]),
        break_lock=bool(spec["break_lock"]),
        window=int(spec["window"]),
        ssh_config=ctx.ssh_config,
        processor=RedisEvents(state),
        stop=stop,
    )


def recover(host: Host, options: RunOptions, run_id: str, attempt: int) -> FixResult:
    """Before attempt ``attempt``: undo what attempts 1..attempt-1 of this run left on the host.

    The on-host lock a lost attempt left is taken over only when it names one of this run's own
    attempts: the Redis host lock we hold proves no worker of this run is still in there.
    """
    ours = [journal_id(run_id, k) for k in range(attempt - 1, 0, -1)]  # newest first
    me = journal_id(run_id, attempt)
    t = connect(
        host,
        accept_new_hosts=options.accept_new_hosts,
        connect_timeout=options.connect_timeout,
        command_timeout=options.command_timeout,
        ssh_config=options.ssh_config,
    )
    try:
        journals = HostJournals(t, host)  # root's, or the account's (its shell or SFTP)
        try:
            stale = journals.lock_owner().get("run_id") in ours
            journals.lock(me, break_lock=options.break_lock or stale)
            try:
                present = set(journals.runs())
                lines = [line for jid in ours if jid in present for line in journals.undo(jid)]
            finally:
                journals.unlock(me)
        finally:
            journals.close()
    finally:
        t.close()
    done = "; ".join(lines) or "nothing to undo"
    return FixResult(
        id="resume",
        changed=bool(lines),
        rolled_back=bool(lines),
        note=f"attempt {attempt - 1} was lost with its worker; rolled back from the host's journal: {done}",
    )


def run_host(
    ctx: WorkerContext, state: RunState, spec: dict[str, Any], host: Host, attempt: int, stop: threading.Event
) -> HostResult:
    """Run the playbook on one host that this worker holds the lock and the start slot for."""
    options = options_for(ctx, state, spec, stop)
    if attempt > MAX_ATTEMPTS:
        return HostResult(
            host.name,
            error=f"{MAX_ATTEMPTS} attempts were lost with their workers; journals stay on the host "
            "(`fix502 rollback` undoes them)",
        )
    resumed: FixResult | None = None
    if attempt > 1 and not options.dry_run:
        try:
            resumed = recover(host, options, state.run_id, attempt)
        except Fix502Error as exc:
            return HostResult(host.name, error=f"resuming after a lost worker: {exc.one_line()}")
        if state.stopped()[0] is not None:
            return HostResult(host.name, actions=[resumed], error="the run stopped; the lost attempt was rolled back")
    pb = playbook_for(ctx, state.run_id, spec)
    result = HostRun(host, pb, options, journal_id(state.run_id, attempt)).run()
    if resumed is not None:
        result.actions.insert(0, resumed)
    return result


def handle(ctx: WorkerContext, run_id: str, name: str) -> str:
    """One delivery of one host's task; returns what happened (for the worker's log).

    Raises :class:`Busy` when the task must come back later (the broker keeps it meanwhile)."""
    from redis.lock import Lock

    state = RunState(ctx.client, run_id)
    spec = state.spec()
    if spec is None:
        return "unknown run (expired or never created): nothing done"
    lock = Lock(ctx.client, RunState.lock_key(name), timeout=ctx.lock_ttl, thread_local=False)
    if not lock.acquire(blocking=False):
        raise Busy(max(1.0, ctx.lock_ttl / 3))
    try:
        slot = state.reserve(name, codec.skipped(name))
        if slot.verdict == "wait":
            raise Busy(1.0)
        if slot.verdict not in ("go", "again"):
            return slot.verdict
        stop = threading.Event()
        beat = Heartbeat(lock, state, stop, ctx.lock_ttl / 3)
        beat.start()
        try:
            result = _run_or_fail(ctx, state, spec, name, slot.attempt, stop)
        finally:
            beat.done.set()
            beat.join(timeout=5)
        token = lock.local.token
        token_text = token.decode() if isinstance(token, bytes) else str(token)
        recorded = state.finish(name, codec.encode(result), failure=result.status.counts_as_failure, token=token_text)
        if recorded == -1:
            return f"{result.status} (attempt {slot.attempt}) but the host lock was lost: result not recorded"
        return f"{result.status} (attempt {slot.attempt}) on {socket.gethostname()} pid {os.getpid()}"
    finally:
        try:
            lock.release()
        except Exception:
            pass  # expired or lost: nothing of ours to release


def _run_or_fail(
    ctx: WorkerContext, state: RunState, spec: dict[str, Any], name: str, attempt: int, stop: threading.Event
) -> HostResult:
    host = ctx.hosts.get(name)
    if host is None:
        return HostResult(name, error="not in this worker's inventory")
    try:
        return run_host(ctx, state, spec, host, attempt, stop)
    except Fix502Error as exc:  # e.g. the playbook the controller sent does not validate here
        return HostResult(name, error=exc.one_line())
    except Exception as exc:  # a bug on one host must not stop the fleet (as in fleet.run_fleet)
        return HostResult(name, status=Status.FAILED, error=f"internal error: {exc!r}")
