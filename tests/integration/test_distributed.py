"""``--executor``: one fleet run over several real worker processes (``fix502 worker``) and a real
redis-server, against real lab hosts.  Three cases: a mixed fleet fixed across two workers with
canary batches; a worker SIGKILLed mid-fix whose hosts another worker resumes (rolling the lost
attempt back from the host's journal first); the failure cap reached on one worker stopping the
others.  Hosts: web120..web139 (this module's own)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.integration.conftest import REPO, host, snapshot
from tests.lab import faults, lab
from tests.unit.test_distributed_state import redis_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with redis_server() as u:
        yield u


@pytest.fixture(autouse=True)
def _clean(url: str) -> Iterator[None]:
    redis.Redis.from_url(url).flushdb()
    yield
    for p in (REPO / "reports/escalations").glob("*-web1[23][0-9].*"):
        p.unlink()


class Worker:
    """``fix502 worker`` as an operator starts it on a machine of its own."""

    def __init__(self, url: str, inventory: Path, log: Path, concurrency: int = 1) -> None:
        self.log = log
        args = ["worker", "--executor", url, "--inventory", str(inventory), "--concurrency", str(concurrency)]
        args += ["--visibility-timeout", "12", "--lock-ttl", "5"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=REPO,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for(lambda: "waiting for hosts" in self.text() or self.proc.poll() is not None, 30, "worker start")
        assert self.proc.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def hosts(self) -> dict[str, str]:
        """host -> what this worker said it did (its last word on that host)."""
        return {m[0]: m[1] for m in re.findall(r"^\[(web\d+|gone\d+)\] (\w+)", self.text(), re.M)}

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_ready(url: str, n: int) -> None:
    """Until n workers answer Celery's ping (they consume from the queue from then on)."""
    from remediations.distributed.app import make_app

    app = make_app(url)
    try:
        wait_for(lambda: len(app.control.ping(timeout=0.5) or []) >= n, 30, f"{n} workers to answer")
    finally:
        app.close()


