"""The controller's half of ``--executor URL``: check the URL, hand each batch's hosts to the
workers, hold the barrier, and assemble the one fleet-wide result.

The controller touches no host.  It opens batch *n* in Redis, queues one task per host of it,
and waits until every host of the batch has a result there (the barrier: a worker is granted a
start slot only for the open batch).  Workers record results and failures atomically
(:mod:`remediations.distributed.state`), so the stop decision is the same wherever it was made.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.distributed import codec
from remediations.distributed.app import QUEUE, TASK, make_app
from remediations.distributed.state import RunState, failure_cap
from remediations.errors import OptionError
from remediations.fleet import INTERRUPTED, FleetResult, fail_limit_reached
from remediations.results import HostResult, Status

if TYPE_CHECKING:
    import redis

    from remediations.inventory import Host
    from remediations.playbook import Playbook
    from remediations.runner import RunOptions

SCHEMES = ("redis", "rediss")


def shown(url: str) -> str:
    """The URL as it may be printed: a password in it is replaced by ***."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))


def connect_redis(url: str, option: str = "--executor") -> redis.Redis:
    """A checked connection, or one OptionError line (exit 2) before anything else happens."""
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme not in SCHEMES:
        raise OptionError(f"{option} {shown(url)}: expected redis://HOST:PORT/DB (or rediss://)")
    import redis as redis_lib

    try:
        client = redis_lib.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        client.ping()
    except (redis_lib.RedisError, ValueError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OptionError(f"{option} {shown(url)}: cannot reach Redis: {detail}") from None
    return client


@dataclass
class Executor:
    url: str
    client: redis.Redis
    app: Any
    workers: list[str]

    @classmethod
    def open(cls, url: str) -> Executor:
        client = connect_redis(url)
        app = make_app(url)
        try:
            replies = app.control.ping(timeout=2.0) or []
        except Exception as exc:
            raise OptionError(f"--executor {shown(url)}: cannot ask for workers: {exc}") from None
        workers = sorted(name for reply in replies for name in reply)
        if not workers:
            raise OptionError(
                f"--executor {shown(url)}: no fix502 worker answers "
                "(start one: fix502 worker --executor URL --inventory INV)"
            )
        return cls(url, client, app, workers)

    def close(self) -> None:
        self.app.close()
        self.client.close()

    def run(
        self,
        hosts: list[Host],
        playbook: Playbook,
        options: RunOptions,
        run_id: str,
        *,
        diagnose_only: bool,
        batches: list[int],
        max_fail: int | None,
        max_fail_pct: float | None,
    ) -> FleetResult:
        names = [h.name for h in hosts]
        groups, start = [], 0
        for size in batches or [len(names)]:
            groups.append(names[start : start + size])
            start += size
        state = RunState(self.client, run_id)
        cap = failure_cap(len(names), max_fail, max_fail_pct)
        state.create(groups, cap, self._spec(playbook, options, diagnose_only))
        relay = _Relay(state, options)
        for index, group in enumerate(groups):
            if state.stopped()[0] or options.stop.is_set():
                break
            state.open_batch(index)
            for name in group:
                self.app.send_task(TASK, args=[run_id, name], queue=QUEUE)
                options.processor.host_started(name)
            relay.wait(group)
        state.expire()
        return self._assemble(state, names, max_fail, max_fail_pct)

    @staticmethod
    def _spec(playbook: Playbook, options: RunOptions, diagnose_only: bool) -> dict[str, Any]:
        return {
            "playbook_text": playbook.path.read_text(),
            "playbook_name": playbook.path.name,
            "diagnose_only": diagnose_only,
            "dry_run": options.dry_run,
            "accept_new_hosts": options.accept_new_hosts,
            "break_lock": options.break_lock,
            "window": options.window,
        }

    @staticmethod
    def _assemble(state: RunState, names: list[str], max_fail: int | None, max_fail_pct: float | None) -> FleetResult:
        why, at = state.stopped()
        stopped = None
        if why == "cap":
            stopped = fail_limit_reached(at, len(names), max_fail, max_fail_pct)
        elif why == "interrupted":
            stopped = INTERRUPTED
        found = state.finished(names)
        results: dict[str, HostResult] = {}
        for name in names:
            r = codec.decode(found[name], name) if name in found else HostResult(name, status=Status.SKIPPED)
            if r.status == Status.SKIPPED and r.error is None:
                r.error = f"not started: {stopped or INTERRUPTED}"
            results[name] = r
        return FleetResult(results, stopped)


class _Relay:
    """Waits for a batch while passing the workers' events and results to the display; the
    operator's interrupt becomes the run's stop flag (no new host starts anywhere)."""

    def __init__(self, state: RunState, options: RunOptions) -> None:
        self.state, self.options = state, options
        self.events = 0
        self.seen: set[str] = set()
        self.interrupted = False

    def wait(self, group: list[str]) -> None:
        waiting = set(group) - self.seen
        while waiting:
            self._events()
            fresh = self.state.done_since(len(self.seen))
            if fresh:
                texts = self.state.finished(fresh)
                for name in fresh:
                    self.seen.add(name)
                    waiting.discard(name)
                    self.options.processor.host_done(codec.decode(texts[name], name))
                continue
            if self.options.stop.is_set() and not self.interrupted:
                self.interrupted = True
                self.state.interrupt()
                self.state.skip_unstarted(waiting, codec.skipped("-"))
                continue
            time.sleep(0.2)

    def _events(self) -> None:
        lines = self.state.read_events(self.events)
        self.events += len(lines)
        for line in lines:
            host, _, message = line.partition("\t")
            self.options.processor.host_event(host, message)
