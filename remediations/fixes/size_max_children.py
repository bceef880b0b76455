"""Size ``pm.max_children`` to the RAM that PHP can really have.

The seed's rule: a full pool needs ``pm.max_children × peak worker RSS × 1.25`` (25 % headroom),
and that must fit in the RAM available to PHP (MemAvailable plus what the workers hold now).
When the pool is exhausted we raise it — doubling at most, and never past what fits; when the
kernel OOM-kills workers we lower it to what fits.  The arithmetic is shown in the plan.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.fpm_ini import set_value
from remediations.fixes._common import pool_endpoints
from remediations.fixes.base import Fix, FixContext, Probe, register
from remediations.plan import ConfigTest, Plan, Service, WriteFile

DEFAULT_RSS_KB = 64 * 1024  # when no worker is running to measure: a common WordPress worker size


def fitting_children(available_kb: int, peak_rss_kb: int, share: float = 1.0) -> int:
    return int(available_kb * share // (peak_rss_kb * 1.25))


@register
class SizeMaxChildren(Fix):
    id = "size-max-children"
    title = "Size pm.max_children to RAM"
    causes = frozenset({"pool-exhausted"})
    params = {"ram_share": float, "max_children": int}

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        share = float(ctx.params.get("ram_share", 0.8))
        targets = {t.address for t in facts.web.fastcgi_targets}
        pools = [
            p for p in pool_endpoints(facts, running_only=True) if p.endpoint.address in targets
        ] or pool_endpoints(facts, running_only=True)
        if not pools:
            return Plan(self.id, "no running pool to size")
        p = pools[0]
        current = p.pool.max_children or 5
        rss = p.service.worker_rss_kb
        peak = max(rss) if rss else DEFAULT_RSS_KB
        available = (facts.resources.mem_available_kb or 0) + sum(rss)
        fit = fitting_children(available, peak, share)
        oom = ctx.diagnosis.has("worker-crash") and any(
            "Killed process" in e.line for c in ctx.diagnosis.causes for e in c.evidence
        )
        # Exhausted: at least double, and at least Debian's default headroom of 8; fit caps it.
        wanted = int(ctx.params.get("max_children", max(current * 2, 8)))
        new = min(fit, current) if oom else min(fit, max(wanted, current + 1))
        notes = [
            f"peak worker RSS {peak // 1024} MiB{' (no worker running: assumed)' if not rss else ''}",
            f"RAM available to PHP = MemAvailable {(facts.resources.mem_available_kb or 0) // 1024} MiB"
            f" + workers {sum(rss) // 1024} MiB = {available // 1024} MiB; using {int(share * 100)} %",
            f"fits: {available // 1024} MiB × {share} / ({peak // 1024} MiB × 1.25) = {fit} children",
            f"pm.max_children {current} → {new}",
        ]
        if new <= current and not oom:
            return Plan(
                self.id,
                f"pm.max_children {current} already uses what RAM allows ({fit})",
                notes=notes,
                escalate="the pool is exhausted and RAM does not allow more workers: find the slow requests or add RAM",
            )
        if new == current:
            return Plan(self.id, "pm.max_children already fits in RAM", notes=notes)
        before = facts.files.get(p.pool.file)
        if before is None:
            return Plan(self.id, f"{p.pool.file} not readable", escalate=f"cannot read {p.pool.file}")
        try:
            after = set_value(before, p.pool.name, "pm.max_children", str(new))
            if p.pool.pm == "dynamic":
                spare = p.pool.directives.get("pm.max_spare_servers")
                if spare and spare.args and spare.args[0].isdigit() and int(spare.args[0]) > new:
                    after = set_value(after, p.pool.name, "pm.max_spare_servers", str(new))
            backlog = p.pool.directives.get("listen.backlog")
            if backlog and backlog.args and backlog.args[0].isdigit() and int(backlog.args[0]) < new:
                # A backlog smaller than the pool turns every burst into connect() EAGAIN → 502.
                after = set_value(after, p.pool.name, "listen.backlog", "511")
                notes.append(f"listen.backlog {backlog.args[0]} → 511 (FPM's default): smaller than the pool")
        except EditError as exc:
            return Plan(self.id, f"cannot edit {p.pool.file}", escalate=str(exc))
        return Plan(
            self.id,
            f"pm.max_children {current} → {new} (pool {p.pool.name})",
            [
                WriteFile(p.pool.file, before, after, "size the pool to RAM"),
                ConfigTest((p.service.binary, "-t"), "never restart FPM on a configuration it rejects"),
                Service(p.service.service, "restart", "apply the new pool size"),
            ],
            notes=notes,
        )

    def verify(self, ctx: FixContext) -> Probe:
        # Exhaustion only shows under concurrency: several visitors at once must all be served.
        return Probe(path=str(ctx.params.get("probe_path", "/")), concurrency=3)
