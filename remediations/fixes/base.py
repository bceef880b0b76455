"""The contract of a fix: guard, plan, verify, rollback.

A newcomer adds a fix by writing one file in this package with a subclass of :class:`Fix` and
registering it with ``@register``. A fix never runs anything: it reads facts and returns plans;
the runner applies them, journals them, probes, and rolls back.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from remediations.causes import Diagnosis
from remediations.facts.model import HostFacts
from remediations.plan import Plan


@dataclass(frozen=True)
class Probe:
    """An HTTP check of the site, run on the host with ``curl --resolve`` (bypasses any edge)."""

    path: str = "/"
    expect_status: int | None = 200  # None: any HTTP answer will do (FPM is up, the site may still fail)
    expect_body: str | None = 'content="WordPress'  # the generator meta tag: real WordPress rendered
    concurrency: int = 1  # >1: fire that many requests at once, all must pass (pool sizing)
    attempts: int | None = None  # None: the playbook's verify retries; bisection probes use 1


@dataclass
class ProbeResult:
    ok: bool
    status: int | None
    detail: str = ""


@dataclass
class FixContext:
    host: str
    facts: HostFacts
    diagnosis: Diagnosis
    params: dict[str, Any] = field(default_factory=dict)  # the playbook step's `with:`
    vars: dict[str, Any] = field(default_factory=dict)  # inventory vars of the host


# What a stepwise fix yields: a plan to apply (and probe afterwards).  The runner sends back the
# probe result of that plan.  The generator's return value is the final plan summary (or None).
Steps = Generator[Plan, ProbeResult, str | None]


class Fix:
    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    causes: ClassVar[frozenset[str]] = frozenset()  # the default guard: any of these present
    params: ClassVar[dict[str, type]] = {}  # allowed `with:` keys and their types

    def guard(self, ctx: FixContext) -> bool:
        return any(ctx.diagnosis.has(c) for c in self.causes)

    def plan(self, ctx: FixContext) -> Plan:
        raise NotImplementedError

    def steps(self, ctx: FixContext) -> Steps:
        """Most fixes are one plan; search-style fixes (plugin bisection) override this."""
        yield self.plan(ctx)
        return None

    def verify(self, ctx: FixContext) -> Probe:
        return Probe(path=str(ctx.params.get("probe_path", "/")))

    def rollback(self, ctx: FixContext) -> str:
        """How this fix is undone.  The default is the journal: every file restored from its
        backup, every rename reversed, every command undone, services restarted back."""
        return "journal"


REGISTRY: dict[str, type[Fix]] = {}


def register(cls: type[Fix]) -> type[Fix]:
    if not cls.id or cls.id in REGISTRY:
        raise ValueError(f"fix id missing or duplicated: {cls.id!r}")
    REGISTRY[cls.id] = cls
    return cls
