"""The classifier: from one host's typed facts to ranked causes, each with the lines that prove it.

The classifier is pure: it reads :class:`HostFacts` and never touches a host.  Only
``facts.logs`` count as log evidence (the parser has already cut them to the recent window), so
an old incident that was fixed long ago cannot be diagnosed again.

The pieces, one concern each: ``signals`` (log line → :class:`Signal`), ``reading`` (what every
rule reads, derived once), ``rules`` (one detector per cause, its docstring the rule),
``ranking`` (gating against the probe and the outcomes edge-origin / not-502 / healthy /
unknown), ``checks`` (the table), ``doc`` (the README's rule list, rendered from the rules:
``python -m remediations.diagnosis.doc``).
The rules themselves are listed in the README ("What it diagnoses") and in ``RULES``.
"""

from __future__ import annotations

from remediations.causes import Diagnosis
from remediations.diagnosis import rules as _rules  # noqa: F401  (registers the detectors)
from remediations.diagnosis.checks import build_checks
from remediations.diagnosis.ranking import rank
from remediations.diagnosis.reading import Reading, looks_like_wordpress, web_user_can_connect
from remediations.diagnosis.registry import RULES
from remediations.diagnosis.rules import detect
from remediations.diagnosis.signals import Signal, read_signal
from remediations.facts.model import HostFacts
from remediations.memory import HEADROOM, memory_budget


def classify(facts: HostFacts) -> Diagnosis:
    """Rank the causes of a 502 on this host; ``["healthy"]`` alone when all is well."""
    r = Reading(facts)
    diagnosis = Diagnosis(causes=rank(r, detect(r)), memory=memory_budget(facts))
    diagnosis.checks = build_checks(r, diagnosis)
    return diagnosis


__all__ = [
    "HEADROOM",
    "RULES",
    "Reading",
    "Signal",
    "build_checks",
    "classify",
    "looks_like_wordpress",
    "memory_budget",
    "read_signal",
    "web_user_can_connect",
]
