"""The server's Prometheus metrics, with prometheus_client (its own registry, so a test can build
two servers in one process and the exposition holds only fix502's series)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("fix502_alerts_received", "Alerts received on the webhook", registry=r)
        self.decisions = Counter(
            "fix502_alerts_decided",
            "Alerts by decision (queued, duplicate, cooldown, ...)",
            ["decision"],
            registry=r,
        )
        self.deduped = Counter(
            "fix502_alerts_deduped", "Alerts dropped as repeats (fingerprint + startsAt)", registry=r
        )
        self.refused = Counter(
            "fix502_alerts_refused", "Alerts refused (no inventory host, unauthorised, full)", ["reason"], registry=r
        )
        self.runs = Counter("fix502_runs", "Finished runs by outcome", ["outcome", "mode"], registry=r)
        self.duration = Histogram(
            "fix502_run_duration_seconds",
            "Run duration (worker start to outcome)",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.breaker = Gauge("fix502_breaker_open", "1 while the blast-radius breaker is open", registry=r)
        self.queue = Gauge("fix502_queue_depth", "Runs waiting for a worker", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "Metrics"]
