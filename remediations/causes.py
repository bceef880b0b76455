"""Cause ids and the evidence that proves them (the classifier's output type)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class CauseId(StrEnum):
    """Every cause the classifier can name, in tie-break order (earlier wins at equal score).

    A ``StrEnum`` so that fixes, playbooks (``"fpm-down" in causes``) and JSON reports keep using
    the plain strings: ``CauseId.FPM_DOWN == "fpm-down"``."""

    FPM_DOWN = "fpm-down"
    FPM_CONFIG_ERROR = "fpm-config-error"
    SOCKET_MISMATCH = "socket-mismatch"
    SOCKET_PERMISSION = "socket-permission"
    WORKER_CRASH = "worker-crash"
    HEADER_TOO_BIG = "header-too-big"
    WORKER_TIMEOUT = "worker-timeout"
    POOL_EXHAUSTED = "pool-exhausted"
    READ_TIMEOUT = "read-timeout"
    APACHE_HANDLER_CONFLICT = "apache-handler-conflict"
    UPSTREAM_UNREACHABLE = "upstream-unreachable"
    EDGE_ORIGIN = "edge-origin"
    NOT_502 = "not-502"
    HEALTHY = "healthy"
    UNKNOWN = "unknown"


#: The ids as plain strings (the fix registry validates each fix's ``causes`` against this).
CAUSE_IDS: tuple[str, ...] = tuple(c.value for c in CauseId)


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
