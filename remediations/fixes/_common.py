"""Readings of the facts that several fixes share: which pool listens where, and which live pool
corresponds to an endpoint nothing listens on any more."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from remediations.endpoint import Endpoint
from remediations.facts.model import Directive, FastcgiTarget, FpmPool, FpmService, HostFacts
from remediations.fixes.base import FixContext
from remediations.plan import Plan


@dataclass(frozen=True)
class PoolEndpoint:
    service: FpmService
    pool: FpmPool
    endpoint: Endpoint

    @property
    def label(self) -> str:
        return f"{self.pool.name}={self.pool.listen} ({self.service.service})"


def pool_endpoints(facts: HostFacts, *, running_only: bool = False) -> list[PoolEndpoint]:
    """Every pool whose ``listen`` can be read for sure (relative paths need their prefix)."""
    found = []
    for svc in facts.fpm:
        if running_only and not svc.running:
            continue
        for pool in svc.pools:
            if pool.endpoint is not None:
                found.append(PoolEndpoint(svc, pool, pool.endpoint))
    return found


def is_listening(facts: HostFacts, endpoint: Endpoint) -> bool:
    """Something accepts connections there right now (a socket file alone proves nothing)."""
    if endpoint.kind == "unix":
        return any(s.is_socket and endpoint.accepts(Endpoint("unix", s.path)) for s in facts.sockets) and any(
            svc.running for svc in facts.fpm
        )
    return any(
        endpoint.accepts(Endpoint("tcp", f"{t.address}:{t.port}"))
        or Endpoint("tcp", f"{t.address}:{t.port}").accepts(endpoint.dial())
        for t in facts.tcp
    )


def live_endpoints(facts: HostFacts) -> list[PoolEndpoint]:
    """Pools that are actually accepting connections now: what the web server should point at."""
    return [p for p in pool_endpoints(facts, running_only=True) if is_listening(facts, p.endpoint)]


def pools_behind(facts: HostFacts, targets: list[Endpoint]) -> list[PoolEndpoint]:
    """The pools the web server's targets reach (the site's own pools)."""
    return [p for p in pool_endpoints(facts) if any(p.endpoint.accepts(t) for t in targets)]


_VERSION = re.compile(r"\d+(?:\.\d+)?")


def _versionless(endpoint: Endpoint) -> str:
    """``/run/php/php8.1-fpm-store.sock`` and ``…php8.2-fpm-store.sock`` are one pool's socket
    across a PHP upgrade; so are Remi's ``/var/opt/remi/php81/…`` and ``…/php82/…``."""
    if endpoint.kind == "unix":
        return _VERSION.sub("#", posixpath.normpath(endpoint.address))
    return endpoint.address


def corresponding(dead: Endpoint, live: list[PoolEndpoint], facts: HostFacts) -> list[PoolEndpoint]:
    """The live pools that take over from ``dead``: the only one; else the pool of the same name
    (a stopped FPM version's pool that listened there names it); else the same socket with the
    PHP version changed.  More than one candidate is for a person to choose."""
    if len({p.endpoint for p in live}) <= 1:
        return live[:1]
    names = {p.pool.name for p in pool_endpoints(facts) if p.endpoint.accepts(dead)}
    for narrowed in (
        [p for p in live if p.pool.name in names],
        [p for p in live if _versionless(p.endpoint) == _versionless(dead)],
    ):
        if len({p.endpoint for p in narrowed}) == 1:
            return narrowed[:1]
    return live


def realignments(fix_id: str, facts: HostFacts, pool: str | None) -> list[tuple[FastcgiTarget, PoolEndpoint]] | Plan:
    """What both realign fixes decide the same way: for each web server target nothing listens
    on, the live pool that takes over — or the plan that says why there is none to choose."""
    live = [p for p in live_endpoints(facts) if pool is None or p.pool.name == pool]
    if not live:
        return Plan.noop(fix_id, "no PHP-FPM pool is listening: nothing to point the web server at")
    if not facts.web.fastcgi_targets and (refusal := unresolved_refusal(facts)):
        return Plan.refuse(fix_id, "the PHP target cannot be resolved", refusal)
    out: list[tuple[FastcgiTarget, PoolEndpoint]] = []
    for t in facts.web.fastcgi_targets:
        if any(p.endpoint.accepts(t.endpoint) for p in live):
            continue
        if t.endpoint.by_name:
            where = f"{t.directive.file}:{t.directive.line}"
            return Plan.refuse(
                fix_id,
                f"{t.raw} ({where}) names another host",
                f"{t.raw} is dialled by name (a container or another server): its PHP-FPM is not one "
                "fix502 can see from this host; bring that host's FPM back or point the name elsewhere",
            )
        found = corresponding(t.endpoint, live, facts)
        if len(found) != 1:
            where = f"{t.directive.file}:{t.directive.line}"
            names = ", ".join(p.label for p in found)
            return Plan.refuse(
                fix_id,
                f"{t.address} ({where}) could be any of several pools",
                f"choose the pool with `with: {{pool: NAME}}`: {names}",
            )
        out.append((t, found[0]))
    return out


def unresolved_refusal(facts: HostFacts) -> str | None:
    """A target the configuration alone cannot resolve (``fastcgi_pass $var`` set through ``map``,
    an upstream name without its block, an Apache handler naming a ``<Proxy>`` worker): editing
    around it would drop the indirection, so a person must change what it resolves to."""
    if not facts.web.unresolved_targets:
        return None
    shown = "; ".join(f"{d.name} {' '.join(d.args)} at {d.file}:{d.line}" for d in facts.web.unresolved_targets[:3])
    return f"cannot tell where {shown} leads from the configuration alone; point what it resolves to at a live pool"


def newest(services: list[FpmService]) -> FpmService | None:
    def key(s: FpmService) -> tuple[int, ...]:
        return tuple(int(x) for x in s.version.split(".") if x.isdigit())

    return max(services, key=key) if services else None


def web_group(facts: HostFacts) -> str:
    return facts.web.user or "www-data"


def php_locations(ctx: FixContext) -> list[Directive]:
    """The site's own ``fastcgi_pass`` lines, once each (an upstream with two servers is one
    location), bottom of each file first: the block a fix adds directives to."""
    seen = {
        (t.via or t.directive).file + f":{(t.via or t.directive).line}": t.via or t.directive
        for t in ctx.facts.web.fastcgi_targets
    }
    return sorted(seen.values(), key=lambda d: (d.file, -d.line))
