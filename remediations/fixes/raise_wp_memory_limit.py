"""Raise WordPress's memory limit in wp-config.php — when the site's PHP log says PHP ran out.

``Allowed memory size of N bytes exhausted`` in the site's own error log (debug.log, error_log,
read as root or as the account) is the one proof; the site's answer is a 500 (WordPress's
"critical error" page) or a dead worker.  WordPress raises PHP's ``memory_limit`` to
``WP_MEMORY_LIMIT`` early in every request unless the host pins it (``php_admin_value``: the
verification probe tells).  The edit is
one line: the existing ``define('WP_MEMORY_LIMIT', ...)`` gets a new value, or a new ``define`` goes
just above "That's all, stop editing!" (else above the ``wp-settings.php`` require); every other byte
of wp-config.php stays, and the journal keeps the original.  256M, then 512M at most: past that the
code needs fixing, not more memory.
"""

from __future__ import annotations

import posixpath
import re

from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import Plan, WriteFile

EXHAUSTED = re.compile(r"Allowed memory size of (\d+) bytes exhausted")
DEFINE = re.compile(r"""(define\s*\(\s*['"]WP_MEMORY_LIMIT['"]\s*,\s*['"])([^'"]*)(['"]\s*\))""")
ANCHORS = (re.compile(r"^.*That's all, stop editing.*$", re.M), re.compile(r"^.*require.*wp-settings\.php.*$", re.M))
STEPS = ("256M", "512M")
UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def to_bytes(value: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", value.upper())
    return int(m.group(1)) * UNITS[m.group(2)] if m else None


@register
class RaiseWpMemoryLimit(Fix):
    id = "raise-wp-memory-limit"
    title = "Raise WP_MEMORY_LIMIT in wp-config.php"
    causes = frozenset({"not-502", "worker-crash"})

    def _config(self, ctx: FixContext) -> tuple[str, str] | None:
        wp = ctx.facts.wordpress
        root = wp.root
        if not root or not wp.config_writable:
            return None
        path = posixpath.join(root, "wp-config.php")
        text = ctx.facts.files.get(path)
        return (path, text) if text is not None else None

    def _exhausted(self, ctx: FixContext) -> int:
        # the site's own PHP error logs (debug.log, error_log), read as root or as the account
        sizes = [int(m.group(1)) for ln in ctx.facts.wordpress.logs for m in [EXHAUSTED.search(ln.text)] if m]
        return max(sizes, default=0)

    def guard(self, ctx: FixContext) -> bool:
        return self._config(ctx) is not None and self._exhausted(ctx) > 0 and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        found = self._config(ctx)
        assert found is not None  # the guard
        path, before = found
        exhausted = self._exhausted(ctx)
        current = DEFINE.search(before)
        now = to_bytes(current.group(2)) if current else None
        floor = max(exhausted, now or 0)
        target = next((s for s in STEPS if (to_bytes(s) or 0) > floor), None)
        why = f"PHP ran out at {exhausted // 1024**2}M (Allowed memory size ... exhausted)"
        if target is None:
            return Plan.noop(self.id, f"{why}; WP_MEMORY_LIMIT is already {STEPS[-1]} or more: the code needs a look")
        if current:
            after = before[: current.start(2)] + target + before[current.end(2) :]
        else:
            anchor = next((m for a in ANCHORS for m in [a.search(before)] if m), None)
            if anchor is None:
                return Plan.noop(
                    self.id, f"{why}; no place in wp-config.php to define WP_MEMORY_LIMIT before WordPress loads"
                )
            eol = "\r\n" if before[: anchor.end()].endswith("\r") else "\n"  # the file's own line ends
            line = f"define( 'WP_MEMORY_LIMIT', '{target}' ); // fix502: {why}{eol}"
            after = before[: anchor.start()] + line + before[anchor.start() :]
        return Plan(
            self.id,
            f"WP_MEMORY_LIMIT {current.group(2) if current else '(unset)'} → {target}",
            [WriteFile(path, before, after, why)],
            notes=["a host that pins memory_limit (php_admin_value) ignores this: the probe tells"],
        )
