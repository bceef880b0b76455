"""Edit nginx config text one directive at a time.

``crossplane`` only parses files and throws away where tokens sit on a line, so it cannot tell us
which characters to replace. We therefore lex with a transcription of crossplane's own lexer that
also records offsets, and check it against crossplane's lexer on every call (same tokens, lines
and quoting): if the two ever disagree we refuse to edit rather than rewrite the wrong bytes.
After each edit the result is lexed and parsed again and compared with what we meant to produce.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from remediations.edit import EditError

try:  # private, but stable since crossplane 0.4; without it we only lose the cross-check
    from crossplane.lexer import _lex_file_object as _crossplane_lex
except ImportError:  # pragma: no cover - depends on the installed crossplane
    _crossplane_lex = None

__all__ = [
    "ensure_directive_in_block",
    "ensure_directives_in_block",
    "find_directives",
    "render_arg",
    "set_directive_args",
]

_SPECIAL = ("{", "}", ";")


@dataclass(frozen=True)
class _Token:
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
class _Stmt:
    index: int
    name: _Token
    args: list[_Token]
    comments: list[_Token]  # comments between the name and the terminator
    term: _Token  # ";" or "{"
    parent: int | None
    close: _Token | None = None  # the "}" of a block directive
    children: list[int] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.name.line

    @property
    def arg_values(self) -> list[str]:
        return [a.value for a in self.args]

    @property
    def end(self) -> _Token:
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


def _lex(text: str) -> list[_Token]:
    """crossplane.lexer._lex_file_object, step for step, plus offsets."""
    units = _units(text)
    tokens: list[_Token] = []
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
                    tokens.append(_Token(token, token_line, False, token_start, pos))
                    token = ""
                while char.isspace():
                    char, pos, line = nxt()

            if not token and char == "#":
                start, comment_line = pos, line
                while not char.endswith("\n"):
                    token += char
                    char, pos, _ = nxt()
                tokens.append(_Token(token, comment_line, False, start, pos))
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
                tokens.append(_Token(token, token_line, True, start, pos + 1))
                token = ""
                continue

            if char in _SPECIAL:
                if token:
                    tokens.append(_Token(token, token_line, False, token_start, pos))
                    token = ""
                tokens.append(_Token(char, line, False, pos, pos + 1))
                continue

            token += char
    except _EndOfText:
        pass
    return tokens


def _cross_check(text: str, tokens: list[_Token]) -> None:
    if _crossplane_lex is None:  # pragma: no cover
        return
    theirs = [(t, line, q) for t, line, q in _crossplane_lex(io.StringIO(text))]
    ours = [(t.value, t.line, t.quoted) for t in tokens]
    if theirs != ours:
        first = next(
            (i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
            min(len(theirs), len(ours)),
        )
        raise EditError(f"internal lexer disagrees with crossplane at token {first}; not editing")


@dataclass
class _Doc:
    text: str
    tokens: list[_Token]
    stmts: list[_Stmt]

    @classmethod
    def parse(cls, text: str) -> _Doc:
        tokens = _lex(text)
        _cross_check(text, tokens)
        return cls(text, tokens, _statements(tokens))

    def at(self, line: int, name: str | None) -> _Stmt:
        found = [s for s in self.stmts if s.line == line and (name is None or s.name.value == name)]
        what = f"directive {name!r}" if name else "a directive"
        if not found:
            raise EditError(f"no {what} starts on line {line}")
        if len(found) > 1:
            names = ", ".join(s.name.value for s in found)
            raise EditError(f"{len(found)} directives match {what} on line {line} ({names}); ambiguous")
        return found[0]

    def siblings(self, stmt: _Stmt) -> list[_Stmt]:
        if stmt.parent is None:
            return [s for s in self.stmts if s.parent is None]
        return [self.stmts[i] for i in self.stmts[stmt.parent].children]


def _statements(tokens: list[_Token]) -> list[_Stmt]:
    """Group tokens like crossplane's parser does, but strictly: anything it would report is fatal."""
    stmts: list[_Stmt] = []
    stack: list[int] = []
    it: Iterator[_Token] = iter(tokens)
    for tok in it:
        if tok.is_punct("}"):
            if not stack:
                raise EditError(f'line {tok.line}: unexpected "}}"')
            stmts[stack.pop()].close = tok
            continue
        if tok.is_comment:
            continue
        if tok.is_punct("{") or tok.is_punct(";"):
            raise EditError(f'line {tok.line}: unexpected "{tok.value}"')
        args: list[_Token] = []
        comments: list[_Token] = []
        term = None
        for arg in it:
            if not arg.quoted and arg.value in _SPECIAL:
                term = arg
                break
            (comments if arg.is_comment else args).append(arg)
        if term is None:
            raise EditError(f'line {tok.line}: unexpected end of file in "{tok.value}"')
        if term.value == "}":
            raise EditError(f'line {tok.line}: directive "{tok.value}" is not terminated by ";"')
        parent = stack[-1] if stack else None
        stmt = _Stmt(len(stmts), tok, args, comments, term, parent)
        stmts.append(stmt)
        if parent is not None:
            stmts[parent].children.append(stmt.index)
        if term.value == "{":
            stack.append(stmt.index)
    if stack:
        raise EditError(f'line {stmts[stack[-1]].line}: unexpected end of file, expecting "}}"')
    return stmts


