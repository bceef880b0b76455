"""Point Apache's ``SetHandler "proxy:unix:...|fcgi://localhost"`` / ``ProxyPassMatch`` at the live pool.

Behind Apache the same mismatch answers **503**, not 502, with ``AH02454``/``AH01079`` in the error
log (captured from real Apache 2.4).  The pool is chosen exactly as for nginx (the one that took over
from the dead endpoint), the edit is the same surgical one-line change in the file that holds the
handler (Debian's site file, RHEL's ``/etc/httpd/conf.d/php.conf``), checked with ``apache2ctl
configtest`` (RHEL: the running binary with its own ``-d``/``-f``, ``-t``) before a graceful reload
of the service the init system names (``apache2``, ``httpd``).
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.apache import set_handler_target
from remediations.fixes._common import realignments
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
        web = ctx.facts.web
        if web.binary_problem:  # a path the host named: never run as root unless proven root's alone
            return Plan.refuse(
                self.id, "Apache's config cannot be tested", f"{web.binary} not run: {web.binary_problem}"
            )
        if web.service_problem:
            return Plan.refuse(self.id, "Apache cannot be reloaded", f"its service is unknown: {web.service_problem}")
        chosen = realignments(self.id, ctx.facts, ctx.params.get("pool"))
        if isinstance(chosen, Plan):
            return chosen
        edits = Edits(ctx.facts.files)
        for t, pool in chosen:
            d, new = t.directive, pool.endpoint.dial().address
            before = edits.text(d.file)
            if before is None:
                return Plan.refuse(self.id, f"{d.file} was not readable", f"cannot read {d.file}")
            try:
                after = set_handler_target(before, d.line, new)
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {d.file}:{d.line}", str(exc))
            edits.set(d.file, after, f"line {d.line}: {t.raw} → {new}")
        return Plan.edits(
            self.id,
            "point Apache's PHP handler at " + ", ".join(sorted({p.endpoint.dial().address for _, p in chosen})),
            edits.writes(),
            ConfigTest(web.config_test_argv or ("apache2ctl", "configtest"), "never reload a config Apache rejects"),
            Service(web.service or "apache2", "reload", "load the corrected handler"),
            noop="every handler already points at a listening pool",
        )
