"""Find the plugin that kills (or stalls) PHP workers, by bisection, and disable only it.

Step 1 is the articles' test: rename ``wp-content/plugins`` away (a fresh empty ``plugins`` takes its
place) so WordPress loads none.  If the site then renders, plugins are the cause and the search
begins: half of the suspects move back each step and one probe says whether the culprit is among
them — ⌈log2 n⌉ probes instead of n.  At the end every plugin except the culprit is back in place.

Nothing is deactivated in the database: WordPress simply skips an active plugin whose file is
missing, so each other plugin keeps exactly its previous active state, and rollback (reverse the
renames) restores everything byte for byte.
"""

from __future__ import annotations

import posixpath

from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult, Steps, register
from remediations.plan import MakeDir, Plan, Rename

PARKED = "plugins.fix502-off"


def plugin_entry(active: str) -> str:
    """``akismet/akismet.php`` lives in the entry ``akismet``; ``hello.php`` is its own entry."""
    return active.split("/", 1)[0]


@register
class BisectPlugins(Fix):
    id = "bisect-plugins"
    title = "Find the culprit plugin by bisection"
    causes = frozenset({"worker-crash", "worker-timeout"})

    def guard(self, ctx: FixContext) -> bool:
        wp = ctx.facts.wordpress
        return bool(wp.root and wp.plugin_dirs) and super().guard(ctx)

    def _paths(self, ctx: FixContext) -> tuple[str, str]:
        root = ctx.facts.wordpress.root or ""
        content = posixpath.join(root, "wp-content")
        return posixpath.join(content, "plugins"), posixpath.join(content, PARKED)

    def _split(self, ctx: FixContext) -> tuple[list[str], list[str]]:
        """(suspects: entries of active plugins in load order, others: everything else in plugins/)."""
        wp = ctx.facts.wordpress
        entries = list(wp.plugin_dirs)
        active = [plugin_entry(a) for a in (wp.active_plugins or [])]
        if wp.active_plugins is None:  # WordPress's data unreadable: every entry is a suspect
            active = [e for e in entries if e != "index.php"]
        suspects = [e for e in dict.fromkeys(active) if e in entries]
        return suspects, [e for e in entries if e not in suspects]

    def plan(self, ctx: FixContext) -> Plan:
        plugins, parked = self._paths(ctx)
        _, others = self._split(ctx)
        return Plan(
            self.id,
            "disable every plugin (rename wp-content/plugins) and probe",
            [
                Rename(plugins, parked, "the articles' test: load WordPress without plugins"),
                MakeDir(plugins, parked, "an empty plugins directory in its place"),
                *(
                    Rename(posixpath.join(parked, n), posixpath.join(plugins, n), "not a plugin that is active")
                    for n in others
                ),
            ],
            may_change=True,
        )

    def verify(self, ctx: FixContext) -> Probe:
        # A crashing plugin fails every time: a second attempt guards against a blip, more would
        # only slow the search down.
        return Probe(attempts=2)

    def steps(self, ctx: FixContext) -> Steps:
        plugins, parked = self._paths(ctx)
        suspects, _ = self._split(ctx)
        total = len(suspects)
        inside: set[str] = set()

        def move(names: list[str], into: bool, why: str, notes: list[str] | None = None) -> Plan:
            pairs = [(posixpath.join(parked, n), posixpath.join(plugins, n)) for n in names]
            ops = [Rename(a, b, why) if into else Rename(b, a, why) for a, b in pairs]
            return Plan(self.id, why, list(ops), notes=notes or [], may_change=True)

        result: ProbeResult = yield self.plan(ctx)
        if not result.ok:
            return "the site fails with every plugin disabled: plugins are not the cause"
        probes = 1
        outside = True  # are the remaining suspects parked (site healthy) or inside (site failing)?
        while len(suspects) > 1:
            half, rest = suspects[: len(suspects) // 2], suspects[len(suspects) // 2 :]
            if outside:
                result = yield move(half, True, f"bisect: bring back {', '.join(half)}")
                inside.update(half)
                # failing now: the culprit is in the half just brought back (and it is inside)
                suspects, outside = (rest, True) if result.ok else (half, False)
            else:
                result = yield move(half, False, f"bisect: park {', '.join(half)} again")
                inside.difference_update(half)
                suspects, outside = (half, True) if result.ok else (rest, False)
            probes += 1
        if not suspects:
            return "no active plugin to test"
        culprit = suspects[0]
        note = f"culprit: {culprit} ({probes + 1} probes for {total} active plugins)"
        final = move(
            [e for e in self._split(ctx)[0] if e != culprit and e not in inside],
            True,
            f"restore every plugin but {culprit}",
            [note],
        )
        if culprit in inside:
            final.ops.insert(
                0, Rename(posixpath.join(plugins, culprit), posixpath.join(parked, culprit), f"keep {culprit} disabled")
            )
        result = yield final
        if not result.ok:
            return f"{culprit} looked guilty but the site still fails without it"
        return f"culprit plugin {culprit} left disabled in {parked}/; {note}"
