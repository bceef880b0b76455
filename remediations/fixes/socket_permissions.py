"""Let the web server's user connect to the pool's Unix socket.

nginx logs ``connect() to unix:... failed (13: Permission denied)``; Apache ``(13)Permission denied:
AH02454``.  The pool's ``listen.owner``/``listen.group``/``listen.mode`` are set so the web server's
user owns the socket with mode 0660 (Debian's default), then FPM restarts to recreate the socket.
"""

from __future__ import annotations

from remediations.edit import EditError
from remediations.edit.fpm_ini import set_value
from remediations.fixes._common import pools_behind, web_group
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Edits, Plan, Service


@register
class FixSocketPermissions(Fix):
    id = "fix-socket-permissions"
    title = "Fix the FPM socket's owner, group and mode"
    causes = frozenset({"socket-permission"})
    params = {"mode": str, "owner": str, "group": str}

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        user = web_group(facts)
        owner = str(ctx.params.get("owner", user))
        group = str(ctx.params.get("group", user))
        mode = str(ctx.params.get("mode", "0660"))
        want = {"listen.owner": owner, "listen.group": group, "listen.mode": mode}
        edits = Edits(facts.files)
        pools = [
            p for p in pools_behind(facts, [t.endpoint for t in facts.web.fastcgi_targets]) if p.endpoint.kind == "unix"
        ]
        for p in pools:
            have = {
                "listen.owner": p.pool.listen_owner,
                "listen.group": p.pool.listen_group,
                "listen.mode": p.pool.listen_mode,
            }
            text = edits.text(p.pool.file)
            if text is None:
                return Plan.refuse(self.id, f"{p.pool.file} was not readable", f"cannot read {p.pool.file}")
            try:
                for key, value in want.items():
                    if have[key] != value:
                        text = set_value(text, p.pool.name, key, value)
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {p.pool.file}", str(exc))
            edits.set(p.pool.file, text, f"socket {owner}:{group} {mode} for the web server user {user}")
        if not pools:
            return Plan.noop(self.id, "no pool behind the web server listens on a unix socket")
        svc = pools[0].service
        return Plan.edits(
            self.id,
            f"socket owned by {owner}:{group} mode {mode}",
            edits.writes(),
            ConfigTest(svc.config_test_argv, "never restart FPM on a configuration it rejects"),
            Service(svc.service, "restart", "recreate the socket with the new owner and mode"),
            noop="the pool's listen.owner/group/mode already admit the web server",
        )
