"""Fall back to a default theme — only when plugins are cleared and the theme is what still crashes.

Runs after ``bisect-plugins`` in the playbook: if the site failed even with every plugin disabled
that fix was rolled back and this one is next.  The theme is switched in WordPress's own options
(``template``/``stylesheet``) through php-cli with SHORTINIT (wp-config and $wpdb, no plugins, no
theme code); the journal keeps the inverse command, so rollback switches back.
"""

from __future__ import annotations

from remediations.facts.script import as_site_user
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import Command, Plan

SET_THEME = (
    "define('SHORTINIT', true); $_SERVER['HTTP_HOST'] = 'localhost'; require $argv[1] . '/wp-load.php'; "
    "global $wpdb; foreach (array('template' => $argv[2], 'stylesheet' => $argv[3]) as $k => $v) { "
    "if (false === $wpdb->update($wpdb->options, array('option_value' => $v), array('option_name' => $k))) "
    "{ fwrite(STDERR, 'cannot update ' . $k . PHP_EOL); exit(1); } }"
)


@register
class FallbackTheme(Fix):
    id = "fallback-theme"
    title = "Switch to a default theme"
    causes = frozenset({"worker-crash", "worker-timeout"})
    params = {"theme": str}

    def guard(self, ctx: FixContext) -> bool:
        wp = ctx.facts.wordpress
        return bool(wp.root and wp.template) and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        wp = ctx.facts.wordpress
        theme = str(ctx.params.get("theme", "twentytwentythree"))
        if wp.template == theme and wp.stylesheet == theme:
            return Plan.noop(self.id, f"the theme is already {theme}")
        root, template, stylesheet = wp.root or "", wp.template or "", wp.stylesheet or wp.template or ""
        # WordPress's code is the site's (maybe a compromised one's): only ever as its PHP user
        forward = as_site_user(ctx.facts, ("php", "-r", SET_THEME, root, theme, theme))
        undo = as_site_user(ctx.facts, ("php", "-r", SET_THEME, root, template, stylesheet))
        if forward is None or undo is None:
            return Plan(self.id, "theme not switched", escalate="no non-root user to run WordPress's code as")
        return Plan(
            self.id,
            f"switch theme {stylesheet} → {theme}",
            [
                Command(
                    forward,
                    undo,
                    f"the site fails with every plugin disabled; try the default theme {theme}",
                ),
            ],
        )
