"""Raise ``fastcgi_buffer_size``/``fastcgi_buffers`` where nginx logs ``upstream sent too big header``.

Added (or raised) right under each ``fastcgi_pass`` so only the PHP location changes; the size
doubles from what is set (default 32k, at most 256k) and ``nginx -t`` gates the reload.
"""

from __future__ import annotations

import re

from remediations.edit import EditError
from remediations.edit.nginx import ensure_directives_in_block
from remediations.fixes.base import Fix, FixContext, register
from remediations.plan import ConfigTest, Plan, Service, WriteFile

CAP_K = 256


def _kib(value: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmM]?)", value)
    if not m:
        return 0
    n = int(m.group(1))
    return n * 1024 if m.group(2) in "mM" and m.group(2) else n if m.group(2) else max(1, n // 1024)


@register
class RaiseFastcgiBuffers(Fix):
    id = "raise-fastcgi-buffers"
    title = "Raise nginx fastcgi buffers"
    causes = frozenset({"header-too-big"})
    params = {"buffer_size": str, "buffers": str}

    def guard(self, ctx: FixContext) -> bool:
        return ctx.facts.web.kind == "nginx" and super().guard(ctx)

    def plan(self, ctx: FixContext) -> Plan:
        facts = ctx.facts
        current = max(
            (_kib(d.args[0]) for d in facts.web.buffer_directives if d.name == "fastcgi_buffer_size" and d.args),
            default=0,
        )
        size_k = min(CAP_K, max(32, current * 2))
        if current >= CAP_K:
            return Plan(
                self.id,
                f"fastcgi_buffer_size is already {current}k",
                escalate="headers exceed 256k: the plugin sending them must be fixed",
            )
        size = str(ctx.params.get("buffer_size", f"{size_k}k"))
        buffers = str(ctx.params.get("buffers", f"16 {size}")).split()
        texts: dict[str, str] = {}
        for t in facts.web.fastcgi_targets:
            if t.directive.name != "fastcgi_pass":
                continue
            path = t.directive.file
            text = texts.get(path, facts.files.get(path))
            if text is None:
                return Plan(self.id, f"{path} was not readable", escalate=f"cannot read {path}")
            try:
                texts[path] = ensure_directives_in_block(
                    text,
                    t.directive.line,
                    [("fastcgi_buffer_size", [size]), ("fastcgi_buffers", buffers)],
                    anchor_name="fastcgi_pass",
                )
            except EditError as exc:
                return Plan(self.id, f"cannot edit {path}:{t.directive.line}", escalate=str(exc))
        writes = [
            WriteFile(p, facts.files[p], t, f"fastcgi_buffer_size {size}; fastcgi_buffers {' '.join(buffers)}")
            for p, t in texts.items()
            if t != facts.files[p]
        ]
        if not writes:
            return Plan(self.id, "buffers already set as wanted")
        return Plan(
            self.id,
            f"fastcgi_buffer_size {size}, fastcgi_buffers {' '.join(buffers)}",
            [
                *writes,
                ConfigTest(("nginx", "-t"), "never reload a config nginx rejects"),
                Service("nginx", "reload", "load the larger buffers"),
            ],
        )
