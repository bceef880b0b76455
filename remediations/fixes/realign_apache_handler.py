"""Point Apache's ``SetHandler "proxy:unix:...|fcgi://localhost"`` / ``ProxyPassMatch`` at the live pool.

Behind Apache the same mismatch answers **503**, not 502, with ``AH02454``/``AH01079`` in the error
log (captured from real Apache 2.4).  The pool is chosen exactly as for nginx (the one that took over
from the dead endpoint), the edit is the same surgical one-line change, checked with
``apache2ctl configtest`` before a graceful reload.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.apache import set_handler_target
from remediations.fixes._common import corresponding, live_endpoints, unresolved_refusal
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Edits, Plan, Service


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
        live = [p for p in live_endpoints(facts) if p.pool.name == ctx.params.get("pool", p.pool.name)]
        if not live:
            return Plan.noop(self.id, "no PHP-FPM pool is listening: nothing to point Apache at")
        edits = Edits(facts.files)
        if not facts.web.fastcgi_targets and (refusal := unresolved_refusal(facts)):
            return Plan.refuse(self.id, "the PHP target cannot be resolved", refusal)
        targets: set[str] = set()
        for t in facts.web.fastcgi_targets:
            if any(p.endpoint.accepts(t.endpoint) for p in live):
                continue
            where = f"{t.directive.file}:{t.directive.line}"
            found = corresponding(t.endpoint, live, facts)
            if len(found) != 1:
                names = ", ".join(p.label for p in found)
                return Plan.refuse(
                    self.id,
                    f"{t.address} ({where}) could be any of several pools",
                    f"choose with `with: {{pool: NAME}}`: {names}",
                )
            before = edits.text(t.directive.file)
            if before is None:
                return Plan.refuse(self.id, f"{t.directive.file} was not readable", f"cannot read {t.directive.file}")
            new = found[0].endpoint.dial().address
            try:
                after = set_handler_target(before, t.directive.line, new)
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {where}", str(exc))
            edits.set(t.directive.file, after, f"line {t.directive.line}: {t.raw} → {new}")
            targets.add(new)
        return Plan.edits(
            self.id,
            "point Apache's PHP handler at " + ", ".join(sorted(targets)),
            edits.writes(),
            ConfigTest(("apache2ctl", "configtest"), "never reload a config Apache rejects"),
            Service("apache2", "reload", "load the corrected handler"),
            noop="every handler already points at a listening pool",
        )
