"""Small readings of the facts that several fixes share (which pool listens where)."""

from __future__ import annotations

from dataclasses import dataclass

from remediations.edit import EditError, Endpoint, endpoint_from_listen
from remediations.facts.model import FpmPool, FpmService, HostFacts


@dataclass(frozen=True)
class PoolEndpoint:
    service: FpmService
    pool: FpmPool
    endpoint: Endpoint


def pool_endpoints(facts: HostFacts, *, running_only: bool = False) -> list[PoolEndpoint]:
    found = []
    for svc in facts.fpm:
        if running_only and svc.state != "running":
            continue
        for pool in svc.pools:
            if not pool.listen:
                continue
            try:
                found.append(PoolEndpoint(svc, pool, endpoint_from_listen(pool.listen)))
            except EditError:
                continue
    return found


def is_listening(facts: HostFacts, endpoint: Endpoint) -> bool:
    if endpoint.kind == "unix":
        return any(s.path == endpoint.address and s.is_socket for s in facts.sockets) and any(
            svc.state == "running" for svc in facts.fpm
        )
    host, _, port = endpoint.address.rpartition(":")
    return any(
        t.port == int(port) and t.address.strip("[]") in (host.strip("[]"), "0.0.0.0", "*", "::") for t in facts.tcp
    )


def live_endpoints(facts: HostFacts) -> list[PoolEndpoint]:
    """Pools that are actually accepting connections now: what the web server should point at."""
    return [p for p in pool_endpoints(facts, running_only=True) if is_listening(facts, p.endpoint)]


def newest(services: list[FpmService]) -> FpmService | None:
    def key(s: FpmService) -> tuple[int, ...]:
        return tuple(int(x) for x in s.version.split(".") if x.isdigit())

    return max(services, key=key) if services else None


def web_group(facts: HostFacts) -> str:
    return facts.web.user or "www-data"
