"""The fix protocol (remediations/fixes/driver.py) with a scripted session: what "verified" means,
that a refusal escalates, and that any failure after a change — a failed probe, an error, a bug —
rolls the fix back."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from remediations.errors import CommandFailed
from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult, Steps, register
from remediations.fixes.driver import Driver
from remediations.plan import Plan, Rename
from remediations.playbook import VerifySpec

OP = Rename("/a", "/b", "test")


@dataclass
class FakeSession:
    probes: list[ProbeResult] = field(default_factory=list)
    gone: bool = False
    accept: bool = True
    fail_apply: Exception | None = None
    log: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        self.log.append(f"say {message}")

    def confirm(self, plan: Plan) -> bool:
        return self.accept

    def begin_change(self) -> None:
        self.log.append("begin")

    def apply(self, plan: Plan, fix_id: str) -> None:
        self.log.append(f"apply {len(plan.ops)}")
        if self.fail_apply is not None:
            raise self.fail_apply

    def probe(self, probe: Probe, spec: VerifySpec) -> ProbeResult:
        return self.probes.pop(0)

    def causes_gone(self, fix: Fix) -> bool:
        return self.gone

    def settle(self) -> None:
        self.log.append("settle")

    def undo(self, fix_id: str) -> None:
        self.log.append(f"undo {fix_id}")


class OneShot(Fix):
    id = "one-shot"
    title = "test"
    causes = frozenset({"worker-crash"})

    def __init__(self, plan: Plan | None = None) -> None:
        self._plan = plan or Plan(self.id, "do it", [OP])

    def plan(self, ctx: FixContext) -> Plan:
        return self._plan


CTX = FixContext("h", None, None)  # type: ignore[arg-type]  # these fixes read nothing


def run(fix: Fix, session: FakeSession, rollback: str = "auto"):  # type: ignore[no-untyped-def]
    return Driver(session).run(fix, CTX, VerifySpec(), rollback)


def test_a_passing_probe_verifies_and_keeps_the_change() -> None:
    s = FakeSession([ProbeResult(True, 200, "HTTP 200")])
    r = run(OneShot(), s)
    assert (r.changed, r.verified, r.rolled_back, r.error) == (True, True, False, None)
    assert s.log[-2:] == ["settle", "say one-shot: verified (HTTP 200)"]


def test_a_failing_probe_rolls_back() -> None:
    s = FakeSession([ProbeResult(False, 200, "HTTP 200 without WordPress")])
    r = run(OneShot(), s)
    assert r.rolled_back and not r.verified and "without WordPress" in (r.error or "")
    assert "undo one-shot" in s.log


def test_rollback_never_leaves_it_applied() -> None:
    s = FakeSession([ProbeResult(False, 502)])
    r = run(OneShot(), s, rollback="never")
    assert not r.rolled_back and r.changed and "undo one-shot" not in s.log


def test_still_5xx_but_own_causes_gone_counts_as_verified() -> None:
    s = FakeSession([ProbeResult(False, 502)], gone=True)
    assert run(OneShot(), s).verified
    s = FakeSession([ProbeResult(False, 200)], gone=True)  # a wrong page is not "another cause"
    assert run(OneShot(), s).rolled_back


@pytest.mark.parametrize("error", [CommandFailed("nginx -t failed"), OverflowError("cannot convert float infinity")])
def test_any_error_after_apply_rolls_back(error: Exception) -> None:
    s = FakeSession(fail_apply=error)
    r = run(OneShot(), s)
    assert r.rolled_back and r.changed and "undo one-shot" in s.log
    assert ("internal error" in (r.error or "")) is isinstance(error, OverflowError)


def test_noop_and_refusal_change_nothing_and_say_why() -> None:
    s = FakeSession()
    r = run(OneShot(Plan.noop("one-shot", "already fine")), s)
    assert (r.changed, r.escalated, r.note) == (False, False, "already fine") and "begin" not in s.log
    r = run(OneShot(Plan.refuse("one-shot", "no", "a person must choose")), s)
    assert (r.changed, r.escalated, r.note) == (False, True, "a person must choose") and "begin" not in s.log


def test_declined_changes_nothing() -> None:
    s = FakeSession(accept=False)
    r = run(OneShot(), s)
    assert not r.changed and r.note == "declined by the operator" and "begin" not in s.log


class Ladder(Fix):
    id = "ladder"
    title = "test"
    causes = frozenset({"worker-crash"})

    def steps(self, ctx: FixContext) -> Steps:
        for n in range(3):
            result = yield Plan(self.id, f"step {n}", [OP])
            if result.ok:
                return f"stopped at {n}"
        return "gave up"


def test_a_stepwise_fix_gets_each_probe_and_stops_when_one_passes() -> None:
    s = FakeSession([ProbeResult(False, 502), ProbeResult(True, 200)])
    r = run(Ladder(), s)
    assert r.verified and r.note == "stopped at 1" and s.log.count("apply 1") == 2


def test_register_refuses_a_fix_that_could_never_run() -> None:
    class Typo(Fix):
        id = "typo-fix"
        title = "t"
        causes = frozenset({"worker-crahs"})

        def plan(self, ctx: FixContext) -> Plan:
            return Plan.noop(self.id, "x")

    with pytest.raises(TypeError, match="worker-crahs"):
        register(Typo)
