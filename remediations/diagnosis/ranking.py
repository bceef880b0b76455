"""Gating and ranking: the detectors' causes weighed against what the site actually answers.

A cause found in the logs is not the answer when the site says something else: a 200 keeps only
what is still broken, a 504/500 is not answered with a 502 fix, and an edge that fails in front of
a healthy origin is the edge's fault.  The answers given when no detector's cause fits
(``edge-origin``, ``not-502``, ``healthy``, ``unknown``) are rules too, registered here.
"""

from __future__ import annotations

from remediations.causes import Cause, CauseId, Evidence
from remediations.diagnosis.reading import Reading, log_ev, looks_like_wordpress, probes_ev, wordpress_fatal_ev
from remediations.diagnosis.registry import Findings, outcome

EDGE_SERVERS = ("cloudflare", "cloudfront", "akamai", "fastly", "sucuri", "stackpath", "bunnycdn", "varnish")

#: Causes that are about reaching PHP-FPM (or the upstream) at all: the only ones that can
#: explain an answer other than 502.
CONNECTION_CAUSES = frozenset(
    {
        CauseId.FPM_DOWN,
        CauseId.FPM_CONFIG_ERROR,
        CauseId.SOCKET_MISMATCH,
        CauseId.SOCKET_PERMISSION,
        CauseId.UPSTREAM_UNREACHABLE,
    }
)

NOT_502_HINTS = {
    504: "the upstream is reachable but too slow (504); look at slow requests and read timeouts.",
    503: "the server refuses for now (503: maintenance mode, rate limit or overload).",
    500: "PHP or WordPress failed cleanly (500); read the PHP fatal error in the logs.",
}


def _is_edge(server: str | None) -> bool:
    return server is not None and any(e in server.lower() for e in EDGE_SERVERS)


@outcome(CauseId.EDGE_ORIGIN)
def edge_origin(r: Reading) -> Cause | None:
    """The remote probe got 502 (or Cloudflare's 520-527) through an edge (Server: cloudflare,
    ...; or another Server than the origin's) while the local probe, which bypasses the edge,
    got 200; upstream-connection causes are dropped then, the others still follow."""
    local, remote = r.facts.local_probe, r.facts.remote_probe
    if local is None or remote is None or local.status != 200 or remote.status is None:
        return None
    if not (remote.status == 502 or 520 <= remote.status <= 527):
        return None
    if not (_is_edge(remote.server) or remote.server != local.server):
        return None
    return Cause(
        CauseId.EDGE_ORIGIN.value,
        probes_ev(r.facts),
        f"the origin answers 200 but the edge ({remote.server or 'proxy'}) answers {remote.status}; "
        "check the edge's origin settings, its IP ranges in the firewall and TLS mode.",
        250,
    )


def _apache_502(r: Reading, found: Findings) -> bool:
    """Apache answers 503, not 502, when it cannot reach FPM or FPM dies mid-request."""
    return (
        r.facts.web.kind == "apache"
        and r.status == 503
        and (any(i in CONNECTION_CAUSES for i in found.causes) or bool(r.of_kind("connect", "crash-reset")))
    )


def _counted(r: Reading, found: Findings) -> list[str]:
    """The found causes that still apply to what the site answers."""
    ids = list(found.causes)
    if r.status == 200:
        # Structural breakage and recent 502-class lines (intermittent crashes, timeouts, a full
        # pool) matter even when this one request succeeded; connect failures with healthy
        # structure are from an outage that has ended.
        if r.running:
            ids = [i for i in ids if i != CauseId.FPM_DOWN]
        ids = [i for i in ids if i != CauseId.SOCKET_PERMISSION or _structural(found.causes[i])]
        return [i for i in ids if i != CauseId.UPSTREAM_UNREACHABLE]
    if r.status == 504 and CauseId.READ_TIMEOUT in ids:
        return [CauseId.READ_TIMEOUT]  # the one 504 this tool explains (and fixes) from its own evidence
    if r.status is not None and r.status != 502 and not _apache_502(r, found):
        return [i for i in ids if i in CONNECTION_CAUSES]
    return ids


