"""What a run produces, as data: a status per host, a result per fix, and the events on the way.

Modelled on nornir's results: a host's failure is a value (``HostResult(status=FAILED, error=...)``),
never an exception that stops other hosts, and each fix leaves a :class:`FixResult` saying whether it
changed something, the diff, whether it failed and why.  The statuses are one enum so the CLI, the
fleet runner, the report and the exit code agree on the same seven words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from remediations.causes import Diagnosis
    from remediations.facts.model import HostFacts


class Status(StrEnum):
    HEALTHY = "healthy"  # nothing was wrong
    FIXED = "fixed"  # something was wrong, a change brought the site back and stays applied
    PLANNED = "planned"  # dry run: the plan is in the report, nothing changed
    FAILED = "failed"  # the run could not finish on this host (a command failed, the lock is held)
    ESCALATED = "escalated"  # nothing brought the site back: every change undone, a bundle written
    UNREACHABLE = "unreachable"  # no SSH session could be had (refused, auth, host key)
    SKIPPED = "skipped"  # never started: the fleet's failure budget or an interrupt stopped it

    @property
    def counts_as_failure(self) -> bool:
        """What the fleet-wide failure budget (--max-fail) counts."""
        return self in (Status.FAILED, Status.ESCALATED, Status.UNREACHABLE)


@dataclass
class FixResult:
    """One fix on one host (nornir's ``Result``: changed, diff, failed, exception)."""

    id: str
    changed: bool = False
    verified: bool = False
    rolled_back: bool = False
    escalated: bool = False
    diff: str = ""
    plan: str = ""
    probes: int = 0
    note: str = ""
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def stays_applied(self) -> bool:
        return self.changed and not self.rolled_back

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "changed": self.changed,
            "verified": self.verified,
            "rolled_back": self.rolled_back,
            "escalated": self.escalated,
            "diff": self.diff,
            "plan": self.plan,
            "probes": self.probes,
            "note": self.note,
            "error": self.error,
        }


@dataclass
class HostResult:
    name: str
    status: Status = Status.FAILED
    causes: list[str] = field(default_factory=list)
    evidence: list[dict[str, str]] = field(default_factory=list)
    actions: list[FixResult] = field(default_factory=list)
    error: str | None = None
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    connections: int = 0
    round_trips: int = 0
    seconds: float = 0.0
    bundle: str | None = None
    facts: HostFacts | None = None
    diagnosis: Diagnosis | None = None
    sites: dict[str, HostResult] = field(default_factory=dict)  # url -> that site's result (``sites`` var)
    capability: dict[str, Any] | None = None  # what the login may do (remediations.capability)
    needs_root: list[str] = field(default_factory=list)  # fixes that applied but need root: not run

    def as_json(self) -> dict[str, Any]:
        extra = {"sites": {url: r.as_json() for url, r in self.sites.items()}} if self.sites else {}
        return extra | {
            "status": str(self.status),
            "causes": self.causes,
            "evidence": self.evidence,
            "actions": [a.as_json() for a in self.actions],
            "error": self.error,
            "checks": [list(c) for c in self.checks],
            "memory": self.memory,
            "ssh_connections": self.connections,
            "round_trips": self.round_trips,
            "seconds": round(self.seconds, 3),
            "bundle": self.bundle,
            "access": self.capability,
            "needs_root": self.needs_root,
        }


# Which site's status stands for the host when it serves several: the worst one.
_SEVERITY = [
    Status.UNREACHABLE,
    Status.FAILED,
    Status.ESCALATED,
    Status.SKIPPED,
    Status.PLANNED,
    Status.FIXED,
    Status.HEALTHY,
]


def merge_sites(name: str, sites: dict[str, HostResult]) -> HostResult:
    """One host's result from its sites' results: the worst status, every cause, action and
    bundle; the per-site results stay under ``sites`` so the report says which site was which."""
    results = list(sites.values())
    whole = HostResult(name, status=min((r.status for r in results), key=_SEVERITY.index), sites=sites)
    for r in results:
        whole.causes += [c for c in r.causes if c not in whole.causes]
        whole.evidence += r.evidence
        whole.actions += r.actions
        whole.needs_root += [f for f in r.needs_root if f not in whole.needs_root]
    if len(whole.causes) > 1 and "healthy" in whole.causes:  # one site healthy, another not
        whole.causes.remove("healthy")
    whole.error = "; ".join(f"{url}: {r.error}" for url, r in sites.items() if r.error) or None
    whole.bundle = ", ".join(r.bundle for r in results if r.bundle) or None
    last = results[-1]
    whole.checks, whole.memory, whole.facts, whole.diagnosis = last.checks, last.memory, last.facts, last.diagnosis
    return whole


class Processor(Protocol):
    """Receives a run's events (nornir's processors): progress displays, logs, notifiers."""

    def host_started(self, host: str) -> None: ...

    def host_event(self, host: str, message: str) -> None: ...

    def host_done(self, result: HostResult) -> None: ...


class NullProcessor:
    def host_started(self, host: str) -> None:
        return None

    def host_event(self, host: str, message: str) -> None:
        return None

    def host_done(self, result: HostResult) -> None:
        return None
