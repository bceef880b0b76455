"""A HostResult over the wire, in the JSON report's own shape (``HostResult.as_json``), so the
fleet-wide report the controller writes is the same document the in-process executor writes.

The worker redacts before sending: it alone has the host's facts, whose secret values (database
passwords in a pool's env, say) the redactor learns from.  The controller's report step redacts
again by shape.  Facts and the diagnosis object stay on the worker; the report never held them.
"""

from __future__ import annotations

import json
from typing import Any

from remediations.redact import KNOWN, Redactor
from remediations.results import FixResult, HostResult, Status

_FIX_FIELDS = ("id", "changed", "verified", "rolled_back", "escalated", "diff", "plan", "probes", "note", "error")


def encode(result: HostResult) -> str:
    data = {"name": result.name, **result.as_json()}
    return json.dumps(KNOWN.merged(Redactor.from_facts(result.facts)).obj(data))


def decode(text: str, name: str | None = None) -> HostResult:
    data: dict[str, Any] = json.loads(text)
    return HostResult(
        name or str(data["name"]),
        status=Status(data["status"]),
        causes=[str(c) for c in data.get("causes", [])],
        evidence=[{str(k): str(v) for k, v in e.items()} for e in data.get("evidence", [])],
        actions=[FixResult(**{k: a[k] for k in _FIX_FIELDS if k in a}) for a in data.get("actions", [])],
        error=data.get("error"),
        checks=[(str(c[0]), str(c[1]), str(c[2])) for c in data.get("checks", [])],
        memory=dict(data.get("memory") or {}),
        connections=int(data.get("ssh_connections", 0)),
        round_trips=int(data.get("round_trips", 0)),
        seconds=float(data.get("seconds", 0.0)),
        bundle=data.get("bundle"),
        sites={
            str(url): decode(json.dumps({"name": name or data["name"], **r}))
            for url, r in data.get("sites", {}).items()
        },
    )


def skipped(name: str) -> str:
    """A host no worker started (the reason is the run's, filled in by the controller)."""
    return encode(HostResult(name, status=Status.SKIPPED))
