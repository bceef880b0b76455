"""The memory rule, in one place: the diagnosis checks it and ``size-max-children`` sizes by it.

The seed's rule: a full pool needs ``pm.max_children × peak worker RSS × 1.25`` (25 % headroom),
and that must fit in the RAM PHP can have — MemAvailable plus what the FPM workers hold right now
(that memory is already theirs; counting it as used would penalise a pool for being busy).
"""

from __future__ import annotations

import math

from remediations.facts.model import HostFacts

HEADROOM = 1.25


def needed_kb(children: int, peak_rss_kb: int) -> int:
    """RAM a full pool of ``children`` workers needs."""
    return math.ceil(children * peak_rss_kb * HEADROOM)


def available_to_php_kb(mem_available_kb: int, worker_rss_kb: list[int]) -> int:
    return mem_available_kb + sum(worker_rss_kb)


def fitting_children(available_kb: int, peak_rss_kb: int, share: float = 1.0) -> int:
    """How many workers of ``peak_rss_kb`` fit in ``share`` of ``available_kb`` (at least 1)."""
    return max(1, math.floor(available_kb * share / (peak_rss_kb * HEADROOM)))


def _unknown(children: list[int], rss: list[int], avail: int | None) -> str:
    missing = [
        n for n, v in (("pm.max_children", children), ("worker RSS", rss), ("MemAvailable", avail)) if not v and v != 0
    ]
    return f"cannot check the memory budget: {', '.join(missing)} unknown"


def memory_budget(facts: HostFacts) -> dict[str, object]:
    """The rule applied to one host, with the arithmetic spelled out for the report."""
    services = [s for s in facts.fpm if s.running] or facts.fpm  # stopped FPM: what it would start
    children = [p.max_children for s in services for p in s.pools if p.max_children is not None]
    rss = [r for s in facts.fpm for r in s.worker_rss_kb]
    avail = facts.resources.mem_available_kb
    out: dict[str, object] = {
        "max_children": sum(children) if children else None,
        "peak_worker_rss_kb": max(rss) if rss else None,
        "headroom": HEADROOM,
        "mem_available_kb": avail,
        "fpm_rss_kb": sum(rss),
    }
    if not children or not rss or avail is None:
        out.update(
            needed_kb=None,
            available_to_php_kb=None,
            suggested_max_children=None,
            verdict="unknown",
            message=_unknown(children, rss, avail),
        )
        return out
    peak, total = max(rss), sum(children)
    needed = needed_kb(total, peak)
    available = available_to_php_kb(avail, rss)
    suggested = fitting_children(available, peak)
    verdict = "ok" if needed <= available else "over"
    out.update(needed_kb=needed, available_to_php_kb=available, suggested_max_children=suggested, verdict=verdict)
    rel = "fits in" if verdict == "ok" else "exceeds"
    out["message"] = (
        f"{total} × {peak} kB × {HEADROOM} = {needed} kB {rel} {available} kB available to PHP "
        f"({avail} kB MemAvailable + {sum(rss)} kB FPM RSS)"
        + ("" if verdict == "ok" else f"; lower pm.max_children to {suggested}")
    )
    return out
