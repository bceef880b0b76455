"""The fleet run's shared state in Redis: the one place where the failure budget and the batch
barrier live, so every worker sees the same answer.

Each decision that two workers could race on is one Lua script, which Redis runs atomically:

* :meth:`RunState.reserve` — a worker asks for a host's *start slot*.  It is granted only while the
  run is not stopped and the host's batch is the open one; a host already finished is "done", a
  host started before and never finished is "again" (an earlier attempt died: roll back, redo).
* :meth:`RunState.finish` — records a host's result and, in the same step, counts a failure and
  sets the stop flag once the budget is spent.  A reservation ordered after that step is refused,
  so no worker can start a host after the failure that reached the cap was recorded.
* :meth:`RunState.skip_unstarted` — an interrupt: every host of a batch nobody started is skipped.

The cap itself is computed once, here, from :func:`remediations.fleet.fail_limit_reached` (the
in-process executor's definition), so both executors stop at the same failure count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediations.fleet import fail_limit_reached

if TYPE_CHECKING:
    import redis

KEEP_SECONDS = 7 * 24 * 3600  # a run's keys outlive it long enough for a late redelivery to find "done"

RESERVE = """
local meta, batch_of, attempts, results, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local host, skipped, keep = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', meta) == 0 then return {'unknown', 0} end
if redis.call('HEXISTS', results, host) == 1 then return {'done', 0} end
local b = redis.call('HGET', batch_of, host)
if not b then return {'unknown', 0} end
local n = tonumber(redis.call('HGET', attempts, host) or '0')
if n > 0 then return {'again', redis.call('HINCRBY', attempts, host, 1)} end
if redis.call('HEXISTS', meta, 'stopped') == 1 then
  redis.call('HSET', results, host, skipped)
  redis.call('RPUSH', done, host)
  redis.call('EXPIRE', results, keep)
  redis.call('EXPIRE', done, keep)
  return {'skipped', 0}
end
if tonumber(redis.call('HGET', meta, 'batch')) ~= tonumber(b) then return {'wait', 0} end
redis.call('HSET', attempts, host, 1)
redis.call('EXPIRE', attempts, keep)
return {'go', 1}
"""

FINISH = """
local meta, results, lock, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local host, result, failure, token, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if token ~= '' and redis.call('GET', lock) ~= token then return -1 end
if redis.call('HEXISTS', results, host) == 1 then return -2 end
redis.call('HSET', results, host, result)
redis.call('RPUSH', done, host)
redis.call('EXPIRE', results, keep)
redis.call('EXPIRE', done, keep)
local failed = tonumber(redis.call('HGET', meta, 'failed') or '0')
if failure == '1' then failed = redis.call('HINCRBY', meta, 'failed', 1) end
local cap = redis.call('HGET', meta, 'cap')
if cap and cap ~= '' and failed >= tonumber(cap) and redis.call('HEXISTS', meta, 'stopped') == 0 then
  redis.call('HSET', meta, 'stopped', 'cap', 'failed_at_stop', failed)
end
return failed
"""

SKIP_UNSTARTED = """
local attempts, results, done = KEYS[1], KEYS[2], KEYS[3]
local skipped = ARGV[1]
local n = 0
for i = 2, #ARGV do
  local host = ARGV[i]
  if redis.call('HEXISTS', results, host) == 0 and redis.call('HEXISTS', attempts, host) == 0 then
    redis.call('HSET', results, host, skipped)
    redis.call('RPUSH', done, host)
    n = n + 1
  end
end
return n
"""


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def failure_cap(total: int, max_fail: int | None, max_fail_pct: float | None) -> int | None:
    """The failure count at which the run stops, found with the in-process executor's own rule."""
    for failed in range(1, total + 1):
        if fail_limit_reached(failed, total, max_fail, max_fail_pct):
            return failed
    return None


@dataclass(frozen=True)
class Reservation:
    verdict: str  # go | again | done | skipped | wait | unknown
    attempt: int


