"""One function per cause, registered against its :class:`CauseId`; its docstring is the rule.

Two kinds: *detectors* read the facts and add evidence for their cause (run in registration
order, see ``rules.py``); *outcomes* are the answers the ranking gives when the detectors'
causes do not fit what the site answers (``ranking.py``).  The README's rule list is rendered
from these docstrings (``doc.py``), so a rule is written once, next to its code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from remediations.causes import CAUSE_IDS, Cause, CauseId, Evidence

if TYPE_CHECKING:
    from remediations.diagnosis.reading import Reading

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Findings:
    """Causes under construction: evidence accumulates, the highest score counts."""

    causes: dict[str, Cause] = field(default_factory=dict)

    def add(self, cause_id: CauseId, base: int, summary: str, evidence: list[Evidence]) -> Cause:
        c = self.causes.get(cause_id)
        if c is None:
            c = self.causes[cause_id.value] = Cause(cause_id.value, [], summary, base)
        c.score = max(c.score, base)
        for e in evidence:
            if e not in c.evidence:
                c.evidence.append(e)
        return c

    def has(self, cause_id: CauseId) -> bool:
        return cause_id in self.causes

    def ranked(self, ids: list[str] | None = None) -> list[Cause]:
        """Highest score first; at equal score the order of :class:`CauseId`."""
        chosen = self.causes if ids is None else ids
        return sorted((self.causes[i] for i in chosen), key=lambda c: (-c.score, CAUSE_IDS.index(c.id)))


Detector = Callable[["Reading", Findings], None]

#: Every documented rule, by cause (detectors and outcomes alike).
RULES: dict[CauseId, Callable[..., Any]] = {}
#: The detectors in the order they run.
DETECTORS: list[Detector] = []


def _register(cause: CauseId, func: Callable[..., Any]) -> None:
    if cause in RULES:
        raise ValueError(f"two rules for {cause.value}: {RULES[cause].__name__} and {func.__name__}")
    if not (func.__doc__ or "").strip():
        raise ValueError(f"rule {func.__name__} for {cause.value} has no docstring: the docstring is the rule")
    RULES[cause] = func


def detector(cause: CauseId) -> Callable[[Detector], Detector]:
    """Register a function that adds evidence for ``cause``."""

    def wrap(func: Detector) -> Detector:
        _register(cause, func)
        DETECTORS.append(func)
        return func

    return wrap


def outcome(cause: CauseId) -> Callable[[F], F]:
    """Register a function of the ranking that answers ``cause``."""

    def wrap(func: F) -> F:
        _register(cause, func)
        return func

    return wrap
