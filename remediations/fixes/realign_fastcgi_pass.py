"""Point nginx's ``fastcgi_pass`` at the pool that is actually listening.

The classic after a PHP upgrade: the site still says ``unix:/run/php/php8.1-fpm.sock`` while the
8.2 pool listens on ``php8.2-fpm.sock``.  Only the directive's arguments on its own line change;
``nginx -t`` runs before the reload and the edit is reverted if it fails.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.nginx import set_directive_args
from remediations.fixes._common import live_endpoints
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Op, Plan, Service, WriteFile


@register
class RealignFastcgiPass(Fix):
    id = "realign-fastcgi-pass"
    title = "Realign nginx fastcgi_pass with the FPM pool's listen"
    causes = frozenset({"socket-mismatch"})
    params = {"pool": str}

    def guard(self, ctx: FixContext) -> bool:
        return ctx.facts.web.kind == "nginx" and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        live = live_endpoints(facts)
        if ctx.params.get("pool"):
            live = [p for p in live if p.pool.name == ctx.params["pool"]]
        if not live:
            return Plan(self.id, "no PHP-FPM pool is listening: nothing to point nginx at")
        if len({p.endpoint for p in live}) > 1:
            names = ", ".join(f"{p.pool.name}={p.pool.listen}" for p in live)
            return Plan(
                self.id,
                "several pools listen; which one is the site's is not clear",
                escalate=f"choose the pool with `with: {{pool: NAME}}`: {names}",
            )
        target = live[0]
        texts = dict(facts.files)
        ops: list[Op] = []
        for t in facts.web.fastcgi_targets:
            if t.directive.name != "fastcgi_pass" or any(t.address == p.endpoint.address for p in live):
                continue
            path = t.directive.file
            before = texts.get(path)
            if before is None:
                return Plan(self.id, f"{path} was not readable", escalate=f"cannot read {path} to edit it")
            try:
                after = set_directive_args(before, t.directive.line, "fastcgi_pass", [target.endpoint.nginx])
            except EditError as exc:
                return Plan(self.id, f"cannot edit {path}:{t.directive.line}", escalate=str(exc))
            texts[path] = after
            ops.append(
                WriteFile(
                    path,
                    facts.files[path],
                    after,
                    f"line {t.directive.line}: {t.raw} → {target.endpoint.nginx} "
                    f"(pool {target.pool.name} of {target.service.service})",
                )
            )
        if not ops:
            return Plan(self.id, "every fastcgi_pass already points at a listening pool")
        # Collapse several edits of one file into a single write.
        merged: dict[str, WriteFile] = {}
        for op in ops:
            assert isinstance(op, WriteFile)
            first = merged.get(op.path)
            merged[op.path] = WriteFile(
                op.path,
                first.before if first else op.before,
                op.after,
                f"{first.reason}; {op.reason}" if first else op.reason,
            )
        return Plan(
            self.id,
            f"point fastcgi_pass at {target.endpoint.nginx}",
            [
                *merged.values(),
                ConfigTest(("nginx", "-t"), "never reload a config nginx rejects"),
                Service("nginx", "reload", "load the corrected fastcgi_pass"),
            ],
        )
