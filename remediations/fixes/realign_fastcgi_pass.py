"""Point nginx's ``fastcgi_pass`` at the pool that took over from the one that is gone.

The classic after a PHP upgrade: the site still says ``unix:/run/php/php8.1-fpm.sock`` while the
8.2 pool listens on ``php8.2-fpm.sock``.  With several live pools, the one that corresponds to the
dead endpoint is chosen (same pool name, or the same socket with the PHP version changed); more
than one candidate is for a person to choose (``with: {pool: NAME}``).  When ``fastcgi_pass`` names
an ``upstream``, its ``server`` line is what changes, so the include structure stays as it is; a
``fastcgi_pass $variable`` is refused rather than replaced by a literal.  Only the address on its
own line changes; ``nginx -t`` runs before the reload and the edit is reverted if it fails.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.nginx import find_directives, set_directive_args
from remediations.fixes._common import realignments
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
        chosen = realignments(self.id, ctx.facts, ctx.params.get("pool"))
        if isinstance(chosen, Plan):
            return chosen
        edits = Edits(ctx.facts.files)
        for t, pool in chosen:
            d, new = t.directive, pool.endpoint.nginx  # an upstream's `server` takes the same form
            before = edits.text(d.file)
            if before is None:
                return Plan.refuse(self.id, f"{d.file} was not readable", f"cannot read {d.file} to edit it")
            try:
                args = [new] if d.name == "fastcgi_pass" else _server_args(before, d.line, new)
                after = set_directive_args(before, d.line, d.name, args)
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {d.file}:{d.line}", str(exc))
            edits.set(
                d.file, after, f"line {d.line}: {t.raw} → {new} (pool {pool.pool.name} of {pool.service.service})"
            )
        return Plan.edits(
            self.id,
            "point fastcgi_pass at " + ", ".join(sorted({p.endpoint.nginx for _, p in chosen})),
            edits.writes(),
            ConfigTest(("nginx", "-t"), "never reload a config nginx rejects"),
            Service("nginx", "reload", "load the corrected fastcgi_pass"),
            noop="every fastcgi_pass already points at a listening pool",
        )


def _server_args(text: str, line: int, address: str) -> list[str]:
    """An upstream ``server ADDRESS [weight=… max_fails=…];``: only the address changes."""
    for at, args in find_directives(text, "server"):
        if at == line and args:
            return [address, *args[1:]]
    raise EditError(f"no server directive on line {line}")
