"""What the server does with an alert, decided before anything touches a host.

In order, for each alert of a webhook payload:

1. only ``status: firing`` acts (a resolved notification is audited and ignored);
2. dedupe on ``fingerprint`` + ``startsAt``: Alertmanager re-sends a firing group on every
   ``repeat_interval`` and every HA peer sends its own copy — one run per alert occurrence;
3. the host comes from ``labels.fix502_host``, else ``labels.host``, else ``labels.instance``
   without its port, matched to an inventory name or ``ansible_host``.  The first of those labels
   present decides; a value no inventory host has (or two hosts share) is refused and audited,
   never guessed, and never falls through to a weaker label;
4. one run per host: an alert for a host with a run queued, running or awaiting approval joins it;
5. the cooldown: no second remediation of a host within ``cooldown`` seconds of the last one;
   the repeat alert is recorded and answered with that run's result;
6. the blast-radius breaker: when more than ``max_hosts`` hosts alert within ``window`` seconds,
   the breaker opens and stays open until a person resets it; while open, runs only diagnose and
   escalate (the mode is forced to ``diagnose``).

The mode of a host is its ``fix502_mode`` variable (host or group vars, as Ansible merges them):
``diagnose``, ``approve`` or ``fix``.  Unset means ``approve``: an unattended server should not
change production because a label matched, until a person said so for that host or group.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from remediations.errors import InputError
from remediations.inventory import Host, Inventory
from remediations.serve.store import ACTIVE, AWAITING, Store

MODES = ("diagnose", "approve", "fix")
DEFAULT_MODE = "approve"
HOST_LABELS = ("fix502_host", "host", "instance")


class QueueFull(Exception):
    """The queue is at --max-queue: the webhook answers 429 and Alertmanager retries the payload
    (the alerts of it already queued are then duplicates)."""


@dataclass(frozen=True)
class Settings:
    cooldown: float = 900.0
    max_hosts: int = 5
    window: float = 600.0
    plan_ttl: float = 3600.0
    max_queue: int = 100


@dataclass
class Decision:
    """One alert's fate, as the webhook answer and the audit log say it."""

    decision: str  # queued, duplicate, refused, cooldown, in-progress, resolved
    host: str | None = None
    run_id: str | None = None
    mode: str | None = None
    outcome: str | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def check_payload(data: Any) -> list[dict[str, Any]]:
    """Alertmanager's webhook body, version 4; anything else is refused with one line."""
    if not isinstance(data, dict):
        raise InputError("payload: expected a JSON object")
    if str(data.get("version")) != "4":
        raise InputError(f"payload: version {data.get('version')!r} is not Alertmanager's webhook version 4")
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise InputError("payload: 'alerts' must be a list")
    for i, a in enumerate(alerts):
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
            raise InputError(f"payload: alerts[{i}] has no 'labels' object")
        if not isinstance(a.get("startsAt", ""), str) or not isinstance(a.get("status", ""), str):
            raise InputError(f"payload: alerts[{i}]: 'startsAt' and 'status' must be strings")
    return alerts


def dedupe_key(alert: dict[str, Any]) -> tuple[str, str]:
    """(key, fingerprint).  Alertmanager sends ``fingerprint``; without it the label set is one."""
    fp = alert.get("fingerprint")
    if not isinstance(fp, str) or not fp:
        fp = hashlib.sha256(json.dumps(alert["labels"], sort_keys=True).encode()).hexdigest()[:16]
    return f"{fp}|{alert.get('startsAt', '')}", fp


def strip_port(instance: str) -> str:
    """``web1:9100`` → ``web1``; ``[2001:db8::1]:9100`` → ``2001:db8::1``; a bare IPv6 stays."""
    if instance.startswith("["):
        return instance[1 : instance.index("]")] if "]" in instance else instance
    if instance.count(":") == 1:
        return instance.rsplit(":", 1)[0]
    return instance


def alert_host(labels: dict[str, Any], inv: Inventory) -> tuple[Host | None, str]:
    """The inventory host an alert names, or None and why not."""
    for label in HOST_LABELS:
        raw = labels.get(label)
        if raw is None or raw == "":
            continue
        value = strip_port(str(raw)) if label == "instance" else str(raw)
        if value in inv.hosts:
            return inv.hosts[value], f"labels.{label}={raw}"
        by_address = [h for h in inv.hosts.values() if h.address == value]
        if len(by_address) == 1:
            return by_address[0], f"labels.{label}={raw} (ansible_host)"
        if by_address:
            names = ", ".join(sorted(h.name for h in by_address))
            return None, f"labels.{label}={raw} matches several inventory hosts ({names})"
        return None, f"labels.{label}={raw} is not an inventory host or ansible_host"
    return None, "the alert has none of the labels " + ", ".join(HOST_LABELS)


