"""Size nginx's FastCGI buffers to the headers the site really sends.

``upstream sent too big header`` means the response headers did not fit ``fastcgi_buffer_size``.
One guess is not a fix: the size steps up a ladder (32k, 64k, 128k, to the cap of 256k), each step
applied, config-tested, reloaded and probed, and the first size that lets the page through stays.
The dry run shows the ladder and the arithmetic.  The directives go right under the site's own
``fastcgi_pass`` (for ``fastcgi_pass NAME``, the one that names the upstream), so only that PHP
location changes.  Headers beyond the cap are the plugin's bug, escalated with that said.
"""

from __future__ import annotations

import re

from remediations.edit import EditError
from remediations.edit.nginx import ensure_directives_in_block
from remediations.fixes._common import php_locations
from remediations.fixes.base import Fix, FixContext, Probe, ProbeResult, Steps, register
from remediations.plan import ConfigTest, Edits, Plan, Service, WriteFile

LADDER_K = (32, 64, 128, 256)
CAP_K = LADDER_K[-1]
NGINX_DEFAULT_K = 4  # one memory page on x86_64: nginx's default fastcgi_buffer_size


def _kib(value: str) -> int:
    """nginx size syntax (``8k``, ``1m``, ``4096``) in KiB; 0 when it cannot be read."""
    m = re.fullmatch(r"(\d+)([kKmM]?)", value)
    if not m:
        return 0
    n, unit = int(m.group(1)), m.group(2).lower()
    return n * 1024 if unit == "m" else n if unit == "k" else max(1, n // 1024)


@register
class RaiseFastcgiBuffers(Fix):
    id = "raise-fastcgi-buffers"
    title = "Size nginx fastcgi buffers to the response headers"
    causes = frozenset({"header-too-big"})
    params = {"buffer_size": str, "buffers": str}

    def guard(self, ctx: FixContext) -> bool:
        return ctx.facts.web.kind == "nginx" and super().guard(ctx)

    def _current_k(self, ctx: FixContext) -> int:
        sizes = [_kib(d.args[0]) for d in ctx.facts.web.buffer_directives if d.name == "fastcgi_buffer_size" and d.args]
        return max(sizes, default=NGINX_DEFAULT_K)

    def _ladder(self, ctx: FixContext) -> list[int]:
        if "buffer_size" in ctx.params:
            return [_kib(str(ctx.params["buffer_size"]))]
        return [k for k in LADDER_K if k > self._current_k(ctx)]

    def _notes(self, ctx: FixContext, ladder: list[int]) -> list[str]:
        current = self._current_k(ctx)
        shown = ", ".join(f"{k}k" for k in ladder)
        return [
            f"fastcgi_buffer_size now {current}k"
            + (" (nginx's default: one memory page)" if current == NGINX_DEFAULT_K else ""),
            f"the headers did not fit: try {shown}, each applied, reloaded and probed; the first that passes stays",
            f"fastcgi_buffers 16 × size: at the cap {CAP_K}k that is {16 * CAP_K}k per request at most",
        ]

    def _step(self, ctx: FixContext, files: dict[str, str], size_k: int, notes: list[str]) -> Plan:
        size = f"{size_k}k"
        buffers = str(ctx.params.get("buffers", f"16 {size}")).split()
        edits = Edits(files)
        # nginx -t insists fastcgi_buffer_size <= busy <= all buffers but one, and an inherited
        # busy size (Centmin Mod's 1m, HestiaCP's 256k) breaks that once the size changes: set
        # it in the same block, to nginx's own default of two buffers.
        busy = f"{2 * size_k}k"
        wanted = [("fastcgi_buffer_size", [size]), ("fastcgi_buffers", buffers), ("fastcgi_busy_buffers_size", [busy])]
        for anchor in php_locations(ctx):
            text, line = edits.text(anchor.file), edits.line(anchor.file, anchor.line, ctx.facts.files.get(anchor.file))
            if text is None:
                return Plan.refuse(self.id, f"{anchor.file} was not readable", f"cannot read {anchor.file}")
            if line is None:
                where = f"{anchor.file}:{anchor.line}"
                return Plan.refuse(self.id, f"{where} changed", f"the fastcgi_pass at {where} is no longer there")
            try:
                after = ensure_directives_in_block(text, line, wanted, anchor_name="fastcgi_pass")
            except EditError as exc:
                return Plan.refuse(self.id, f"cannot edit {anchor.file}:{anchor.line}", str(exc))
            edits.set(
                anchor.file,
                after,
                f"fastcgi_buffer_size {size}; fastcgi_buffers {' '.join(buffers)}; fastcgi_busy_buffers_size {busy}",
            )
        plan = Plan.edits(
            self.id,
            f"fastcgi_buffer_size {size}, fastcgi_buffers {' '.join(buffers)}",
            edits.writes(),
            ConfigTest(("nginx", "-t"), "never reload a config nginx rejects"),
            Service("nginx", "reload", "load the larger buffers"),
            noop="buffers already set as wanted",
            notes=notes,
        )
        plan.may_change = len(self._ladder(ctx)) > 1
        return plan

    def plan(self, ctx: FixContext) -> Plan:
        return next(self.steps(ctx))

    def verify(self, ctx: FixContext) -> Probe:
        # Headers either fit or they do not: two tries per size, not the playbook's long backoff.
        return Probe(attempts=2)

    def steps(self, ctx: FixContext) -> Steps:
        ladder = self._ladder(ctx)
        if not ladder:
            yield Plan.refuse(
                self.id,
                f"fastcgi_buffer_size is already {self._current_k(ctx)}k",
                f"headers exceed the {CAP_K}k cap: the plugin or theme sending them must be fixed",
            )
            return None
        files = dict(ctx.facts.files)
        notes = self._notes(ctx, ladder)
        for size_k in ladder:
            plan = self._step(ctx, files, size_k, notes)
            result: ProbeResult = yield plan
            if plan.empty:
                return None
            files.update({op.path: op.after for op in plan.ops if isinstance(op, WriteFile)})
            if result.ok:
                return f"the headers fit at fastcgi_buffer_size {size_k}k"
            notes = []
        return f"still failing at {ladder[-1]}k: the plugin or theme sending such headers must be fixed"
