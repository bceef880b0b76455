"""Start (or restart) PHP-FPM, clearing what a killed master left behind.

A master killed with SIGKILL leaves its socket file and pid file: the socket makes nginx log
``(111: Connection refused)`` instead of ``(2: No such file or directory)``, and the stale pid file
can make a sysv init script believe FPM is running.  Both are removed (journaled) before starting.
If ``php-fpm -t`` fails, starting would only fail again: the fix escalates with the error line
(file:line) instead of looping.  The service started is the one the init system says owns that
FPM (``php-fpm``, ``ea-php81-php-fpm``, ``plesk-php81-fpm``...: facts/layouts.py); when nothing
says, it escalates rather than start a guess.
"""

from __future__ import annotations

from remediations.fixes._common import newest, pool_endpoints, pools_behind
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Op, Plan, RemoveStale, Service


@register
class RestartFpm(Fix):
    id = "restart-fpm"
    title = "Start PHP-FPM"
    causes = frozenset({"fpm-down", "fpm-config-error"})
    params = {"version": str}

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        wanted = ctx.params.get("version")
        services = [s for s in facts.fpm if not wanted or s.version == wanted]
        down = [s for s in services if not s.running]
        if not down:
            return Plan.noop(self.id, "every PHP-FPM service is already running")
        # The version the web server points at, else the newest installed one.
        behind = pools_behind(facts, [t.endpoint for t in facts.web.fastcgi_targets])
        pointed = [p.service for p in behind if p.service in down]
        svc = pointed[0] if pointed else newest(down)
        assert svc is not None
        if svc.config_test_ok is False:
            errors = [ln for ln in svc.config_test_output.splitlines() if "ERROR" in ln]
            return Plan.refuse(
                self.id,
                f"{svc.service} cannot start: its configuration is invalid",
                f"{svc.binary} -t: " + (errors[0] if errors else svc.config_test_output.strip()),
            )
        if not svc.binary_trusted:  # a path the host named: never run as root unless proven root's alone
            return Plan(self.id, f"{svc.service} not started", escalate=f"{svc.binary} not run: {svc.binary_problem}")
        if svc.service_problem:  # starting a guessed service may start another FPM, or none
            return Plan(
                self.id, f"{svc.service} not started", escalate=f"its service is unknown: {svc.service_problem}"
            )
        ops: list[Op] = []
        for p in pool_endpoints(facts):
            if (
                p.service is svc
                and p.endpoint.kind == "unix"
                and any(s.path == p.endpoint.address for s in facts.sockets)
            ):
                ops.append(RemoveStale(p.endpoint.address, "stale socket of a dead FPM master"))
        if svc.pid_file and svc.pid_file_stale:
            ops.append(RemoveStale(svc.pid_file, "pid file names no running master"))
        ops.append(ConfigTest(svc.config_test_argv, "never start FPM on a configuration it rejects"))
        ops.append(Service(svc.service, "start", "PHP-FPM is not running"))
        if svc.init == "systemd":
            ops.append(Service(svc.service, "enable", "start at boot so a reboot does not bring the 502 back"))
        return Plan(self.id, f"start {svc.service}", ops)
