"""nginx configuration as a tree of statements (file and line kept), from the one lexer."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from remediations.nginxconf import lex, statements


@dataclass(frozen=True)
class NginxStmt:
    directive: str
    args: tuple[str, ...]
    line: int
    file: str
    block: tuple[NginxStmt, ...] | None = None


@functools.lru_cache(maxsize=512)
def parse_nginx_file(path: str, text: str) -> tuple[NginxStmt, ...]:
    """One file's statements, from the same lexer the editors use (:mod:`remediations.nginxconf`),
    so facts and edits agree on every directive and line.

    The lexer is pure Python and was most of the controller's CPU per host; fleets share
    nginx.conf, mime.types and fastcgi_params, so each distinct (path, text) is parsed once per
    run (the result is immutable).
    """
    stmts = statements(lex(text))

    def tree(index: int) -> NginxStmt:
        s = stmts[index]
        block = tuple(tree(c) for c in s.children) if s.term.value == "{" else None
        return NginxStmt(s.name.value, tuple(s.arg_values), s.line, path, block)

    return tuple(tree(s.index) for s in stmts if s.parent is None)


def walk_nginx(stmts: Iterable[NginxStmt]) -> Iterator[NginxStmt]:
    for s in stmts:
        yield s
        if s.block:
            yield from walk_nginx(s.block)
