"""Whether a program the host named may be run by fix502 (as root).

A compromised site runs as the web user; whatever it can write — uploads, wp-content, /tmp — it can
make a host *name* (a forged log line, a pool file it managed to get included).  So a binary path
that reached us as a fact is data to validate, and this module is the one place that decides: the
evidence script reports ``stat`` of the binary's real path and of every directory above it, and a
binary is trusted only when all of them are root-owned and writable by nobody else, and the path is
outside every web root and scratch directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remediations.facts.model import HostFacts
    from remediations.plan import Plan

# Directories any local user (or the web user) can write into, or that hold the site itself.
UNSAFE_PREFIXES = ("/tmp", "/var/tmp", "/dev/shm", "/run/user", "/var/www", "/srv", "/home")
UNSAFE_PARTS = ("wp-content", "uploads")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
STAT_LINE = re.compile(r"(\d+)\|([0-7]{1,5})\|([^|]*)\|(.*)")


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return bool(prefix) and (path == prefix or path.startswith(prefix + "/"))


def ancestors(path: str) -> list[str]:
    """``/usr/sbin/php-fpm8.2`` → the path, ``/usr/sbin``, ``/usr``, ``/`` (what the script stats)."""
    out = [path]
    head = path.rsplit("/", 1)[0]
    while head:
        out.append(head)
        head = head.rsplit("/", 1)[0]
    return [*out, "/"]


def path_problem(path: str, web_roots: Iterable[str] = ()) -> str | None:
    """Where a program may never live, whoever owns it."""
    if not path.startswith("/") or CONTROL.search(path) or "/../" in path + "/" or "/./" in path + "/":
        return f"{path!r} is not a plain absolute path"
    for prefix in UNSAFE_PREFIXES:
        if _under(path, prefix):
            return f"{path} is under {prefix}, which other users can write or which holds a site"
    if any(part in UNSAFE_PARTS for part in path.split("/")):
        return f"{path} is inside a WordPress content/uploads directory"
    for root in web_roots:
        if root.startswith("/") and root.rstrip("/") and _under(path, root):
            return f"{path} is inside the web root {root}"
    return None


def binary_problem(binary: str, real: str | None, stats: list[str] | None, web_roots: Iterable[str] = ()) -> str | None:
    """None when ``binary`` may be run as root, else why not (said plainly, for a note).

    ``real`` is ``readlink -f`` of it, ``stats`` the script's ``uid|mode|type|path`` lines for the
    real path and each directory above it, in that order."""
    roots = list(web_roots)
    for path in dict.fromkeys(filter(None, (binary, real))):
        problem = path_problem(path, roots)
        if problem:
            return problem
    if not real or not stats:
        return "owner and mode of the binary were not reported"
    expected = ancestors(real)
    if len(stats) != len(expected):
        return f"owner and mode of {real} and its directories were not all reported"
    for line, path in zip(stats, expected, strict=True):
        m = STAT_LINE.fullmatch(line)
        if m is None or m.group(4) != path:
            return f"unreadable stat line for {path}"
        uid, mode, kind = int(m.group(1)), int(m.group(2), 8), m.group(3)
        if path == real and kind != "regular file":
            return f"{real} is a {kind or 'missing file'}, not a regular file"
        if uid != 0:
            return f"{path} is owned by uid {uid}, not root"
        if mode & 0o022:
            return f"{path} is group- or world-writable (mode {mode:o})"
    return None


def untrusted_program(plan: Plan, facts: HostFacts | None) -> str | None:
    """Why a plan must not run: it would execute (argv[0]) an FPM binary the evidence did not
    prove root's alone.  The one check for every fix, stepwise ones included (the fix driver)."""
    fpm = facts.fpm if facts is not None else []
    untrusted = {svc.binary: svc.binary_problem for svc in fpm if svc.binary_problem}
    web = facts.web if facts is not None else None
    if web is not None and web.binary and web.binary_problem:  # Apache's own binary (RHEL's httpd)
        untrusted[web.binary] = web.binary_problem
    for op in plan.ops:
        argv = getattr(op, "argv", None) or ()
        if argv and argv[0] in untrusted:
            return f"{argv[0]} not run: {untrusted[argv[0]]}"
    return None


def vetted(plan: Plan, facts: HostFacts | None) -> Plan:
    """``plan``, or a refusal in its place when it would run an untrusted binary."""
    from remediations.plan import Plan as _Plan

    problem = untrusted_program(plan, facts)
    if problem is None:
        return plan
    return _Plan.refuse(plan.fix_id, f"{plan.summary} (refused)", problem, plan.notes)