def host_mode(host: Host) -> str:
    mode = host.vars.get("fix502_mode", DEFAULT_MODE)
    if mode not in MODES:
        raise InputError(f"fix502_mode {mode!r} is not one of {', '.join(MODES)}", where=host.name)
    return str(mode)


def check_modes(inv: Inventory) -> None:
    """At start-up, not at 3 a.m.: a misspelt mode is a bad inventory (exit 2)."""
    for h in inv.hosts.values():
        host_mode(h)


def decide(store: Store, inv: Inventory, s: Settings, alert: dict[str, Any]) -> tuple[Decision, bool]:
    """One alert → (decision, did this alert open the breaker).  Runs in one transaction, so the
    alert record and the run it queued are committed together or not at all."""
    if alert.get("status", "firing") != "firing":
        store.audit("alert-not-firing", status=alert.get("status"), labels=alert["labels"])
        return Decision("resolved", reason=f"status {alert.get('status')}: nothing to do"), False
    key, fp = dedupe_key(alert)
    with store.tx():
        seen = store.seen(key)
        if seen is not None:
            run = store.get(seen[1]) if seen[1] else None
            store.audit("alert-duplicate", run_id=seen[1], key=key)
            return Decision(
                "duplicate", run.host if run else None, seen[1], outcome=run.outcome if run else None
            ), False
        host, why = alert_host(alert["labels"], inv)
        starts = str(alert.get("startsAt", ""))
        if host is None:
            store.record_alert(key, fp, starts, None, "refused", None, alert)
            store.audit("alert-refused", reason=why, labels=alert["labels"])
            return Decision("refused", reason=why), False
        joined = _existing(store, s, host.name)
        if joined is not None:
            store.record_alert(key, fp, starts, host.name, joined.decision, joined.run_id, alert)
            store.audit(f"alert-{joined.decision}", host=host.name, run_id=joined.run_id)
            return joined, False
        return _queue(store, inv, s, host, alert, key, fp, why)


def _existing(store: Store, s: Settings, host: str) -> Decision | None:
    last = store.last_run(host)
    if last is None:
        return None
    if last.state in (*ACTIVE, AWAITING):
        return Decision("in-progress", host, last.run_id, last.mode, last.outcome, f"run {last.state}")
    since = last.finished or last.created
    if time.time() - since < s.cooldown:
        left = int(s.cooldown - (time.time() - since))
        return Decision("cooldown", host, last.run_id, last.mode, last.outcome, f"cooldown: {left}s left")
    return None


def _queue(
    store: Store, inv: Inventory, s: Settings, host: Host, alert: dict[str, Any], key: str, fp: str, why: str
) -> tuple[Decision, bool]:
    if store.queued_count() >= s.max_queue:  # checked in the transaction: concurrent posts cannot overfill
        raise QueueFull
    is_open, since, _ = store.breaker()
    # After a reset only the alerts from then on count: the burst a person just looked at must
    # not re-open the breaker on the next alert.
    counted_from = max(time.time() - s.window, 0 if is_open else since or 0)
    alerting = store.hosts_alerting_since(counted_from) | {host.name}
    tripped = False
    if len(alerting) > s.max_hosts:
        reason = f"{len(alerting)} hosts alerted within {int(s.window)}s (--max-hosts {s.max_hosts})"
        tripped = store.trip(reason)
        if tripped:
            store.audit("breaker-open", reason=reason, hosts=sorted(alerting))
    is_open = store.breaker()[0]
    mode = "diagnose" if is_open else host_mode(host)
    record = {**alert, "fix502": {"matched": why, "breaker_open": is_open, "configured_mode": host_mode(host)}}
    run_id = store.add_run(host.name, mode, record)
    store.record_alert(key, fp, str(alert.get("startsAt", "")), host.name, "queued", run_id, alert)
    store.audit("alert-queued", host=host.name, run_id=run_id, mode=mode, matched=why)
    note = "breaker open: diagnose and escalate only" if is_open else None
    return Decision("queued", host.name, run_id, mode, reason=note), tripped
