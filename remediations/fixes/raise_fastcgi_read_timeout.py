"""Give PHP the time PHP itself allows: raise a ``fastcgi_read_timeout`` that cuts requests short.

nginx logs ``upstream timed out (110: Connection timed out) while reading response header from
upstream`` and answers 504 when PHP has not answered within ``fastcgi_read_timeout``.  That is a
fix only when PHP's own wall-clock limit (the pool's ``request_terminate_timeout``) is longer, or
absent, i.e. when PHP would have finished the page: then nginx's timeout is raised to PHP's limit
plus a margin (so PHP ends a runaway request and logs it, not nginx), or to nginx's own default of
60 s when PHP sets none.  A timeout already at that point means the request itself is too slow:
escalated, never raised without end.
"""

from __future__ import annotations

import re

from remediations.edit import EditError
from remediations.edit.nginx import ensure_directives_in_block
from remediations.fixes._common import php_locations
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Edits, Plan, Service

NGINX_DEFAULT_S = 60
MARGIN_S = 5


def seconds(value: str | None) -> int | None:
    """nginx/FPM time syntax (``30``, ``30s``, ``2m``, ``1h``) in seconds; None when unset or unreadable."""
    m = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", value or "")
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


@register
class RaiseFastcgiReadTimeout(Fix):
    id = "raise-fastcgi-read-timeout"
    title = "Raise nginx fastcgi_read_timeout to PHP's own limit"
    causes = frozenset({"read-timeout"})
    params = {"seconds": int}

    def guard(self, ctx: FixContext) -> bool:
        return ctx.facts.web.kind == "nginx" and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        web = ctx.facts.web
        set_at = [seconds(d.args[0]) for d in web.buffer_directives if d.name == "fastcgi_read_timeout" and d.args]
        current = max((s for s in set_at if s is not None), default=NGINX_DEFAULT_S)
        php = self._php_limit(ctx)
        wanted = int(ctx.params.get("seconds", php + MARGIN_S if php else NGINX_DEFAULT_S))
        limit = f"request_terminate_timeout {php}s" if php else "none (request_terminate_timeout 0)"
        notes = [
            f"fastcgi_read_timeout now {current}s" + ("" if set_at else " (nginx's default)"),
            f"PHP's own wall-clock limit: {limit}",
            f"new fastcgi_read_timeout = {f'{php}s + {MARGIN_S}s margin' if php else 'nginx default'} = {wanted}s",
        ]
        if wanted <= current:
            return Plan.refuse(
                self.id,
                f"fastcgi_read_timeout {current}s already gives PHP its own limit",
                "the request is slower than PHP itself allows: find it in the FPM slowlog, do not wait longer",
                notes,
            )
        return self._edit(ctx, wanted, notes)

    @staticmethod
    def _php_limit(ctx: FixContext) -> int | None:
        limits = [seconds(p.request_terminate_timeout) for s in ctx.facts.fpm if s.running for p in s.pools]
        known = [x for x in limits if x]
        return max(known) if known else None

    def _edit(self, ctx: FixContext, wanted: int, notes: list[str]) -> Plan:
        edits = Edits(ctx.facts.files)
        for anchor in php_locations(ctx):
            text, line = edits.text(anchor.file), edits.line(anchor.file, anchor.line)
            if text is None:
                return Plan.refuse(self.id, f"{anchor.file} was not readable", f"cannot read {anchor.file}")
            if line is None:
                where = f"{anchor.file}:{anchor.line}"
                return Plan.refuse(self.id, f"{where} changed", f"the fastcgi_pass at {where} is no longer there")
            try:
                after = ensure_directives_in_block(
                    text, line, [("fastcgi_read_timeout", [f"{wanted}s"])], anchor_name="fastcgi_pass"
                )
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {anchor.file}:{anchor.line}", str(exc))
            edits.set(anchor.file, after, f"fastcgi_read_timeout {wanted}s in the PHP location")
        return Plan.edits(
            self.id,
            f"fastcgi_read_timeout {wanted}s",
            edits.writes(),
            ConfigTest(("nginx", "-t"), "never reload a config nginx rejects"),
            Service("nginx", "reload", "load the longer read timeout"),
            noop=f"fastcgi_read_timeout is already {wanted}s where PHP is passed",
            notes=notes,
        )
