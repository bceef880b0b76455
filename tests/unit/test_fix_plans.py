"""Every fix's plan, from facts that went through the real parser (pyinfra's operation tests).

Each case in ``tests/unit/fixes/<fix-id>/*.yaml`` names a real capture of a lab fault
(``tests/unit/fixtures/evidence/<capture>.txt``, recorded by ``python -m tests.lab.capture_evidence``),
optionally patches the captured text (to make a shape the lab does not build, such as two pools),
and states what the fix must plan: the ops, a no-op with its reason, or an escalation.  A stepwise
fix (plugin bisection, the buffer ladder) gets scripted probe results and must plan each step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from remediations.account import classify_account
from remediations.diagnosis import classify
from remediations.facts.account import parse_account
from remediations.facts.script import parse_evidence
from remediations.fixes import REGISTRY
from remediations.fixes.base import FixContext, ProbeResult
from remediations.plan import Plan
from tests.unit.evidence_text import FIXTURE_BOUNDARY
from tests.unit.fixtures.facts.reframe import reframe

CASES = Path(__file__).parent / "fixes"
EVIDENCE = Path(__file__).parent / "fixtures" / "evidence"
ACCOUNT = Path(__file__).parent / "fixtures" / "account"


def load_case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text())
    return data


def context(case: dict[str, Any]) -> FixContext:
    if case.get("account"):  # read as the site's account, without root (tests/lab/capture_account.py)
        facts = parse_account((ACCOUNT / f"{case['capture']}.txt").read_text(), FIXTURE_BOUNDARY, window_seconds=10**9)
        return FixContext("case", facts, classify_account(facts), dict(case.get("params", {})))
    text = (EVIDENCE / f"{case['capture']}.txt").read_text()
    for old, new in case.get("patch", []):
        # patches are written in the old ==fix502:KIND== framing: re-framed like the captures
        old, new = reframe(old, FIXTURE_BOUNDARY), reframe(new, FIXTURE_BOUNDARY)
        assert old in text, f"patch target not in the capture: {old!r}"
        text = text.replace(old, new)
    facts = parse_evidence(text, FIXTURE_BOUNDARY, window_seconds=10**9)  # a capture's lines are all "recent"
    return FixContext("case", facts, classify(facts), dict(case.get("params", {})))


def check_plan(plan: Plan, expect: dict[str, Any]) -> None:
    if "escalate" in expect:
        assert plan.escalate is not None and expect["escalate"] in plan.escalate, plan.render()
        return
    assert plan.escalate is None, plan.render()
    if "summary" in expect:
        assert expect["summary"] in plan.summary, plan.render()
    if "noop" in expect:
        assert plan.empty and expect["noop"] in plan.summary, plan.render()
        return
    assert [op.describe() for op in plan.ops] == expect["ops"], plan.render()
    for text in expect.get("diff_contains", []):
        assert text in plan.diffs(), plan.diffs()
    for text in expect.get("notes_contain", []):
        assert any(text in n for n in plan.notes), plan.notes


def run_steps(case: dict[str, Any], ctx: FixContext) -> None:
    """Drive a stepwise fix with scripted probe results, as the driver would."""
    fix = REGISTRY[case["fix"]]()
    steps = fix.steps(ctx)
    plan = next(steps)
    probes = list(case["probes"])
    for i, expect in enumerate(case["expect"]["steps"]):
        check_plan(plan, expect)
        if plan.escalate is not None:  # the driver stops here: nothing more is sent
            assert i == len(case["expect"]["steps"]) - 1, f"the fix escalated at step {i + 1}"
            return
        try:
            plan = steps.send(ProbeResult(ok=probes[i], status=200 if probes[i] else 502))
        except StopIteration as stop:
            assert i == len(case["expect"]["steps"]) - 1, f"the fix stopped after step {i + 1}"
            assert case["expect"]["result"] in str(stop.value)
            return
    raise AssertionError("the fix planned more steps than the case expects")


ALL = sorted(CASES.glob("*/*.yaml"))


@pytest.mark.parametrize("path", ALL, ids=[f"{p.parent.name}/{p.stem}" for p in ALL])
def test_fix_plan(path: Path) -> None:
    case = load_case(path)
    case.setdefault("fix", path.parent.name)
    ctx = context(case)
    fix = REGISTRY[case["fix"]]()
    assert fix.guard(ctx) is case["expect"].get("applies", True), ctx.diagnosis.ids
    if not case["expect"].get("applies", True):
        return
    if "probes" in case:
        run_steps(case, ctx)
    else:
        check_plan(fix.plan(ctx), case["expect"])


def test_every_registered_fix_has_plan_cases() -> None:
    covered = {p.parent.name for p in ALL}
    assert set(REGISTRY) <= covered, sorted(set(REGISTRY) - covered)
