"""Point Apache's ``SetHandler "proxy:unix:...|fcgi://localhost"`` / ``ProxyPassMatch`` at the live pool.

Behind Apache the same mismatch answers **503**, not 502, with ``AH02454``/``AH01079`` in the error
log (captured from real Apache 2.4); the fix is the same surgical one-line edit, checked with
``apache2ctl configtest`` before a graceful reload.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.apache import set_handler_target
from remediations.fixes._common import live_endpoints
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Plan, Service, WriteFile


@register
class RealignApacheHandler(Fix):
    id = "realign-apache-handler"
    title = "Realign Apache SetHandler/ProxyPassMatch with the FPM pool's listen"
    causes = frozenset({"socket-mismatch"})
    params = {"pool": str}

    def guard(self, ctx: FixContext) -> bool:
        return ctx.facts.web.kind == "apache" and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        live = live_endpoints(facts)
        if ctx.params.get("pool"):
            live = [p for p in live if p.pool.name == ctx.params["pool"]]
        if len({p.endpoint for p in live}) != 1:
            return Plan(
                self.id,
                "no single listening PHP-FPM pool to point Apache at",
                escalate="zero or several pools listen; choose one with `with: {pool: NAME}`",
            )
        target = live[0]
        writes: dict[str, WriteFile] = {}
        for t in facts.web.fastcgi_targets:
            if t.address == target.endpoint.address:
                continue
            path = t.directive.file
            before = writes[path].after if path in writes else facts.files.get(path)
            if before is None:
                return Plan(self.id, f"{path} was not readable", escalate=f"cannot read {path}")
            try:
                after = set_handler_target(before, t.directive.line, target.endpoint.address)
            except EditError as exc:
                return Plan(self.id, f"cannot edit {path}:{t.directive.line}", escalate=str(exc))
            writes[path] = WriteFile(
                path, facts.files[path], after, f"line {t.directive.line}: {t.raw} → {target.endpoint.address}"
            )
        if not writes:
            return Plan(self.id, "every handler already points at a listening pool")
        return Plan(
            self.id,
            f"point Apache's PHP handler at {target.endpoint.address}",
            [
                *writes.values(),
                ConfigTest(("apache2ctl", "configtest"), "never reload a config Apache rejects"),
                Service("apache2", "reload", "load the corrected handler"),
            ],
        )
