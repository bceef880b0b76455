"""The contract of a fix: when it applies, what it plans, how it is verified.

A fix is one file in this package with one :class:`Fix` subclass under ``@register``; the file is
the whole story of the fix.  A fix never runs anything: it reads facts and returns plans (data).
:mod:`remediations.fixes.driver` owns the protocol around it — confirm, apply through the journal,
config-test, verify, roll back — so every fix gets the same guarantees and none re-implements them.
Undo is always the journal (every file restored from its backup, every rename reversed, every
command's inverse run, services put back), which is why a fix has no rollback method of its own.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from remediations.causes import CAUSE_IDS, Diagnosis
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
    # Request headers (sent from a root-only file, never on a command line) and a query string kept
    # when the playbook moves ``path``: plugin bisection's signed, cache-busting probes.
    headers: tuple[tuple[str, str], ...] = ()
    query: str = ""


@dataclass
class ProbeResult:
    ok: bool
    status: int | None
    detail: str = ""
    attempts: int = 1  # requests made until this answer (retries included)


@dataclass
class FixContext:
    host: str
    facts: HostFacts
    diagnosis: Diagnosis
    params: dict[str, Any] = field(default_factory=dict)  # the playbook step's `with:`
    vars: dict[str, Any] = field(default_factory=dict)  # inventory vars of the host


# What a stepwise fix yields: a plan to apply (and probe afterwards).  The driver sends back the
# probe result of that plan.  The generator's return value is the final note (or None).
Steps = Generator[Plan, ProbeResult, str | None]


class Fix:
    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    causes: ClassVar[frozenset[str]] = frozenset()  # the default guard: any of these present
    params: ClassVar[dict[str, type]] = {}  # allowed `with:` keys and their types

    def guard(self, ctx: FixContext) -> bool:
        """Whether this fix applies at all.  Always checked (a playbook's ``when:`` can only narrow
        it), so a playbook never has to repeat it."""
        return any(ctx.diagnosis.has(c) for c in self.causes)

    def plan(self, ctx: FixContext) -> Plan:
        raise NotImplementedError

    def steps(self, ctx: FixContext) -> Steps:
        """Most fixes are one plan; search-style fixes (plugin bisection) override this."""
        yield self.plan(ctx)
        return None

    def verify(self, ctx: FixContext) -> Probe:
        """The probe that proves this fix worked (the playbook's ``verify: {path}`` may move it)."""
        return Probe()


REGISTRY: dict[str, type[Fix]] = {}
_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _param_type_ok(tp: Any) -> bool:
    return isinstance(tp, type) or typing.get_origin(tp) is not None


def _problems(cls: type[Fix]) -> list[str]:
    problems = []
    if not _ID.fullmatch(cls.id or ""):
        problems.append(f"id {cls.id!r} is not a kebab-case name")
    elif cls.id in REGISTRY:
        problems.append(f"id {cls.id!r} is already registered by {REGISTRY[cls.id].__module__}")
    if not cls.title:
        problems.append("has no title")
    unknown = sorted(set(cls.causes) - set(CAUSE_IDS) | ({"healthy"} & set(cls.causes)))
    if not cls.causes or unknown:
        problems.append(f"causes must be known cause ids, got {sorted(cls.causes)} (unknown: {unknown})")
    for key, tp in cls.params.items():
        if not key.isidentifier() or not _param_type_ok(tp):
            problems.append(f"param {key!r}: {tp!r} is not a type")
    if cls.plan is Fix.plan and cls.steps is Fix.steps:
        problems.append("defines neither plan() nor steps()")
    return problems


def register(cls: type[Fix]) -> type[Fix]:
    """Add a fix to the catalogue, refusing one that could never run as written (a typo in a
    cause id would otherwise register a fix whose guard is never true)."""
    problems = _problems(cls)
    if problems:
        raise TypeError(f"fix {cls.__module__}.{cls.__name__}: " + "; ".join(problems))
    REGISTRY[cls.id] = cls
    return cls
