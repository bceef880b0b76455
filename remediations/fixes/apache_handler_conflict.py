"""mod_php and proxy_fcgi both loaded: disable mod_php (and the prefork MPM it drags in), keep
proxy_fcgi, configtest, restart.

Captured on real Apache 2.4 (Debian): with both loaded, PHP still goes to FPM through SetHandler,
so mod_php is dead weight that forces prefork and loads PHP into every Apache child — and when FPM
is down visitors get 503 with ``AH01079``.  Each a2dismod/a2enmod has its inverse in the journal.
"""

from __future__ import annotations

from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import Command, ConfigTest, Op, Plan, Service


@register
class ResolveApacheHandlerConflict(Fix):
    id = "resolve-apache-handler-conflict"
    title = "Disable mod_php next to proxy_fcgi"
    causes = frozenset({"apache-handler-conflict"})

    def guard(self, ctx: FixContext) -> bool:
        return ctx.facts.web.kind == "apache" and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        mods = set(ctx.facts.web.modules)
        php = sorted(
            {
                p.rsplit("/", 1)[-1].removesuffix(".load")
                for p in ctx.facts.files
                if "/mods-enabled/php" in p and p.endswith(".load")
            }
        )
        names = php or [f"php{s.version}" for s in ctx.facts.fpm]
        ops: list[Op] = [
            Command(("a2dismod", "-q", n), ("a2enmod", "-q", n), "mod_php competes with proxy_fcgi") for n in names
        ]
        if "mpm_prefork_module" in mods:
            # a2enmod refuses to switch MPMs while another is enabled: disable first, then enable.
            ops.append(
                Command(
                    ("a2dismod", "-q", "mpm_prefork"),
                    ("a2enmod", "-q", "mpm_prefork"),
                    "mod_php needed prefork; FPM works with the event MPM",
                )
            )
            ops.append(
                Command(
                    ("a2enmod", "-q", "mpm_event"),
                    ("a2dismod", "-q", "mpm_event"),
                    "the event MPM serves FPM sites best",
                )
            )
        if "proxy_fcgi_module" not in mods:
            ops.append(Command(("a2enmod", "-q", "proxy_fcgi"), ("a2dismod", "-q", "proxy_fcgi"), "PHP goes to FPM"))
        ops += [
            ConfigTest(("apache2ctl", "configtest"), "never restart on a config Apache rejects"),
            Service("apache2", "restart", "an MPM change needs a full restart"),
        ]
        return Plan(self.id, "disable " + ", ".join(names) + ", keep proxy_fcgi", ops)
