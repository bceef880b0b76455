"""Move page caches and cache drop-ins aside — the FAQ's first step, and one the site owner can take.

A page cache keeps serving what it stored, and a cache drop-in (``object-cache.php`` is loaded on
every request; ``advanced-cache.php`` whenever ``WP_CACHE`` is true) runs before any plugin: one
left behind by a removed or broken cache plugin fails every page, and parking plugins cannot help.
WP Super Cache, W3 Total Cache, WP Rocket and LiteSpeed Cache keep their files in known
``wp-content`` directories.  Nothing is deleted: each is renamed to ``NAME.fix502-off`` (a rename
never follows a link: a link is moved as the link), an empty directory takes a cache directory's
place so its plugin can refill it, and rollback renames everything back.
"""

from __future__ import annotations

import posixpath

from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import MakeDir, Op, Plan, Rename

OFF = ".fix502-off"


@register
class ClearPageCache(Fix):
    id = "clear-page-cache"
    title = "Move page caches and cache drop-ins aside"
    causes = frozenset({"worker-crash", "worker-timeout"})

    def _targets(self, ctx: FixContext) -> tuple[list[str], list[tuple[str, str]]]:
        """(drop-ins WordPress loads, (cache dir, dir|link)) that the evidence saw — as root or as
        the account: both fill ``facts.wordpress`` alike."""
        wp = ctx.facts.wordpress
        dropins = [name for name in sorted(wp.dropins) if name == "object-cache.php" or wp.wp_cache is not False]
        caches = [(d, kind) for d, (kind, files) in sorted(wp.caches.items()) if kind == "link" or files > 0]
        return dropins, caches

    def guard(self, ctx: FixContext) -> bool:
        dropins, caches = self._targets(ctx)
        return bool(ctx.facts.wordpress.root and (dropins or caches)) and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        wc = posixpath.join(ctx.facts.wordpress.root or "", "wp-content")
        dropins, caches = self._targets(ctx)
        ops: list[Op] = [
            Rename(posixpath.join(wc, n), posixpath.join(wc, n + OFF), f"drop-in {n} runs before any plugin")
            for n in dropins
        ]
        for d, kind in caches:
            path = posixpath.join(wc, d)
            ops.append(Rename(path, path + OFF, "a page cache can keep serving a broken page"))
            if kind == "dir":
                ops.append(MakeDir(path, path + OFF, "an empty cache directory its plugin can refill"))
        if not ops:
            return Plan.noop(self.id, "no page cache or cache drop-in in wp-content")
        names = ", ".join([*dropins, *(d for d, _ in caches)])
        return Plan(
            self.id,
            f"move aside {names} (renamed to *{OFF}, never deleted)",
            ops,
            notes=[f"once the site is fine, the *{OFF} copies in {wc} may be deleted"],
        )
