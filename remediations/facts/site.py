"""Which nginx ``server`` block serves the inventory's ``site_url`` — the site's own chain.

A host serves many sites.  The block nginx itself would pick for the site's host and port decides
which ``fastcgi_pass`` (and through it which ``upstream`` and pool) and which ``error_log`` count;
fixes touch only that chain, and every other site stays byte-identical.

``nginx -T`` prints every file nginx loaded, but ``include`` lines stay lines: the tree is rebuilt
here by putting each included file's statements where its ``include`` stands (glob patterns sorted,
as nginx does; relative paths against the main file's directory, nginx's conf prefix).  Selection
follows nginx's own rules (ngx_http_find_virtual_server): the listen address and port first, then
the exact ``server_name``, the longest leading wildcard, the longest trailing wildcard, the first
matching regex; else the ``default_server`` of that address:port, else the first block on it.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import urllib.parse
from dataclasses import dataclass

from remediations.facts.nginx_tree import NginxStmt, walk_nginx

ANY_ADDRESS = frozenset({"", "*", "0.0.0.0", "[::]", "::"})
MAX_INCLUDE_DEPTH = 16  # nginx itself refuses deeper recursion long before this matters


@dataclass(frozen=True)
class ServerBlock:
    file: str
    line: int
    listens: tuple[tuple[str, int, bool], ...]  # (address or "", port, default_server)
    names: tuple[str, ...]
    body: tuple[NginxStmt, ...]  # includes expanded

    @property
    def where(self) -> str:
        names = " ".join(self.names) or '""'
        return f"{self.file}:{self.line} server_name {names}"


def expand(trees: dict[str, tuple[NginxStmt, ...]], main: str) -> tuple[NginxStmt, ...]:
    """The main file's statements with every ``include`` replaced by the files it names."""
    prefix = posixpath.dirname(main)

    def inline(stmts: tuple[NginxStmt, ...], depth: int) -> tuple[NginxStmt, ...]:
        out: list[NginxStmt] = []
        for s in stmts:
            if s.directive == "include" and s.args and depth < MAX_INCLUDE_DEPTH:
                pattern = s.args[0] if s.args[0].startswith("/") else posixpath.join(prefix, s.args[0])
                for path in sorted(p for p in trees if fnmatch.fnmatchcase(p, pattern)):
                    out.extend(inline(trees[path], depth + 1))
            elif s.block is not None:
                out.append(NginxStmt(s.directive, s.args, s.line, s.file, inline(s.block, depth)))
            else:
                out.append(s)
        return tuple(out)

    return inline(trees.get(main, ()), 0)


def _listen(args: tuple[str, ...]) -> tuple[str, int, bool] | None:
    if not args or args[0].startswith("unix:"):
        return None
    value = args[0]
    host, sep, port = value.rpartition(":") if not value.endswith("]") else (value, "", "")
    if not sep:
        host, port = ("", value) if value.isdigit() else (value, "80")
    if not port.isdigit():
        return None
    return host.strip("[]") if host not in ANY_ADDRESS else "", int(port), "default_server" in args or "default" in args


def servers(tree: tuple[NginxStmt, ...]) -> list[ServerBlock]:
    out = []
    for http in (s for s in tree if s.directive == "http" and s.block):
        for s in http.block or ():
            if s.directive != "server" or s.block is None:
                continue
            listens = [x for d in s.block if d.directive == "listen" if (x := _listen(d.args)) is not None]
            names = tuple(a for d in s.block if d.directive == "server_name" for a in d.args)
            out.append(ServerBlock(s.file, s.line, tuple(listens) or (("", 80, False),), names, s.block))
    return out


def _name_rank(names: tuple[str, ...], host: str) -> tuple[int, int] | None:
    """How well a server_name list matches (lower is better), None when it does not."""
    best: tuple[int, int] | None = None
    for n in names:
        rank: tuple[int, int] | None = None
        if n.lower() == host:
            rank = (0, 0)
        elif (n.startswith("*.") and host.endswith(n[1:].lower())) or (
            n.startswith(".") and (host == n[1:].lower() or host.endswith(n.lower()))
        ):
            rank = (1, -len(n))
        elif n.endswith(".*") and host.startswith(n[:-1].lower()):
            rank = (2, -len(n))
        elif n.startswith("~"):
            try:
                rank = (3, 0) if re.search(n[1:], host) else None
            except re.error:
                rank = None
        if rank is not None and (best is None or rank < best):
            best = rank
    return best


def select(blocks: list[ServerBlock], url: str, address: str | None) -> ServerBlock | None:
    """The block nginx serves ``url`` from, when the request reaches it on ``address``."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    on_port = [
        (b, listen)
        for b in blocks
        for listen in b.listens
        if listen[1] == port and (listen[0] == "" or address is None or listen[0] == address)
    ]
    # nginx binds a specific address before a wildcard one on the same port
    specific = [(b, li) for b, li in on_port if li[0]]
    group = specific or on_port
    if not group:
        return None
    ranked = [(r, i, b) for i, (b, _li) in enumerate(group) if (r := _name_rank(b.names, host)) is not None]
    if ranked:
        return min(ranked, key=lambda x: (x[0], x[1]))[2]
    default = [b for b, li in group if li[2]]
    return (default or [group[0][0]])[0]


def error_logs(block: ServerBlock) -> list[str]:
    return [s.args[0] for s in walk_nginx(block.body) if s.directive == "error_log" and s.args]
