"""run_fleet's scheduling with a fake HostRun: batch boundaries, the fork bound, the fleet-wide
failure cap, and that a host's failure (even a crash) is data, never an exception."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from remediations import fleet
from remediations.fleet import fail_limit_reached, run_fleet
from remediations.inventory import Host
from remediations.playbook import Playbook
from remediations.progress import FleetProgress
from remediations.report import Console
from remediations.results import HostResult, NullProcessor, Status
from remediations.runner import RunOptions
from remediations.serial import batches


class Log:
    """What the fake hosts did, in order, from many threads."""

    def __init__(self, outcome: dict[str, str], delay: float = 0.02) -> None:
        self.outcome = outcome
        self.delay = delay
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.peak = 0


def fake_hostrun(log: Log) -> type:
    class FakeHostRun:
        def __init__(self, host: Host, playbook: Playbook, options: RunOptions, run_id: str) -> None:
            self.host, self.options = host, options

        def run(self) -> HostResult:
            with log.lock:
                log.events.append(("start", self.host.name))
                log.running += 1
                log.peak = max(log.peak, log.running)
            self.options.processor.host_event(self.host.name, "diagnosis: fake")
            time.sleep(log.delay)
            status = log.outcome.get(self.host.name, "fixed")
            with log.lock:
                log.running -= 1
                log.events.append(("end", self.host.name))
            if status == "crash":
                raise RuntimeError("bug in a fix")
            return HostResult(self.host.name, status=Status(status))

    return FakeHostRun


def hosts(n: int) -> list[Host]:
    return [Host(name=f"web{i}", address=f"127.0.0.{i}") for i in range(1, n + 1)]


def run(monkeypatch: pytest.MonkeyPatch, n: int, outcome: dict[str, str] | None = None, **kw: Any) -> tuple[Any, Log]:
    log = Log(outcome or {})
    monkeypatch.setattr(fleet, "HostRun", fake_hostrun(log))
    pb = Playbook(name="t", path=Path("t.yml"), steps=[], vars={})
    res = run_fleet(hosts(n), pb, RunOptions(), "run-1", **kw)
    return res, log


def test_batches_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = batches(10, "1,30%,100%")
    assert sizes == [1, 3, 6]
    res, log = run(monkeypatch, 10, batches=sizes, forks=10)
    # every host of batch k ends before any host of batch k+1 starts
    pos = {(kind, name): i for i, (kind, name) in enumerate(log.events)}
    cut = [0, 1, 4, 10]
    for k in range(len(sizes) - 1):
        this = [f"web{i}" for i in range(cut[k] + 1, cut[k + 1] + 1)]
        nxt = [f"web{i}" for i in range(cut[k + 1] + 1, cut[k + 2] + 1)]
        assert max(pos[("end", h)] for h in this) < min(pos[("start", h)] for h in nxt)
    assert [r.status for r in res.results.values()] == ["fixed"] * 10
    assert res.stopped is None


def test_forks_bound_parallelism(monkeypatch: pytest.MonkeyPatch) -> None:
    _, log = run(monkeypatch, 12, forks=3)
    assert log.peak == 3
    _, log = run(monkeypatch, 12, forks=12)
    assert log.peak > 3


def test_canary_failure_stops_before_next_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    res, log = run(monkeypatch, 6, {"web1": "escalated"}, batches=batches(6, "1,100%"), max_fail=1)
    assert [n for k, n in log.events if k == "start"] == ["web1"]
    assert res.stopped is not None and "--max-fail 1" in res.stopped
    assert res.results["web1"].status == "escalated"
    for i in range(2, 7):
        r = res.results[f"web{i}"]
        assert r.status == "skipped"
        assert r.error is not None and "--max-fail 1" in r.error
    assert res.started == ["web1"]


def test_cap_counts_over_whole_fleet_and_running_hosts_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    # batches of 2; one failure per batch; cap 2 is reached in the second batch, not the first
    outcome = {"web1": "failed", "web4": "unreachable"}
    res, log = run(monkeypatch, 8, outcome, batches=[2, 2, 2, 2], max_fail=2)
    started = [n for k, n in log.events if k == "start"]
    assert started == ["web1", "web2", "web3", "web4"]
    assert all(("end", h) in log.events for h in started)  # running hosts finished
    assert res.results["web3"].status == "fixed"
    assert [res.results[f"web{i}"].status for i in range(5, 9)] == ["skipped"] * 4


def test_cap_within_one_batch_starts_nothing_new(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = {"web1": "failed"}
    res, log = run(monkeypatch, 5, outcome, forks=1, max_fail=1)
    assert [n for k, n in log.events if k == "start"] == ["web1"]
    assert res.stopped and "reached" in res.stopped


def test_max_fail_percentage_is_fleet_wide_and_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fail_limit_reached(1, 10, None, 10.0) is None  # 10% is not more than 10%
    assert fail_limit_reached(2, 10, None, 10.0) is not None
    outcome = {"web1": "failed", "web2": "failed"}
    res, _ = run(monkeypatch, 10, outcome, forks=1, max_fail_pct=10.0)
    assert res.stopped and "--max-fail-percentage 10" in res.stopped
    assert res.results["web3"].status == "skipped"


def test_failures_are_data(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = {"web2": "crash", "web3": "unreachable"}
    res, _ = run(monkeypatch, 4, outcome)
    assert res.results["web2"].status == "failed"
    assert "RuntimeError" in (res.results["web2"].error or "")
    assert res.results["web3"].status == "unreachable"
    assert res.results["web4"].status == "fixed"
    assert list(res.results) == ["web1", "web2", "web3", "web4"]  # inventory order, not finish order
    assert res.stopped is None


def test_operator_stop_starts_nothing_new(monkeypatch: pytest.MonkeyPatch) -> None:
    log = Log({})
    monkeypatch.setattr(fleet, "HostRun", fake_hostrun(log))
    seen: list[str] = []

    class StopAfterFirst(NullProcessor):
        def host_done(self, result: HostResult) -> None:
            seen.append(result.name)
            opts.stop.set()

    opts = RunOptions(processor=StopAfterFirst())
    pb = Playbook(name="t", path=Path("t.yml"), steps=[], vars={})
    res = run_fleet(hosts(4), pb, opts, "r", forks=1)
    assert seen == ["web1"]
    assert res.stopped == fleet.INTERRUPTED
    assert res.results["web2"].status == "skipped"


def test_plain_progress_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    log = Log({"web2": "failed"})
    monkeypatch.setattr(fleet, "HostRun", fake_hostrun(log))
    progress = FleetProgress(Console(buf, rich_ok=False), 2)
    opts = RunOptions(processor=progress)
    pb = Playbook(name="t", path=Path("t.yml"), steps=[], vars={})
    with progress:
        run_fleet(hosts(2), pb, opts, "r")
    out = buf.getvalue().splitlines()
    assert "[web1] diagnosis: fake" in out
    assert any(ln.startswith("[web2] failed") and ln.endswith("/2)") for ln in out)
    assert "\x1b" not in buf.getvalue()  # no terminal codes in CI logs


def test_live_progress_shows_running_hosts() -> None:
    buf = io.StringIO()
    progress = FleetProgress(Console(buf, rich_ok=True), 3, live=True, refresh=50)
    with progress:
        progress.host_started("web1")
        progress.host_event("web1", "apply php-fpm-start: start php8.2-fpm")
        progress.host_started("web2")
        rendered = progress._render()
        progress.host_done(HostResult("web2", status=Status.FIXED))
    from rich.console import Console as RichConsole

    rc = RichConsole(file=io.StringIO(), width=120)
    with rc.capture() as cap:
        rc.print(rendered)
    text = cap.get()
    assert "web1" in text and "apply php-fpm-start" in text and "connecting" in text
    assert "1/3" in text  # the bar is drawn lazily, after web2 finished
    assert "[web2] fixed" in buf.getvalue()
    assert progress.running.keys() == {"web1"}