def _check_args(args: Sequence[str]) -> None:
    if isinstance(args, str):  # a lone string would be spread into one argument per character
        raise EditError(f"arguments must be a list of strings, got the string {args!r}")


def _needs_quotes(value: str) -> bool:
    return (
        not value
        or any(c.isspace() for c in value)
        or any(c in value for c in "{};")
        or value[0] in "\"'#"
        or value.endswith("\\")
    )


def render_arg(value: str, quote: str | None = None) -> str:
    """Write ``value`` as one nginx argument that crossplane (and nginx) read back as ``value``.

    ``quote`` keeps an existing argument's quoting style; otherwise quotes are added only when
    the value could not stand alone.
    """
    if quote is None and not _needs_quotes(value):
        return value
    if quote is None:
        quote = "'" if '"' in value and "'" not in value else '"'
    if value.endswith("\\") or "\\" + quote in value or "\n" in value:
        raise EditError(f"cannot write {value!r} as a quoted nginx argument")
    return quote + value.replace(quote, "\\" + quote) + quote


def _render_args(args: Sequence[str]) -> str:
    return " ".join(render_arg(a) for a in args)


def _token_quote(text: str, tok: _Token) -> str | None:
    return text[tok.start] if tok.quoted else None


def _replace_args(text: str, stmt: _Stmt, new_args: Sequence[str]) -> str:
    """Return the text with ``stmt``'s arguments replaced; spacing between them survives when the
    number of arguments stays the same (so an edit and its reversal give back the same bytes)."""
    old = stmt.args
    if len(old) == len(new_args) and old:
        pieces: list[str] = []
        pos = old[0].start
        for tok, value in zip(old, new_args, strict=True):
            pieces.append(text[pos : tok.start])
            same = tok.value == value
            pieces.append(text[tok.start : tok.end] if same else render_arg(value, _token_quote(text, tok)))
            pos = tok.end
        return text[: old[0].start] + "".join(pieces) + text[old[-1].end :]
    span_start = old[0].start if old else stmt.name.end
    span_end = old[-1].end if old else stmt.name.end
    if any(span_start <= c.start < span_end for c in stmt.comments):
        where = f"line {stmt.line}"
        raise EditError(f"{where}: comments between the arguments of {stmt.name.value!r}; not editing")
    if not old:
        return text[:span_start] + (" " + _render_args(new_args) if new_args else "") + text[span_end:]
    if not new_args:  # drop the whitespace before the first argument as well
        return text[: stmt.name.end] + text[span_end:]
    return text[:span_start] + _render_args(new_args) + text[span_end:]


def _signature(doc: _Doc, skip: set[int]) -> list[tuple[str, bool]]:
    """Token stream without some statements' arguments: what an edit must leave unchanged."""
    skipped = {id(a) for s in doc.stmts if s.index in skip for a in s.args}
    return [(t.value, t.quoted) for t in doc.tokens if id(t) not in skipped]


def _verify_args(before: _Doc, after_text: str, stmt: _Stmt, new_args: Sequence[str]) -> None:
    after = _Doc.parse(after_text)
    if len(after.stmts) != len(before.stmts):
        raise EditError("edit changed the number of directives; refusing")
    edited = after.stmts[stmt.index]
    same_place = edited.name.value == stmt.name.value and edited.line == stmt.line
    if not same_place or edited.arg_values != list(new_args):
        raise EditError(f"line {stmt.line}: re-parse does not show {stmt.name.value} {list(new_args)}")
    if _signature(before, {stmt.index}) != _signature(after, {stmt.index}):
        raise EditError("edit changed tokens outside the directive; refusing")


def find_directives(text: str, name: str) -> list[tuple[int, list[str]]]:
    """Every ``name`` directive in the text, at any depth, as (line, args) in file order."""
    doc = _Doc.parse(text)
    return [(s.line, s.arg_values) for s in doc.stmts if s.name.value == name]


