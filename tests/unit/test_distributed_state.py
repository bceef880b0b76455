"""The distributed executor's shared state against a real redis-server (Debian's), started here on
127.0.0.1 with a free port: the failure budget, the batch barrier, the start slot and the host
lock, including races between threads that all talk to the one server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from remediations.distributed import codec
from remediations.distributed.state import Reservation, RunState, failure_cap
from remediations.fleet import fail_limit_reached
from remediations.results import FixResult, HostResult, Status


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 2024:
            return port


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Debian's redis-server on 127.0.0.1 and a free port, no persistence; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed: scripts/install.sh installs it")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.time() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(server)
    c.flushdb()
    yield c
    c.close()


def skipped(name: str) -> str:
    return codec.skipped(name)


def failed(name: str) -> str:
    return codec.encode(HostResult(name, status=Status.FAILED, error="boom"))


@pytest.mark.parametrize("total", [1, 2, 3, 7, 10, 33, 100])
@pytest.mark.parametrize(
    ("max_fail", "pct"),
    [(None, None), (1, None), (5, None), (None, 0.0), (None, 10.0), (None, 33.3), (None, 100.0), (3, 20.0)],
)
def test_cap_is_the_in_process_rule(total: int, max_fail: int | None, pct: float | None) -> None:
    cap = failure_cap(total, max_fail, pct)
    for f in range(total + 1):
        assert (fail_limit_reached(f, total, max_fail, pct) is not None) == (cap is not None and f >= cap), f


def test_start_slots_follow_the_open_batch(client: redis.Redis) -> None:
    st = RunState(client, "R1")
    st.create([["a"], ["b", "c"]], cap=None, spec={"x": 1})
    assert st.spec() == {"x": 1}
    assert st.reserve("a", skipped("a")).verdict == "wait"  # no batch open yet
    st.open_batch(0)
    assert st.reserve("b", skipped("b")).verdict == "wait"  # the barrier: batch 1 is not open
    assert st.reserve("a", skipped("a")) == Reservation("go", 1)
    assert st.reserve("a", skipped("a")) == Reservation("again", 2)  # started, never finished: a lost attempt
    assert st.finish("a", codec.encode(HostResult("a", status=Status.FIXED)), failure=False) == 0
    assert st.reserve("a", skipped("a")).verdict == "done"  # a late redelivery finds the result
    assert st.finish("a", failed("a"), failure=True) == -2  # and cannot overwrite it
    st.open_batch(1)
    assert st.reserve("b", skipped("b")).verdict == "go"
    assert st.reserve("nobody", skipped("nobody")).verdict == "unknown"
    assert RunState(client, "other").reserve("a", skipped("a")).verdict == "unknown"
    assert st.finished(["a", "b", "c"]).keys() == {"a"}


def test_cap_stops_every_later_start(client: redis.Redis) -> None:
    st = RunState(client, "R2")
    st.create([["a", "b", "c", "d"]], cap=2, spec={})
    st.open_batch(0)
    assert st.reserve("a", skipped("a")).verdict == "go"
    assert st.reserve("b", skipped("b")).verdict == "go"
    assert st.finish("a", failed("a"), failure=True) == 1
    assert st.stopped() == (None, 0)
    assert st.reserve("c", skipped("c")).verdict == "go"
    assert st.finish("b", failed("b"), failure=True) == 2
    assert st.stopped() == ("cap", 2)
    assert st.reserve("d", skipped("d")).verdict == "skipped"
    assert codec.decode(st.finished(["d"])["d"]).status == Status.SKIPPED
    # a host already running when the cap was reached finishes and is counted, as in-process
    assert st.finish("c", failed("c"), failure=True) == 3
    assert st.stopped() == ("cap", 2)


def test_interrupt_skips_only_unstarted_hosts(client: redis.Redis) -> None:
    st = RunState(client, "R3")
    st.create([["a", "b", "c"]], cap=None, spec={})
    st.open_batch(0)
    assert st.reserve("a", skipped("a")).verdict == "go"
    st.interrupt()
    assert st.skip_unstarted(["a", "b", "c"], skipped("-")) == 2
    assert set(st.finished(["a", "b", "c"])) == {"b", "c"}
    assert st.done_since(0) == ["b", "c"] and st.done_since(1) == ["c"]
    assert st.reserve("b", skipped("b")).verdict == "done"
    # the host that was running is still allowed to finish (or, re-delivered, to roll back)
    assert st.reserve("a", skipped("a")).verdict == "again"
    assert st.stopped() == ("interrupted", 0)


def test_finish_needs_the_hosts_lock(client: redis.Redis) -> None:
    st = RunState(client, "R4")
    st.create([["a"]], cap=1, spec={})
    st.open_batch(0)
    st.reserve("a", skipped("a"))
    client.set(RunState.lock_key("a"), "someone-else")
    assert st.finish("a", failed("a"), failure=True, token="mine") == -1
    assert st.finished(["a"]) == {} and st.stopped() == (None, 0)
    client.set(RunState.lock_key("a"), "mine")
    assert st.finish("a", failed("a"), failure=True, token="mine") == 1


def test_racing_workers_count_every_failure_and_stop_once(client: redis.Redis, server: str) -> None:
    """8 threads with their own connections grab hosts and fail each one at once; the cap is 10.
    Lost updates would show as a wrong count; a slot granted after the stop as a 'go' seen after
    the worker itself observed the stop flag set."""
    names = [f"h{i}" for i in range(200)]
    st = RunState(client, "R5")
    st.create([names], cap=10, spec={})
    st.open_batch(0)
    granted: list[str] = []
    late: list[str] = []
    mutex = threading.Lock()

    def work(k: int) -> None:
        mine = RunState(redis.Redis.from_url(server), "R5")
        for name in names[k::8]:
            stopped_before = mine.stopped()[0] is not None
            slot = mine.reserve(name, skipped(name))
            if slot.verdict == "go":
                with mutex:
                    granted.append(name)
                    if stopped_before:
                        late.append(name)
                mine.finish(name, failed(name), failure=True)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    results = {n: codec.decode(v) for n, v in st.finished(names).items()}
    assert len(results) == len(names)  # every host has exactly one outcome
    arrived = st.done_since(0)
    assert len(arrived) == len(names) and set(arrived) == set(names)  # each announced once
    fails = [n for n, r in results.items() if r.status == Status.FAILED]
    assert sorted(fails) == sorted(granted)
    assert int(client.hget(st.meta, "failed")) == len(granted)
    assert st.stopped() == ("cap", 10)
    assert 10 <= len(granted) <= 10 + 7  # at most one host in flight per other worker at the stop
    assert late == []


def test_host_lock_admits_one_worker(client: redis.Redis, server: str) -> None:
    from redis.lock import Lock

    winners: list[int] = []
    barrier = threading.Barrier(6)

    def grab(k: int) -> None:
        lock = Lock(redis.Redis.from_url(server), RunState.lock_key("web1"), timeout=5, thread_local=False)
        barrier.wait()
        if lock.acquire(blocking=False):
            winners.append(k)

    threads = [threading.Thread(target=grab, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(winners) == 1


def test_result_travels_in_the_report_shape() -> None:
    r = HostResult(
        "web7",
        status=Status.FIXED,
        causes=["fpm-down"],
        evidence=[{"cause": "fpm-down", "source": "nginx", "line": "connect() failed"}],
        actions=[FixResult("restart-fpm", changed=True, verified=True, diff="-a\n+b", probes=2)],
        checks=[("fpm", "fail", "not running")],
        connections=1,
        round_trips=9,
        seconds=3.25,
    )
    back = codec.decode(codec.encode(r))
    assert back.as_json() == r.as_json() and back.name == "web7"
    leak = HostResult("web8", error="auth failed: DB_PASSWORD=hunter2secret in pool env")
    assert "hunter2secret" not in codec.encode(leak)


def test_worker_delivery_is_safe_to_repeat(client: redis.Redis) -> None:
    """A worker's handling of one delivery: held host -> Busy (back to the queue); a host outside the
    worker's inventory -> failed, recorded under its lock and counted; a repeat -> "done", nothing run."""
    from remediations.distributed.hosttask import Busy, WorkerContext, handle, journal_id

    said: list[str] = []
    ctx = WorkerContext(client, hosts={}, lock_ttl=5, say=said.append)
    assert handle(ctx, "nope", "web1") == "unknown run (expired or never created): nothing done"
    st = RunState(client, "R6")
    st.create([["web1", "web2"]], cap=1, spec={})
    st.open_batch(0)
    client.set(RunState.lock_key("web1"), "another-worker", px=5000)
    with pytest.raises(Busy):
        handle(ctx, "R6", "web1")
    assert st.attempt_of("web1") == 0  # no slot taken while another worker holds the host
    client.delete(RunState.lock_key("web1"))
    assert handle(ctx, "R6", "web1").startswith("failed (attempt 1)")
    r = codec.decode(st.finished(["web1"])["web1"])
    assert r.status == Status.FAILED and r.error == "not in this worker's inventory"
    assert st.stopped() == ("cap", 1) and client.get(RunState.lock_key("web1")) is None  # lock released
    assert handle(ctx, "R6", "web1") == "done"
    assert handle(ctx, "R6", "web2") == "skipped"  # the cap is reached: no start
    assert [journal_id("R", k) for k in (1, 2, 3)] == ["R", "R-r2", "R-r3"]
