"""Size ``pm.max_children`` to the RAM that PHP can really have.

The memory rule (:mod:`remediations.memory`, the same one the diagnosis checks): a full pool needs
``pm.max_children × peak worker RSS × 1.25`` and that must fit in the RAM available to PHP.  When the
pool is exhausted we raise it — doubling at most, and never past what fits; when the kernel
OOM-kills workers we lower it to what fits.  The arithmetic is shown in the plan.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.fpm_ini import set_value
from remediations.fixes._common import PoolEndpoint, pool_endpoints, pools_behind
from remediations.fixes.base import Fix, FixContext, Probe, register
from remediations.memory import HEADROOM, available_to_php_kb, fitting_children
from remediations.plan import ConfigTest, Edits, Plan, Service

DEFAULT_RSS_KB = 64 * 1024  # when no worker is running to measure: a common WordPress worker size


@register
class SizeMaxChildren(Fix):
    id = "size-max-children"
    title = "Size pm.max_children to RAM"
    causes = frozenset({"pool-exhausted"})
    params = {"ram_share": float, "max_children": int}

    def _pool(self, ctx: FixContext) -> PoolEndpoint | None:
        facts = ctx.facts
        running = [p for p in pools_behind(facts, [t.endpoint for t in facts.web.fastcgi_targets]) if p.service.running]
        running = running or pool_endpoints(facts, running_only=True)
        return running[0] if running else None

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        p = self._pool(ctx)
        if p is None:
            return Plan.noop(self.id, "no running pool to size")
        share = float(ctx.params.get("ram_share", 0.8))
        current = p.pool.max_children or 5
        rss = p.service.worker_rss_kb
        peak = max(rss) if rss else DEFAULT_RSS_KB
        available = available_to_php_kb(facts.resources.mem_available_kb or 0, rss)
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
            f"fits: {available // 1024} MiB × {share} / ({peak // 1024} MiB × {HEADROOM}) = {fit} children",
            f"pm.max_children {current} → {new}",
        ]
        if new <= current and not oom:
            return Plan.refuse(
                self.id,
                f"pm.max_children {current} already uses what RAM allows ({fit})",
                "the pool is exhausted and RAM does not allow more workers: find the slow requests or add RAM",
                notes,
            )
        if new == current:
            return Plan.noop(self.id, "pm.max_children already fits in RAM", notes)
        return self._edit(p, facts.files, new, notes)

    def _edit(self, p: PoolEndpoint, files: dict[str, str], new: int, notes: list[str]) -> Plan:
        """Each key is changed where its effective value comes from: a pool may be split over
        several files (the official image's www.conf, docker.conf, zz-docker.conf), and a value
        added to the first file would be overridden by a later one while FPM keeps the old."""
        edits = Edits(files)
        changes = [("pm.max_children", str(new), "size the pool to RAM")]
        spare = p.pool.directives.get("pm.max_spare_servers")
        if p.pool.pm == "dynamic" and spare and spare.args and spare.args[0].isdigit() and int(spare.args[0]) > new:
            changes.append(("pm.max_spare_servers", str(new), "size the pool to RAM"))
        backlog = p.pool.directives.get("listen.backlog")
        if backlog and backlog.args and backlog.args[0].isdigit() and int(backlog.args[0]) < new:
            # A backlog smaller than the pool turns every burst into connect() EAGAIN → 502.
            changes.append(("listen.backlog", "511", "size the pool to RAM"))
            notes.append(f"listen.backlog {backlog.args[0]} → 511 (FPM's default): smaller than the pool")
        for key, value, reason in changes:
            where = p.pool.directives[key].file if key in p.pool.directives else p.pool.file
            text = edits.text(where)
            if text is None:
                return Plan.refuse(self.id, f"{where} not readable", f"cannot read {where}")
            try:
                edits.set(where, set_value(text, p.pool.name, key, value), reason)
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {where}", str(exc))
        return Plan.edits(
            self.id,
            f"pm.max_children {p.pool.max_children or 5} → {new} (pool {p.pool.name})",
            edits.writes(),
            ConfigTest(p.service.config_test_argv, "never restart FPM on a configuration it rejects"),
            Service(p.service.service, "restart", "apply the new pool size"),
            noop="pm.max_children already as wanted",
            notes=notes,
        )

    def verify(self, ctx: FixContext) -> Probe:
        # Exhaustion only shows under concurrency: several visitors at once must all be served.
        return Probe(concurrency=3)
