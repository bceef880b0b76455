"""The engine's remote steps against a scripted transport: the probe's retries and the host lock."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field

import pytest

from remediations.errors import LockHeld
from remediations.fixes.base import Probe
from remediations.inventory import Host
from remediations.playbook import Playbook, VerifySpec
from remediations.remote import take_lock
from remediations.runner import HostRun, RunOptions
from remediations.transport import CmdResult

HOST = Host("web1", "127.0.0.11", vars={"site_url": "http://127.0.0.11/"})


@dataclass
class Scripted:
    """Answers each command with the next scripted stdout; records what it was asked."""

    answers: list[str]
    host: Host = HOST
    asked: list[str] = field(default_factory=list)
    connections_opened: int = 1
    round_trips: int = 0

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        self.asked.append(command)
        return CmdResult(0, self.answers.pop(0) if self.answers else "", "")

    def close(self) -> None:
        return None


def test_a_probe_that_keeps_failing_returns_its_last_answer_after_every_retry() -> None:
    run = HostRun(HOST, Playbook("t", path=__import__("pathlib").Path("t.yml"), steps=[]), RunOptions(), "r")
    run.t = Scripted(["502 no\n", "502 no\n", "502 no\n"])
    result = run.probe(Probe(), VerifySpec(retries=2, delay=0.0, backoff=1.0, max_delay=0.0))
    assert (result.ok, result.status, result.attempts) == (False, 502, 3)


def test_a_probe_that_passes_stops_retrying() -> None:
    run = HostRun(HOST, Playbook("t", path=__import__("pathlib").Path("t.yml"), steps=[]), RunOptions(), "r")
    run.t = Scripted(["502 no\n", "200 yes\n", "200 yes\n"])
    result = run.probe(Probe(), VerifySpec(retries=5, delay=0.0, backoff=1.0, max_delay=0.0))
    assert (result.ok, result.attempts) == (True, 2)


def held(controller: str, pid: int) -> str:
    return "held\n" + json.dumps({"run_id": "old", "controller": controller, "pid": pid}) + "\nage=5\n"


def test_a_lock_left_by_a_dead_process_of_this_controller_is_taken_over() -> None:
    dead = 2**22 + 12345  # above pid_max on Linux: certainly not alive
    t = Scripted([held(socket.gethostname(), dead), "taken\n"])
    take_lock(t, "new", break_lock=False)  # type: ignore[arg-type]
    assert "rm -rf" in t.asked[1] and "rm -rf" not in t.asked[0]


@pytest.mark.parametrize("holder", [("elsewhere", 999999), ("here", os.getpid())])
def test_a_lock_held_elsewhere_or_alive_is_refused(holder: tuple[str, int]) -> None:
    controller = socket.gethostname() if holder[0] == "here" else holder[0]
    t = Scripted([held(controller, holder[1])])
    with pytest.raises(LockHeld, match="locked by run old"):
        take_lock(t, "new", break_lock=False)  # type: ignore[arg-type]


def test_a_lock_that_cannot_be_created_says_why() -> None:
    t = Scripted(["cannot mkdir: cannot create directory '/run/fix502.lock': Read-only file system\n"])
    with pytest.raises(LockHeld, match=r"cannot take the host lock /run/fix502\.lock: mkdir: cannot create") as info:
        take_lock(t, "new", break_lock=False)  # type: ignore[arg-type]
    assert "?" not in info.value.one_line()