class RunState:
    """One fleet run's keys: ``fix502:run:RUN_ID:{meta,batch_of,attempts,results,done,events}``.

    ``done`` lists hosts in the order their results arrived: the controller reads only what is
    new (a 10,000-host run must not re-read every result five times a second)."""

    def __init__(self, client: redis.Redis, run_id: str) -> None:
        self.r = client
        self.run_id = run_id
        base = f"fix502:run:{run_id}"
        self.meta, self.batch_of = f"{base}:meta", f"{base}:batch_of"
        self.attempts, self.results, self.events = f"{base}:attempts", f"{base}:results", f"{base}:events"
        self.done = f"{base}:done"
        self._reserve = client.register_script(RESERVE)
        self._finish = client.register_script(FINISH)
        self._skip = client.register_script(SKIP_UNSTARTED)

    @staticmethod
    def lock_key(host: str) -> str:
        """Per host, not per run: two fleet runs sharing a Redis cannot work on one host either."""
        return f"fix502:hostlock:{host}"

    # -- the controller ----------------------------------------------------------------------
    def create(self, batches: list[list[str]], cap: int | None, spec: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.meta, self.batch_of, self.attempts, self.results, self.done, self.events)
        pipe.hset(self.meta, mapping={"batch": -1, "failed": 0, "cap": "" if cap is None else cap})
        pipe.hset(self.meta, "spec", json.dumps(spec))
        mapping: dict[Any, Any] = {name: i for i, names in enumerate(batches) for name in names}
        if mapping:
            pipe.hset(self.batch_of, mapping=mapping)
        for key in (self.meta, self.batch_of):
            pipe.expire(key, KEEP_SECONDS)
        pipe.execute()

    def open_batch(self, index: int) -> None:
        self.r.hset(self.meta, "batch", index)

    def interrupt(self) -> None:
        self.r.hsetnx(self.meta, "stopped", "interrupted")

    def skip_unstarted(self, hosts: Iterable[str], skipped_json: str) -> int:
        names = list(hosts)
        if not names:
            return 0
        return int(self._skip(keys=[self.attempts, self.results, self.done], args=[skipped_json, *names]))

    def stopped(self) -> tuple[str | None, int]:
        """(None | "cap" | "interrupted", the failure count when the cap stopped the run)."""
        why, at = self.r.hmget(self.meta, ["stopped", "failed_at_stop"])
        return (_text(why) if why else None), int(at or 0)

    def finished(self, hosts: Iterable[str]) -> dict[str, str]:
        names = list(hosts)
        if not names:
            return {}
        values = self.r.hmget(self.results, names)
        return {n: _text(v) for n, v in zip(names, values, strict=True) if v is not None}

    def done_since(self, start: int) -> list[str]:
        """Hosts whose result arrived after the first ``start`` ones, in arrival order."""
        return [_text(n) for n in self.r.lrange(self.done, start, -1)]

    def attempt_of(self, host: str) -> int:
        return int(self.r.hget(self.attempts, host) or 0)

    def read_events(self, start: int) -> list[str]:
        return [_text(e) for e in self.r.lrange(self.events, start, -1)]

    def expire(self) -> None:
        for key in (self.meta, self.batch_of, self.attempts, self.results, self.done, self.events):
            self.r.expire(key, KEEP_SECONDS)

    # -- a worker ----------------------------------------------------------------------------
    def spec(self) -> dict[str, Any] | None:
        raw = self.r.hget(self.meta, "spec")
        return None if raw is None else dict(json.loads(raw))

    def reserve(self, host: str, skipped_json: str) -> Reservation:
        keys = [self.meta, self.batch_of, self.attempts, self.results, self.done]
        verdict, attempt = self._reserve(keys=keys, args=[host, skipped_json, KEEP_SECONDS])
        return Reservation(_text(verdict), int(attempt))

    def finish(self, host: str, result_json: str, *, failure: bool, token: str = "") -> int:
        """The failure count after this result; -1: this worker no longer holds the host's lock
        (nothing recorded); -2: the host already had a result (nothing recorded)."""
        keys = [self.meta, self.results, self.lock_key(host), self.done]
        return int(self._finish(keys=keys, args=[host, result_json, "1" if failure else "0", token, KEEP_SECONDS]))

    def event(self, line: str) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.rpush(self.events, line)
        pipe.expire(self.events, KEEP_SECONDS)
        pipe.execute()