def controller(url: str, inventory: Path, names: list[str], report: Path, *extra: str) -> subprocess.Popen[str]:
    args = ["fix-502", "--limit", ",".join(names), "--inventory", str(inventory), "--yes", "--executor", url]
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args, "--report-json", str(report), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def inventory_of(tmp: Path, hosts: list[lab.LabHost], dead: list[str] = ()) -> Path:  # type: ignore[assignment]
    """The lab hosts, plus (first, in this order) ``goneN`` hosts at 127.0.0.(250+N): no sshd there."""
    path = lab.write_inventory(hosts, tmp / "inventory.yml")
    lines = path.read_text().splitlines()
    at = lines.index("      hosts:") + 1
    for name in reversed(dead):
        addr = f"127.0.0.{250 + int(name.removeprefix('gone'))}"
        lines[at:at] = [
            f"        {name}:",
            f"          ansible_host: {addr}",
            "          ansible_port: 22",
            "          ansible_user: root",
            f"          ansible_ssh_private_key_file: {lab.KEY}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def journal(h: lab.LabHost, run: str) -> list[dict[str, object]]:
    p = h.root / "var/backups/fix502" / run / "journal.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def runs_on(h: lab.LabHost) -> list[str]:
    base = h.root / "var/backups/fix502"
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def lock_left(h: lab.LabHost) -> bool:
    return h.sh("test -e /run/fix502.lock", check=False).returncode == 0


def finish(proc: subprocess.Popen[str], timeout: float = 150) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out


# --- 1. one run, two workers, canary batches ----------------------------------------------------
def test_mixed_fleet_across_two_workers(url: str, tmp_path: Path, workers: list[Worker]) -> None:
    plan = {"web120": "fpm-killed", "web121": "old-php-socket", "web122": None, "web123": None}
    hosts = {n: host(n) for n in plan}
    for n, fault in plan.items():
        if fault:
            faults.apply(hosts[n], fault)
            assert hosts[n].http("/")[0] == 502
    before = {n: snapshot(hosts[n]) for n, f in plan.items() if f is None}
    inv = inventory_of(tmp_path, list(hosts.values()))
    workers += [Worker(url, inv, tmp_path / f"w{i}.log") for i in range(2)]
    wait_ready(url, 2)
    broken = {n: snapshot(hosts[n]) for n, f in plan.items() if f}
    dry = tmp_path / "dry.json"
    out = finish(controller(url, inv, list(plan), dry, "--dry-run"))
    planned = json.loads(dry.read_text())
    assert planned["dry_run"] is True and planned["counts"] == {"planned": 2, "healthy": 2}, out
    assert "=== plan for" in out  # the plans, as in-process
    for n in broken:  # a dry run over the workers changes nothing either
        assert snapshot(hosts[n]) == broken[n] and hosts[n].http("/")[0] == 502 and not runs_on(hosts[n])
    report = tmp_path / "report.json"
    proc = controller(url, inv, list(plan), report, "--serial", "1,10%,100%", "--max-fail", "5")
    out = finish(proc)
    assert proc.returncode == 0, out + "".join(w.text() for w in workers)
    data = json.loads(report.read_text())
    assert set(data) == {"run_id", "playbook", "dry_run", "stopped", "hosts", "counts"}  # the one report shape
    assert data["stopped"] is None and data["counts"] == {"fixed": 2, "healthy": 2}
    for n, fault in plan.items():
        r = data["hosts"][n]
        assert r["status"] == ("fixed" if fault else "healthy"), (n, r)
        assert hosts[n].http("/")[0] == 200
        if fault:
            assert faults.EXPECT[fault].cause in r["causes"]
        else:
            assert snapshot(hosts[n]) == before[n]
        assert not lock_left(hosts[n])
    assert re.search(r"totals: healthy=2 fixed=2 planned=0 failed=0 escalated=0 unreachable=0", out)
    # the barrier: batch 1 (web120) and batch 2 (web121) were done before the next batch started
    assert out.index("[web120] fixed") < out.index("[web121] started") < out.index("[web121] fixed")
    assert out.index("[web121] fixed") < out.index("[web122] started")
    lines = [re.findall(r"^\[(web\d+)\] \w+ \(attempt (\d+)\)", w.text(), re.M) for w in workers]
    assert all(lines), lines  # both workers worked
    ran = Counter(n for one in lines for n, _ in one)
    assert ran == {n: 2 for n in plan} and {k for one in lines for _, k in one} == {"1"}, lines  # once per run


# --- 2. a worker SIGKILLed mid-fix ---------------------------------------------------------------
def test_killed_worker_hosts_are_resumed_from_the_journal(url: str, tmp_path: Path, workers: list[Worker]) -> None:
    names = ["web124", "web125", "web126"]
    hosts = {n: host(n) for n in names}
    for h in hosts.values():
        faults.apply(h, "old-php-socket")  # the fix edits the site file: journaled with a backup
    inv = inventory_of(tmp_path, list(hosts.values()))
    first = Worker(url, inv, tmp_path / "first.log", concurrency=3)
    workers.append(first)
    wait_ready(url, 1)
    report = tmp_path / "report.json"
    proc = controller(url, inv, names, report, "--serial", "1,100%", "--max-fail", "5")

    def mid_fix() -> list[str]:  # batch 2's hosts whose journal holds a write not yet finished
        return [n for n in names[1:] if any(r.get("op") == "write" for r in _records(hosts[n]))]

    wait_for(lambda: bool(mid_fix()) or proc.poll() is not None, 90, "a batch-2 host mid-fix")
    assert proc.poll() is None, finish(proc)
    changing = mid_fix()
    first.kill()  # the machine dies: no ack, no cleanup, the Redis host locks left to expire
    workers.append(Worker(url, inv, tmp_path / "second.log", concurrency=3))
    out = finish(proc)
    second = workers[-1]
    assert proc.returncode == 0, out + first.text() + second.text()
    data = json.loads(report.read_text())
    run_id = data["run_id"]
    for n in names:
        r = data["hosts"][n]
        assert r["status"] == "fixed", (n, r)
        assert hosts[n].http("/")[0] == 200
        assert not lock_left(hosts[n])
    resumed = [n for n in names if data["hosts"][n]["actions"][0]["id"] == "resume"]
    assert changing and set(changing) <= set(resumed), (changing, resumed)
    for n in resumed:  # the hosts the dead worker held: the lost attempt rolled back, then fixed afresh
        r = data["hosts"][n]
        assert "attempt 1 was lost" in r["actions"][0]["note"], r
        assert f"[{n}] fixed (attempt 2)" in second.text()
        new = journal(hosts[n], f"{run_id}-r2")
        assert any(rec.get("op") == "write" for rec in new) and not any(rec.get("op") == "undone" for rec in new)
    for n in changing:
        assert runs_on(hosts[n]) == [run_id, f"{run_id}-r2"]
        old = journal(hosts[n], run_id)
        writes = [rec["seq"] for rec in old if rec.get("op") == "write"]
        undone = {rec["undoes"] for rec in old if rec.get("op") == "undone"}
        assert writes and set(writes) <= undone, old  # every change of the lost attempt undone
        resume = data["hosts"][n]["actions"][0]
        assert resume["changed"] and resume["rolled_back"], resume


def _records(h: lab.LabHost) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for j in sorted((h.root / "var/backups/fix502").glob("*/journal.jsonl")):
        try:
            out += [json.loads(x) for x in j.read_text().splitlines() if x.strip()]
        except ValueError:  # a line being appended right now
            pass
    return out


# --- 3. the cap reached on one worker stops the others -------------------------------------------
def test_cap_on_one_worker_stops_the_others(url: str, tmp_path: Path, workers: list[Worker]) -> None:
    # In the inventory, but nothing listens there: unreachable.  Outside the lab's 127.0.0.11-210, so
    # no lab host (another module's or the benchmark's) can ever be up at these addresses.
    dead = ["gone1", "gone2"]
    names = ["web127", "web128", "web129", "web130"]
    hosts = {n: host(n) for n in names}
    faults.apply(hosts["web127"], "fpm-stopped")  # fixable, but must not be reached
    before = {n: snapshot(h) for n, h in hosts.items()}
    pids = {n: h.fpm_pids() for n, h in hosts.items()}
    inv = inventory_of(tmp_path, list(hosts.values()), dead)
    workers += [Worker(url, inv, tmp_path / f"w{i}.log") for i in range(2)]
    wait_ready(url, 2)
    report = tmp_path / "report.json"
    proc = controller(url, inv, dead + names, report, "--max-fail", "1")
    out = finish(proc)
    assert proc.returncode == 3, out  # an unreachable host: exit 3, as in-process
    data = json.loads(report.read_text())
    assert "--max-fail 1 reached" in data["stopped"] and "stopped early: --max-fail 1 reached" in out
    assert data["hosts"]["gone1"]["status"] == "unreachable"
    said = [w.hosts() for w in workers]
    started = [n for n, r in data["hosts"].items() if r["status"] != "skipped"]
    skipped = [n for n, r in data["hosts"].items() if r["status"] == "skipped"]
    # two workers, one thread each: besides the failing host, at most one other was already running
    assert len(started) <= 2 and len(skipped) >= 4, (started, said)
    for n in skipped:
        r = data["hosts"][n]
        assert r["ssh_connections"] == 0 and "not started: --max-fail 1 reached" in r["error"], r
        # every refused start was a worker's decision, in Redis, after the cap: each says so
        assert [d.get(n) for d in said if n in d] == ["skipped"], (n, said)
    for n in names:
        if n in skipped:
            assert snapshot(hosts[n]) == before[n] and hosts[n].fpm_pids() == pids[n]
            assert not runs_on(hosts[n]) and not lock_left(hosts[n])
    assert hosts["web127"].http("/")[0] == 502 or "web127" in started
    failer = next(i for i, d in enumerate(said) if d.get("gone1") == "unreachable")
    others = [d for i, d in enumerate(said) if i != failer]
    assert others and all(d for d in others), said  # the other worker took part too