def _structural(c: Cause) -> bool:
    return any(e.source == "stat" for e in c.evidence)


@outcome(CauseId.HEALTHY)
def healthy(r: Reading) -> Cause | None:
    """The probe got 200 with WordPress content (the generator tag; without that look, a
    non-default title on a WordPress host) and nothing structural is broken."""
    p = r.probe
    if p is None or p.status != 200 or not looks_like_wordpress(p, r.facts):
        return None
    why = "the site answers 200 with WordPress content; nothing to fix."
    return Cause(CauseId.HEALTHY.value, probes_ev(r.facts), why)


@outcome(CauseId.NOT_502)
def not_502(r: Reading, found: Findings) -> Cause | None:
    """The site answers something other than 502 and no upstream-connection cause explains it
    (a 200 that is not WordPress, a 504/503/500 — Apache's 503 with connect or crash evidence
    counts as its 502: AH01079, AH02454, AH00957, AH01075), or the web server itself is down and
    nothing answers; no 502 cause is proposed then.  The site's own PHP fatal lines (debug.log,
    error_log: "Allowed memory size ... exhausted") are quoted with it."""
    p, status, ev = r.probe, r.status, probes_ev(r.facts)
    if p is None:
        return None
    if status == 200:
        why = "the site answers 200 but not with WordPress content; check the vhost/root, this is not a 502."
        return Cause(CauseId.NOT_502.value, ev, why, 50)
    if status is not None and status != 502 and not _apache_502(r, found):
        hint = NOT_502_HINTS.get(status, "this tool fixes 502s; look at the answer itself.")
        lines = log_ev(r.of_kind("slow", "fatal", "exhausted"), 2) + wordpress_fatal_ev(r.facts.wordpress, 2)
        return Cause(CauseId.NOT_502.value, ev + lines, f"the site answers {status}, not 502: {hint}", 50)
    if status is None and not r.facts.web.running:
        down = Evidence("service", f"{r.facts.web.service or 'web server'}: not running")
        why = "the web server itself is not running (no HTTP answer at all); start it — this is not a 502."
        return Cause(CauseId.NOT_502.value, [*ev, down], why, 50)
    return None


@outcome(CauseId.UNKNOWN)
def unknown(r: Reading) -> Cause:
    """A 502 with nothing recognisable in the recent logs or the configuration (a FastCGI target
    that cannot be resolved is named as the next thing to look at)."""
    ev = probes_ev(r.facts) + [
        Evidence(f"{d.file}:{d.line}", f"{' '.join((d.name, *d.args))} (target not resolved)")
        for d in r.facts.web.unresolved_targets[:2]
    ]
    return Cause(
        CauseId.UNKNOWN.value,
        ev,
        "a 502 with no recognisable evidence in the recent logs or the configuration; "
        "collect the web server's error log for a failing request and escalate.",
        0,
    )


def rank(r: Reading, found: Findings) -> list[Cause]:
    """The most specific root cause comes first, by score: a config error before the FPM outage
    it causes, a socket mismatch before "FPM down" when FPM runs elsewhere, the causes about
    reaching PHP-FPM or the upstream before those read from worker log lines (and among these the
    one with the most lines), the latent apache-handler-conflict last; at equal score the order
    of the cause ids above.  A 504 counts only read-timeout (nginx gave up before PHP would
    have).  When no found cause applies to what the site answers, the answer is
    exactly one of edge-origin, healthy, not-502 or unknown."""
    edge = edge_origin(r)
    if edge is not None:
        return [edge, *found.ranked([i for i in found.causes if i not in CONNECTION_CAUSES])]
    counted = _counted(r, found)
    if counted:
        return found.ranked(counted)
    return [healthy(r) or not_502(r, found) or unknown(r)]
