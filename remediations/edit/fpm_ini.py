"""Edit PHP-FPM configuration (``php-fpm.conf``, ``pool.d/*.conf``) and PHP ``.ini`` text by line.

These files are read by PHP's ini scanner: ``[section]`` headers, ``key = value`` entries, and
``;`` starting a comment anywhere outside quotes. Debian ships every optional setting as a
commented default (``;pm.max_requests = 500``) next to its documentation, so a new setting is
added right under that comment, where an admin will look for it, instead of at the end.
FPM merges repeated ``[pool]`` sections, so a section name may occur more than once; the last
assignment of a key wins, which is what :func:`get_value` reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from remediations.edit import EditError

__all__ = ["comment_out", "get_value", "render_value", "set_value"]

_SECTION = re.compile(r"\s*\[([^\]]*)\]\s*(?:;.*)?")
# key, then "=", then the value part; keys like php_admin_value[error_log] contain brackets.
_ENTRY = re.compile(r"(?P<indent>[ \t]*)(?P<key>[^\s;=\[#][^=]*?)(?P<sep>[ \t]*=[ \t]*)(?P<rest>.*)")
_COMMENTED = re.compile(r"(?P<indent>[ \t]*);+[ \t]*(?P<entry>.*)")

LineKind = Literal["blank", "comment", "section", "entry", "other"]


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based
    start: int  # offset of the line in the text
    body: str  # without the line ending
    ending: str  # "\n", "\r\n" or "" on a last line without one
    kind: LineKind
    section: str | None  # the section this line belongs to (a header belongs to itself)
    key: str | None = None
    value_start: int = 0  # within body: the value as written, quotes included
    value_end: int = 0
    value: str = ""  # unquoted, without trailing comment


def _value_span(rest: str, offset: int) -> tuple[int, int, str]:
    """Where the value in ``rest`` (text after ``=``) is, and what it means, following PHP's scanner
    closely enough for FPM files: quoted strings, or raw text up to a ``;`` comment."""
    if rest[:1] == '"':
        i = 1
        while i < len(rest) and rest[i] != '"':
            i += 2 if rest[i] == "\\" else 1
        end = min(i + 1, len(rest))
        return offset, offset + end, rest[1 : end - 1].replace('\\"', '"')
    if rest[:1] == "'":
        close = rest.find("'", 1)
        end = len(rest) if close < 0 else close + 1
        return offset, offset + end, rest[1 : end - 1]
    raw = rest.split(";", 1)[0].rstrip()
    return offset, offset + len(raw), raw


def _parse_entry(body: str) -> tuple[str, int, int, str] | None:
    m = _ENTRY.fullmatch(body)
    if m is None:
        return None
    start, end, value = _value_span(m["rest"], m.start("rest"))
    return m["key"].strip(), start, end, value


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    section: str | None = None
    offset = 0
    for number, raw in enumerate(text.splitlines(keepends=True), start=1):
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        stripped = body.strip()
        header = _SECTION.fullmatch(body)
        if not stripped:
            line = _Line(number, offset, body, ending, "blank", section)
        elif stripped[0] in ";#":
            line = _Line(number, offset, body, ending, "comment", section)
        elif header is not None:
            section = header[1].strip()
            line = _Line(number, offset, body, ending, "section", section)
        elif (entry := _parse_entry(body)) is not None:
            key, vstart, vend, value = entry
            line = _Line(number, offset, body, ending, "entry", section, key, vstart, vend, value)
        else:
            line = _Line(number, offset, body, ending, "other", section)
        lines.append(line)
        offset += len(raw)
    return lines


def _in(line: _Line, section: str | None) -> bool:
    return section is None or line.section == section


def _check_sections(lines: list[_Line], section: str | None) -> None:
    if section is not None and not any(ln.kind == "section" and ln.section == section for ln in lines):
        raise EditError(f"no [{section}] section")


_NEEDS_QUOTES = re.compile(r"""[;"'={}|&~!()^\n]|\$\{|^\s|\s$""")


def render_value(value: str, quote: str | None = None) -> str:
    """Write ``value`` so PHP's ini scanner reads it back unchanged; ``quote`` keeps a style."""
    if "\n" in value:
        raise EditError(f"cannot write a multi-line value {value!r}")
    if quote is None and not _NEEDS_QUOTES.search(value):
        return value
    if quote is None:
        quote = "'" if '"' in value else '"'
    if quote in value or (quote == '"' and value.endswith("\\")):
        raise EditError(f"cannot quote {value!r} for an ini file")
    return quote + value + quote


def get_value(text: str, section: str | None, key: str) -> tuple[str, int] | None:
    """The effective (last) value of ``key`` in ``section`` and its line, unquoted, comment dropped.

    ``section=None`` looks at the whole file (ini files without sections, e.g. conf.d snippets).
    """
    found = [ln for ln in _lines(text) if ln.kind == "entry" and ln.key == key and _in(ln, section)]
    return (found[-1].value, found[-1].number) if found else None