def set_directive_args(text: str, line: int, name: str, new_args: Sequence[str]) -> str:
    """Replace the arguments of the ``name`` directive that starts on ``line`` (1-based).

    Indentation, the name, the ``;`` and whatever follows it on the line (a trailing comment) are
    left as they are.
    """
    _check_args(new_args)
    doc = _Doc.parse(text)
    stmt = doc.at(line, name)
    if stmt.arg_values == list(new_args):
        return text
    after = _replace_args(text, stmt, new_args)
    _verify_args(doc, after, stmt, new_args)
    return after


def _line_bounds(text: str, offset: int) -> tuple[int, int]:
    """Start of the physical line holding ``offset`` and the offset just past its newline."""
    start = text.rfind("\n", 0, offset) + 1
    nl = text.find("\n", offset)
    return start, (len(text) if nl < 0 else nl + 1)


def _insert_after(doc: _Doc, after: _Stmt, indent_from: _Stmt, name: str, args: Sequence[str]) -> str:
    text = doc.text
    new = f"{render_arg(name)} {_render_args(args)};" if args else f"{render_arg(name)};"
    end = after.end.end
    _, line_end = _line_bounds(text, end)
    rest = [t for t in doc.tokens if end <= t.start < line_end]
    if any(not t.is_comment for t in rest):
        # Something else follows on that line (``a; b; }``): stay on it rather than split it.
        return text[:end] + " " + new + text[end:]
    line_start, _ = _line_bounds(text, indent_from.name.start)
    lead = text[line_start : indent_from.name.start]
    indent = lead[: len(lead) - len(lead.lstrip(" \t"))]
    eol = "\r\n" if text[:line_end].endswith("\r\n") else "\n"
    if not text[:line_end].endswith("\n"):  # anchor on a last line without a newline
        return text + eol + indent + new
    return text[:line_end] + indent + new + eol + text[line_end:]


def _ensure_one(
    text: str,
    anchor_line: int,
    anchor_name: str | None,
    name: str,
    args: Sequence[str],
    insert_after: tuple[int, str] | None,
) -> tuple[str, int, bool]:
    """Returns the new text, the line of the directive set and whether it was added."""
    doc = _Doc.parse(text)
    anchor = doc.at(anchor_line, anchor_name)
    same = [s for s in doc.siblings(anchor) if s.name.value == name]
    if len(same) > 1:
        lines = ", ".join(str(s.line) for s in same)
        raise EditError(f"{name!r} is set {len(same)} times in the block of line {anchor_line} ({lines})")
    if same:
        return set_directive_args(text, same[0].line, name, args), same[0].line, False
    after = doc.at(*insert_after) if insert_after else anchor
    new_text = _insert_after(doc, after, anchor, name, args)
    new_doc = _Doc.parse(new_text)
    new_anchor = new_doc.stmts[anchor.index]
    added = [s for s in new_doc.siblings(new_anchor) if s.name.value == name]
    if (
        len(new_doc.stmts) != len(doc.stmts) + 1
        or len(added) != 1
        or added[0].arg_values != list(args)
        or added[0].index != after.index + 1 + _descendants(doc, after)
    ):
        raise EditError(f"re-parse does not show {name} added after line {after.line}; refusing")
    return new_text, added[0].line, True


def _descendants(doc: _Doc, stmt: _Stmt) -> int:
    return sum(1 + _descendants(doc, doc.stmts[c]) for c in stmt.children)


def ensure_directive_in_block(
    text: str, anchor_line: int, name: str, args: Sequence[str], *, anchor_name: str | None = None
) -> str:
    """Make ``name args;`` hold in the block that contains the directive on ``anchor_line``.

    An existing ``name`` in that block (same nesting level, not in sub-blocks) gets its arguments
    replaced; otherwise a new line is added right after the anchor directive (after its ``}``
    for a block directive) with the anchor's indentation. ``anchor_name`` disambiguates a line
    holding several directives. Several existing ``name`` lines in the block are ambiguous.
    """
    _check_args(args)
    return _ensure_one(text, anchor_line, anchor_name, name, args, None)[0]


def ensure_directives_in_block(
    text: str,
    anchor_line: int,
    directives: Sequence[tuple[str, Sequence[str]]],
    *,
    anchor_name: str | None = None,
) -> str:
    """:func:`ensure_directive_in_block` for several directives, added in the given order.

    Each missing directive goes after the one added before it, so ``[(fastcgi_buffer_size, …),
    (fastcgi_buffers, …)]`` appears in that order under the anchor.
    """
    insert_after: tuple[int, str] | None = None
    for name, args in directives:
        _check_args(args)
        anchor = _Doc.parse(text).at(anchor_line, anchor_name)
        text, at, added = _ensure_one(text, anchor_line, anchor.name.value, name, args, insert_after)
        if added:
            insert_after = (at, name)
    return text
