"""The protocol every fix goes through: plan → confirm → apply → verify → roll back.

This is where the rules live that a fix must not re-implement:

- a plan that refuses (``Plan.refuse``) escalates: the run stops trying fixes on that host;
- a plan with nothing to do (``Plan.noop``) is recorded with its reason and changes nothing;
- each applied plan is followed by its probe; a stepwise fix (plugin bisection) gets each probe
  result back and decides the next step;
- "verified" means the fix's probe passed, or the site still answers a 5xx for another reason
  while the causes this fix addresses are gone and nothing new appeared;
- anything else — a failed probe, a failed config test, any error at all after a change was
  applied, even a bug — rolls this fix back through the journal (unless the step says
  ``rollback: never``), so no half-applied change is left behind.

The driver talks to the host only through a :class:`Session` (the engine implements it), which
keeps this module pure enough to test with scripted probe results.
"""

from __future__ import annotations

from typing import Protocol

from remediations.errors import Fix502Error, TransportError
from remediations.facts.trust import vetted
from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult, Steps
from remediations.plan import Plan
from remediations.playbook import VerifySpec
from remediations.results import FixResult


class Session(Protocol):
    """What the driver needs from the host a fix runs on."""

    def say(self, message: str) -> None: ...

    def confirm(self, plan: Plan) -> bool: ...

    def begin_change(self) -> None:
        """Called once before the first op: the journal exists, the evidence window starts now."""

    def apply(self, plan: Plan, fix_id: str) -> None:
        """Journal and apply every op; a failed ConfigTest reverts the fix's edits and raises."""

    def probe(self, probe: Probe, spec: VerifySpec) -> ProbeResult: ...

    def causes_gone(self, fix: Fix) -> bool:
        """Re-diagnose: are the causes ``fix`` addresses gone, with nothing new in their place?"""

    def settle(self) -> None:
        """A verified change: evidence from before it is history from now on."""

    def undo(self, fix_id: str) -> None: ...


def plan_only(fix: Fix, ctx: FixContext, *, after_others: bool) -> FixResult:
    """Dry run: the first plan, exactly as it would be applied, and nothing else."""
    plan = vetted(next(fix.steps(ctx)), ctx.facts)
    result = FixResult(fix.id, diff=plan.diffs(), plan=plan.render())
    notes = []
    if plan.empty:
        notes.append(plan.escalate or plan.summary)
    if after_others:
        notes.append("may change: depends on the outcome of the fixes planned before it")
    if plan.may_change:
        notes.append("later steps depend on probe results")
    result.note = "; ".join(notes)
    result.escalated = plan.escalate is not None
    return result


class Driver:
    def __init__(self, session: Session) -> None:
        self.session = session

    def run(self, fix: Fix, ctx: FixContext, verify: VerifySpec, rollback: str) -> FixResult:
        result = FixResult(fix.id)
        steps = fix.steps(ctx)
        plan = vetted(next(steps), ctx.facts)  # never run a binary the host named unless proven root's
        result.plan = plan.render()
        if plan.escalate is not None:
            result.escalated, result.note = True, plan.escalate
            self.session.say(f"{fix.id}: escalate: {plan.escalate}")
            return result
        if plan.empty:
            result.note = plan.summary
            return result
        if not self.session.confirm(plan):
            result.note = "declined by the operator"
            return result
        self.session.begin_change()
        diffs: list[str] = []
        try:
            probe = self._apply_all(fix, ctx, steps, plan, verify, result, diffs)
            if probe.ok or self._still_failing_for_another_reason(fix, probe):
                self.session.settle()
                result.verified = True
                self.session.say(f"{fix.id}: verified ({probe.detail})")
                return result
            result.error = result.error or f"verification failed: {probe.detail}"
        except TransportError as exc:
            result.error = exc.one_line()
            raise  # the connection is gone: the journal on the host lets `fix502 rollback` finish
        except Fix502Error as exc:
            result.error = exc.one_line()
        except Exception as exc:  # a bug must not leave a change applied: roll back, report it
            result.error = f"internal error while applying: {exc!r}"
        finally:
            result.diff = "".join(diffs)
        if rollback == "auto":
            self.session.say(f"{fix.id}: rolling back ({result.error})")
            self.session.undo(fix.id)
            result.rolled_back = True
        return result

    def _apply_all(
        self,
        fix: Fix,
        ctx: FixContext,
        steps: Steps,
        plan: Plan,
        verify: VerifySpec,
        result: FixResult,
        diffs: list[str],
    ) -> ProbeResult:
        """Apply the plan and probe; a stepwise fix gets each probe back and plans the next."""
        while True:
            self.session.say(f"apply {fix.id}: {plan.summary}")
            result.changed = True
            diffs.append(plan.diffs())
            self.session.apply(plan, fix.id)
            probe = self._probe(fix.verify(ctx), verify, result)
            try:
                plan = vetted(steps.send(probe), ctx.facts)
            except StopIteration as stop:
                if stop.value:
                    result.note = str(stop.value)
                return probe
            if plan.escalate is not None:
                result.note = plan.escalate
                return ProbeResult(False, probe.status, plan.escalate)

    def _probe(self, probe: Probe, verify: VerifySpec, result: FixResult) -> ProbeResult:
        outcome = self.session.probe(probe, verify)
        result.probes += outcome.attempts
        return outcome

    def _still_failing_for_another_reason(self, fix: Fix, probe: ProbeResult) -> bool:
        """Still a 5xx: the site may fail for a second cause; this fix stands if its own causes
        are gone.  Any other failed probe (wrong page, no WordPress content) is a failure."""
        return probe.status is not None and probe.status >= 500 and self.session.causes_gone(fix)
