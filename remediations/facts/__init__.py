"""Facts about a host: one ssh command (``evidence.sh``) in, one :class:`HostFacts` out."""

from remediations.facts.model import HostFacts
from remediations.facts.script import evidence_command, evidence_script, parse_evidence

__all__ = ["HostFacts", "evidence_command", "evidence_script", "parse_evidence"]
