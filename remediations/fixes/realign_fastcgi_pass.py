"""Point nginx's ``fastcgi_pass`` at the pool that took over from the one that is gone.

The classic after a PHP upgrade: the site still says ``unix:/run/php/php8.1-fpm.sock`` while the
8.2 pool listens on ``php8.2-fpm.sock``.  With several live pools, the one that corresponds to the
dead endpoint is chosen (same pool name, or the same socket with the PHP version changed); more
than one candidate is for a person to choose.  When ``fastcgi_pass`` names an ``upstream``, its
``server`` line is what changes, so the include structure stays as it is.  Only the address on its
own line changes; ``nginx -t`` runs before the reload and the edit is reverted if it fails.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.nginx import find_directives, set_directive_args
from remediations.fixes._common import PoolEndpoint, corresponding, live_endpoints, unresolved_refusal
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Edits, Plan, Service


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
        live = [p for p in live_endpoints(facts) if p.pool.name == ctx.params.get("pool", p.pool.name)]
        if not live:
            return Plan.noop(self.id, "no PHP-FPM pool is listening: nothing to point nginx at")
        edits = Edits(facts.files)
        if not facts.web.fastcgi_targets and (refusal := unresolved_refusal(facts)):
            return Plan.refuse(self.id, "the PHP target cannot be resolved", refusal)
        chosen: list[PoolEndpoint] = []
        for t in facts.web.fastcgi_targets:
            if any(p.endpoint.accepts(t.endpoint) for p in live):
                continue
            found = corresponding(t.endpoint, live, facts)
            if len(found) != 1:
                names = ", ".join(p.label for p in found)
                return Plan.refuse(
                    self.id,
                    f"{t.address} ({t.directive.file}:{t.directive.line}) could be any of several pools",
                    f"choose the pool with `with: {{pool: NAME}}`: {names}",
                )
            problem = self._edit(edits, t.directive.file, t.directive.line, t.directive.name, t.raw, found[0])
            if problem:
                return Plan.refuse(self.id, f"cannot edit {t.directive.file}:{t.directive.line}", problem)
            chosen.append(found[0])
        summary = "point fastcgi_pass at " + ", ".join(sorted({p.endpoint.nginx for p in chosen}))
        return Plan.edits(
            self.id,
            summary,
            edits.writes(),
            ConfigTest(("nginx", "-t"), "never reload a config nginx rejects"),
            Service("nginx", "reload", "load the corrected fastcgi_pass"),
            noop="every fastcgi_pass already points at a listening pool",
        )

    @staticmethod
    def _edit(edits: Edits, path: str, line: int, name: str, raw: str, pool: PoolEndpoint) -> str | None:
        """Change the address on ``line`` (a fastcgi_pass, or the upstream's server line); the
        problem as text when the file cannot be read or edited safely."""
        before = edits.text(path)
        if before is None:
            return f"cannot read {path} to edit it"
        new = pool.endpoint.nginx  # an upstream's `server` takes the same unix:/host:port form
        try:
            args = [new] if name == "fastcgi_pass" else _server_args(before, line, new)
            after = set_directive_args(before, line, name, args)
        except EditError as exc:
            return str(exc)
        edits.set(path, after, f"line {line}: {raw} → {new} (pool {pool.pool.name} of {pool.service.service})")
        return None


def _server_args(text: str, line: int, address: str) -> list[str]:
    """An upstream ``server ADDRESS [weight=… max_fails=…];``: only the address changes."""
    for at, args in find_directives(text, "server"):
        if at == line and args:
            return [address, *args[1:]]
    raise EditError(f"no server directive on line {line}")
