"""Crash-loop guard: ``emergency_restart_threshold = 10`` / ``emergency_restart_interval = 1m``.

When workers die on signals (SIGSEGV, SIGBUS) the FPM master then restarts itself instead of
serving a wall of 502s.  It is a fail-safe, not the cure, so its verification only asks that FPM
runs and answers after the restart; the plugin search that follows looks for the cause.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.fpm_ini import set_value
from remediations.fixes.base import Fix, FixContext, Probe, register
from remediations.plan import ConfigTest, Plan, Service, WriteFile


@register
class EnableEmergencyRestart(Fix):
    id = "enable-emergency-restart"
    title = "Enable PHP-FPM's emergency restart"
    causes = frozenset({"worker-crash"})
    params = {"threshold": int, "interval": str}

    def plan(self, ctx: FixContext) -> Plan:
        threshold = str(ctx.params.get("threshold", 10))
        interval = str(ctx.params.get("interval", "1m"))
        for svc in ctx.facts.fpm:
            if not svc.running or not svc.global_file:
                continue
            cur_t = svc.emergency_restart_threshold.args[0] if svc.emergency_restart_threshold else "0"
            cur_i = svc.emergency_restart_interval.args[0] if svc.emergency_restart_interval else "0"
            if cur_t not in ("", "0") and cur_i not in ("", "0"):
                return Plan.noop(self.id, f"already set ({cur_t} in {cur_i})")
            before = ctx.facts.files.get(svc.global_file)
            if before is None:
                return Plan.refuse(self.id, "php-fpm.conf not readable", f"cannot read {svc.global_file}")
            try:
                after = set_value(before, "global", "emergency_restart_threshold", threshold)
                after = set_value(after, "global", "emergency_restart_interval", interval)
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {svc.global_file}", str(exc))
            return Plan(
                self.id,
                f"restart the FPM master after {threshold} crashes in {interval}",
                [
                    WriteFile(svc.global_file, before, after, "crash-loop guard"),
                    ConfigTest(svc.config_test_argv, "never restart FPM on a configuration it rejects"),
                    Service(svc.service, "restart", "load the crash-loop guard"),
                ],
            )
        return Plan.noop(self.id, "no running PHP-FPM to protect")

    def verify(self, ctx: FixContext) -> Probe:
        return Probe(expect_status=None, expect_body=None)
