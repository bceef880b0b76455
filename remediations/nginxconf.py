"""nginx's configuration syntax, read the way crossplane (and nginx) read it — the one lexer.

The facts side (which ``fastcgi_pass`` serves the site, which ``upstream`` it names) and the
editors (which bytes to replace) must agree on every token, so both use this module.  It is a
transcription of ``crossplane.lexer._lex_file_object`` that also records where each token sits
(crossplane throws offsets away, and an editor cannot work without them); the editor cross-checks
it against crossplane's own lexer on every edit and refuses when the two ever disagree.
"""

from __future__ import annotations

import io
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


class _EndOfText(Exception):
    pass


def _units(text: str) -> list[tuple[str, int, int]]:
    """Characters as crossplane sees them: a backslash and the next char form one unit."""
    units: list[tuple[str, int, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        if text[i] == "\\":
            if i + 1 >= n:  # crossplane stops at a dangling backslash
                break
            unit = text[i : i + 2]
        else:
            unit = text[i]
        if unit.endswith("\n"):
            line += 1
        units.append((unit, i, line))
        i += len(unit)
    return units


def lex(text: str) -> list[Token]:
    """crossplane.lexer._lex_file_object, step for step, plus offsets."""
    units = _units(text)
    tokens: list[Token] = []
    k = 0

    def nxt() -> tuple[str, int, int]:
        nonlocal k
        if k >= len(units):
            raise _EndOfText
        unit = units[k]
        k += 1
        return unit

    token, token_start, token_line = "", 0, 0
    try:
        while k < len(units):
            char, pos, line = nxt()
            if char.isspace():
                if token:
                    tokens.append(Token(token, token_line, False, token_start, pos))
                    token = ""
                while char.isspace():
                    char, pos, line = nxt()

            if not token and char == "#":
                start, comment_line = pos, line
                while not char.endswith("\n"):
                    token += char
                    char, pos, _ = nxt()
                tokens.append(Token(token, comment_line, False, start, pos))
                token = ""
                continue

            if not token:
                token_start, token_line = pos, line

            if token and token[-1] == "$" and char == "{":
                while token[-1] != "}" and not char.isspace():
                    token += char
                    char, pos, line = nxt()

            if char in ('"', "'"):
                if token:
                    token += char
                    continue
                quote, start = char, pos
                char, pos, line = nxt()
                while char != quote:
                    token += quote if char == "\\" + quote else char
                    char, pos, line = nxt()
                tokens.append(Token(token, token_line, True, start, pos + 1))
                token = ""
                continue

            if char in _SPECIAL:
                if token:
                    tokens.append(Token(token, token_line, False, token_start, pos))
                    token = ""
                tokens.append(Token(char, line, False, pos, pos + 1))
                continue

            token += char
    except _EndOfText:
        pass
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
