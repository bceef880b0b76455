"""nginx's configuration syntax, read the way crossplane (and nginx) read it — the one lexer.

The facts side (which ``fastcgi_pass`` serves the site, which ``upstream`` it names) and the
editors (which bytes to replace) must agree on every token, so both use this module.  It is a
transcription of ``crossplane.lexer._lex_file_object`` that also records where each token sits
(crossplane throws offsets away, and an editor cannot work without them); the editor cross-checks
it against crossplane's own lexer on every edit and refuses when the two ever disagree.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

try:  # private, but stable since crossplane 0.4; without it we only lose the cross-check
    from crossplane.lexer import _lex_file_object as _crossplane_lex
except ImportError:  # pragma: no cover - depends on the installed crossplane
    _crossplane_lex = None

__all__ = ["NginxSyntaxError", "Stmt", "Token", "cross_check", "lex", "statements"]


class NginxSyntaxError(ValueError):
    """The text is not something nginx would load (unbalanced braces, a missing ";")."""


_SPECIAL = ("{", "}", ";")


@dataclass(frozen=True)
class Token:
    value: str  # as crossplane yields it (quotes removed, \" unescaped inside quotes)
    line: int
    quoted: bool
    start: int  # offset of the first character (the opening quote if quoted)
    end: int  # offset just past the last character (the closing quote if quoted)

    @property
    def is_comment(self) -> bool:
        return not self.quoted and self.value.startswith("#")

    def is_punct(self, char: str) -> bool:
        return not self.quoted and self.value == char


@dataclass
class Stmt:
    index: int
    name: Token
    args: list[Token]
    comments: list[Token]  # comments between the name and the terminator
    term: Token  # ";" or "{"
    parent: int | None
    close: Token | None = None  # the "}" of a block directive
    children: list[int] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.name.line

    @property
    def arg_values(self) -> list[str]:
        return [a.value for a in self.args]

    @property
    def end(self) -> Token:
        return self.close if self.close is not None else self.term


_WS = re.compile(r"\s+")  # \s is str.isspace(), as crossplane tests it (both are Py_UNICODE_ISSPACE)
# A run of units that extend a token already started: anything but whitespace and { ; } (a quote or a
# "#" inside a token is an ordinary character; "\\x" is one unit, whatever x is).
_RUN = re.compile(r"(?:[^\s{};\\]|\\[\s\S])+")
_QUOTED = {q: re.compile(rf"(?:[^{q}\\]|\\[\s\S])*{q}") for q in ('"', "'")}


def _usable_end(text: str) -> int:
    """Where crossplane stops: before a trailing backslash that has no character left to escape."""
    run = len(text) - len(text.rstrip("\\"))
    return len(text) - run % 2


def lex(text: str) -> list[Token]:
    """crossplane.lexer._lex_file_object's tokens, plus offsets.

    The same steps as crossplane's character loop (a backslash and the next character are one unit;
    a unit ending in a newline counts on the next line; an unfinished token, quote or comment at the
    end is dropped), but runs of ordinary characters, whitespace, comments and quoted strings are
    taken a slice at a time: about 5× faster than stepping character by character (and 2× faster
    than crossplane), which is most of an nginx config's parse.  The unit tests check it against
    crossplane's own lexer, including the ``${`` expansion and escape corner cases."""
    n = _usable_end(text)
    t = text[:n]
    tokens: list[Token] = []
    emit = tokens.append
    counted_to, newlines = 0, 0

    def line_at(p: int) -> int:
        nonlocal counted_to, newlines  # positions only grow, so newlines are counted once
        end = p + 2 if t[p] == "\\" else p + 1
        newlines += t.count("\n", counted_to, end)
        counted_to = end
        return newlines + 1

    tok, tok_line, i = -1, 0, 0  # tok: where the pending unquoted token starts, or -1
    while i < n:
        c = t[i]
        if c.isspace():
            if 0 <= tok < i:
                emit(Token(t[tok:i], tok_line, False, tok, i))
            tok = -1
            i = _WS.match(t, i).end()  # type: ignore[union-attr]  # c is whitespace: it matches
            if i >= n:
                break
            c = t[i]
        if c == "#" and tok < 0:
            nl = t.find("\n", i)
            if nl < 0:
                break
            end = nl - (nl - i - len(t[i:nl].rstrip("\\"))) % 2  # "\\\n" is one unit: it ends the comment too
            emit(Token(t[i:end], line_at(i), False, i, end))
            i = nl + 1
            continue
        if tok < 0:
            tok, tok_line = i, line_at(i)
        elif c == "{" and t[i - 1] == "$":  # "${var}": taken whole, up to "}" or whitespace
            while t[i - 1] != "}" and not c.isspace():
                i += 2 if c == "\\" else 1
                if i >= n:
                    return tokens
                c = t[i]
        if c in ('"', "'"):
            if tok < i:  # inside a token a quote is an ordinary character
                i += 1
                continue
            m = _QUOTED[c].match(t, i + 1)
            if m is None:
                break
            emit(Token(t[i + 1 : m.end() - 1].replace("\\" + c, c), tok_line, True, i, m.end()))
            tok, i = -1, m.end()
            continue
        if c in _SPECIAL:
            if tok < i:
                emit(Token(t[tok:i], tok_line, False, tok, i))
            emit(Token(c, line_at(i), False, i, i + 1))
            tok, i = -1, i + 1
            continue
        i += 2 if c == "\\" else 1  # this unit (even whitespace right after "${...": crossplane keeps it)
        m = _RUN.match(t, i)
        if m is not None:
            i = m.end()
    return tokens


def cross_check(text: str, tokens: list[Token]) -> None:
    if _crossplane_lex is None:  # pragma: no cover
        return
    theirs = [(t, line, q) for t, line, q in _crossplane_lex(io.StringIO(text))]
    ours = [(t.value, t.line, t.quoted) for t in tokens]
    if theirs != ours:
        first = next(
            (i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
            min(len(theirs), len(ours)),
        )
        raise NginxSyntaxError(f"internal lexer disagrees with crossplane at token {first}; not editing")


def statements(tokens: list[Token]) -> list[Stmt]:
    """Group tokens like crossplane's parser does, but strictly: anything it would report is fatal."""
    stmts: list[Stmt] = []
    stack: list[int] = []
    it: Iterator[Token] = iter(tokens)
    for tok in it:
        if tok.is_punct("}"):
            if not stack:
                raise NginxSyntaxError(f'line {tok.line}: unexpected "}}"')
            stmts[stack.pop()].close = tok
            continue
        if tok.is_comment:
            continue
        if tok.is_punct("{") or tok.is_punct(";"):
            raise NginxSyntaxError(f'line {tok.line}: unexpected "{tok.value}"')
        args: list[Token] = []
        comments: list[Token] = []
        term = None
        for arg in it:
            if not arg.quoted and arg.value in _SPECIAL:
                term = arg
                break
            (comments if arg.is_comment else args).append(arg)
        if term is None:
            raise NginxSyntaxError(f'line {tok.line}: unexpected end of file in "{tok.value}"')
        if term.value == "}":
            raise NginxSyntaxError(f'line {tok.line}: directive "{tok.value}" is not terminated by ";"')
        parent = stack[-1] if stack else None
        stmt = Stmt(len(stmts), tok, args, comments, term, parent)
        stmts.append(stmt)
        if parent is not None:
            stmts[parent].children.append(stmt.index)
        if term.value == "{":
            stack.append(stmt.index)
    if stack:
        raise NginxSyntaxError(f'line {stmts[stack[-1]].line}: unexpected end of file, expecting "}}"')
    return stmts
