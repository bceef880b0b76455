"""Cause ids and the evidence that proves them (the classifier's output type)."""

from __future__ import annotations

from dataclasses import dataclass, field

CAUSE_IDS: tuple[str, ...] = (
    "fpm-down",
    "fpm-config-error",
    "socket-mismatch",
    "socket-permission",
    "worker-crash",
    "header-too-big",
    "worker-timeout",
    "pool-exhausted",
    "read-timeout",
    "apache-handler-conflict",
    "upstream-unreachable",
    "edge-origin",
    "not-502",
    "healthy",
    "unknown",
)


@dataclass(frozen=True)
class Evidence:
    source: str  # log file path, "nginx -T", "ss", "probe", "dmesg", ...
    line: str  # the exact line (or value) that proves the cause


@dataclass
class Cause:
    id: str
    evidence: list[Evidence] = field(default_factory=list)
    summary: str = ""  # one human sentence: what is wrong and what to do
    score: int = 0  # higher = more likely / acted on first


@dataclass
class Diagnosis:
    causes: list[Cause]  # ranked, best first; ["healthy"] alone when all is well
    checks: list[tuple[str, str, str]] = field(default_factory=list)  # (check, status, message) table
    memory: dict[str, object] = field(default_factory=dict)  # max_children × peak RSS × 1.25 vs RAM

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.causes]

    def has(self, cause_id: str) -> bool:
        return cause_id in self.ids

    @property
    def healthy(self) -> bool:
        return self.ids == ["healthy"]
