"""Edit nginx config text one directive at a time.

The tokens come from :mod:`remediations.nginxconf` (the one nginx lexer, shared with the facts
side), cross-checked against crossplane's own lexer on every call: if the two ever disagree we
refuse to edit rather than rewrite the wrong bytes.  After each edit the result is lexed and parsed
again and compared with what we meant to produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from remediations.edit import EditError
from remediations.nginxconf import NginxSyntaxError, Stmt, Token, cross_check, lex, statements

__all__ = [
    "ensure_directive_in_block",
    "ensure_directives_in_block",
    "find_directives",
    "render_arg",
    "set_directive_args",
]


@dataclass
class _Doc:
    text: str
    tokens: list[Token]
    stmts: list[Stmt]

    @classmethod
    def parse(cls, text: str) -> _Doc:
        try:
            tokens = lex(text)
            cross_check(text, tokens)
            return cls(text, tokens, statements(tokens))
        except NginxSyntaxError as exc:
            raise EditError(str(exc)) from None

    def at(self, line: int, name: str | None) -> Stmt:
        found = [s for s in self.stmts if s.line == line and (name is None or s.name.value == name)]
        what = f"directive {name!r}" if name else "a directive"
        if not found:
            raise EditError(f"no {what} starts on line {line}")
        if len(found) > 1:
            names = ", ".join(s.name.value for s in found)
            raise EditError(f"{len(found)} directives match {what} on line {line} ({names}); ambiguous")
        return found[0]

    def siblings(self, stmt: Stmt) -> list[Stmt]:
        if stmt.parent is None:
            return [s for s in self.stmts if s.parent is None]
        return [self.stmts[i] for i in self.stmts[stmt.parent].children]


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


def _token_quote(text: str, tok: Token) -> str | None:
    return text[tok.start] if tok.quoted else None


def _replace_args(text: str, stmt: Stmt, new_args: Sequence[str]) -> str:
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


def _verify_args(before: _Doc, after_text: str, stmt: Stmt, new_args: Sequence[str]) -> None:
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


def _insert_after(doc: _Doc, after: Stmt, indent_from: Stmt, name: str, args: Sequence[str]) -> str:
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


def _descendants(doc: _Doc, stmt: Stmt) -> int:
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