def _eol(lines: list[_Line]) -> str:
    return next((ln.ending for ln in lines if ln.ending), "\n")


def _insert_line(text: str, lines: list[_Line], after: _Line, new_body: str) -> str:
    eol = after.ending or _eol(lines)
    pos = after.start + len(after.body) + len(after.ending)
    if not after.ending:  # inserting after a last line that has no newline
        return text[:pos] + eol + new_body
    return text[:pos] + new_body + eol + text[pos:]


def set_value(text: str, section: str | None, key: str, value: str) -> str:
    """Set ``key = value`` in ``section`` (``global`` for php-fpm.conf, the pool name otherwise).

    An active ``key`` line gets only its value replaced (its quoting, spacing and trailing
    comment stay). Otherwise the line is added right after a commented default ``;key = …`` of
    that section, modelled on it, or at the end of the section (but before an ``include=``, which
    would capture it: php-fpm.conf's ``[global]`` ends with one). A key set twice in the section
    is ambiguous and refused.
    """
    lines = _lines(text)
    _check_sections(lines, section)
    active = [ln for ln in lines if ln.kind == "entry" and ln.key == key and _in(ln, section)]
    if len(active) > 1:
        where = ", ".join(str(ln.number) for ln in active)
        raise EditError(f"{key} is set {len(active)} times in [{section}] (lines {where}); ambiguous")
    if active:
        line = active[0]
        if line.value == value:
            return text
        old = line.body[line.value_start : line.value_end]
        quote = old[0] if old[:1] in ("'", '"') else None
        new = render_value(value, quote)
        if line.value_start == len(line.body.rstrip()) and not line.body[: line.value_start].endswith((" ", "\t")):
            new = " " + new  # "key =" had no room for a value
        start = line.start + line.value_start
        return text[:start] + new + text[line.start + line.value_end :]

    rendered = render_value(value)
    defaults = [ln for ln in lines if ln.kind == "comment" and _in(ln, section) and _commented_key(ln) == key]
    if defaults:
        model = _COMMENTED.fullmatch(defaults[-1].body)
        assert model is not None  # _commented_key matched it
        entry = _ENTRY.fullmatch(model["entry"])
        assert entry is not None
        body = f"{model['indent']}{entry['key']}{entry['sep']}{rendered}"
        return _insert_line(text, lines, defaults[-1], body)

    body = f"{key} = {rendered}"
    scope = [ln for ln in lines if _in(ln, section)]
    if section is not None:  # the last occurrence of the section: its header and what follows
        last_header = max(i for i, ln in enumerate(scope) if ln.kind == "section")
        scope = scope[last_header:]
    include = next((ln for ln in scope if ln.kind == "entry" and ln.key == "include"), None)
    if include is not None:
        # FPM reads keys after an include= as belonging to the last pool the include defined.
        return text[: include.start] + body + (include.ending or _eol(lines)) + text[include.start :]
    content = [ln for ln in scope if ln.kind != "blank"]
    if not content:
        if text and not text.endswith(("\n", "\r")):
            return text + _eol(lines) + body + _eol(lines)
        return text + body + _eol(lines)
    return _insert_line(text, lines, content[-1], body)


def _commented_key(line: _Line) -> str | None:
    m = _COMMENTED.fullmatch(line.body)
    if m is None:
        return None
    entry = _ENTRY.fullmatch(m["entry"])
    return entry["key"].strip() if entry else None


def _value_matches(actual: str, wanted: str) -> bool:
    return actual == wanted or actual.rsplit("/", 1)[-1] == wanted


def comment_out(text: str, section: str | None, key: str, value: str | None = None) -> str:
    """Disable every active ``key`` line (in ``section``, or anywhere when ``None``) with a ``;``.

    ``value`` narrows the match, comparing either the whole value or its last path component, so
    ``comment_out(t, None, "zend_extension", "xdebug.so")`` also catches
    ``zend_extension=/usr/lib/php/20220829/xdebug.so`` but leaves opcache alone.
    """
    lines = _lines(text)
    _check_sections(lines, section)
    hits = [
        ln
        for ln in lines
        if ln.kind == "entry"
        and ln.key == key
        and _in(ln, section)
        and (value is None or _value_matches(ln.value, value))
    ]
    if not hits:
        what = f"{key}={value}" if value is not None else key
        raise EditError(f"no active {what} line" + (f" in [{section}]" if section else ""))
    for ln in reversed(hits):  # from the end so earlier offsets stay valid
        indent = len(ln.body) - len(ln.body.lstrip(" \t"))
        pos = ln.start + indent
        text = text[:pos] + ";" + text[pos:]
    return text
