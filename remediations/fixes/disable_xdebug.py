"""Take xdebug out of the FPM SAPI only (CLI keeps it): a classic source of native crashes and of
slow workers in production.  Renaming the ``conf.d`` link makes PHP skip it (only ``*.ini`` load)."""

from __future__ import annotations

from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Op, Plan, Rename, Service


@register
class DisableXdebug(Fix):
    id = "disable-xdebug"
    title = "Disable xdebug for PHP-FPM"
    causes = frozenset({"worker-crash", "worker-timeout", "pool-exhausted"})

    def guard(self, ctx: FixContext) -> bool:
        return any(s.xdebug_ini for s in ctx.facts.fpm) and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        ops: list[Op] = []
        for svc in ctx.facts.fpm:
            if svc.xdebug_ini:
                ops += [
                    Rename(svc.xdebug_ini, svc.xdebug_ini + ".fix502-disabled", "xdebug off for FPM only"),
                    ConfigTest(svc.config_test_argv, "never restart FPM on a configuration it rejects"),
                    Service(svc.service, "restart", "unload xdebug"),
                ]
        return Plan(self.id, "disable xdebug in the FPM SAPI", ops)
