"""The slice-at-a-time lexer (remediations/nginxconf.py) against crossplane's character loop on the
corners where taking runs could go wrong: escapes, comments ended by an escaped newline, ``${``
followed by whitespace, quotes inside tokens, unfinished input, non-ASCII whitespace — and on the
real configs the fixtures carry."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from crossplane.lexer import _lex_file_object

from remediations.nginxconf import lex

CORNERS = [
    "",
    "a",
    "a;",
    "a\\",  # a dangling backslash: crossplane stops before it
    "a\\\\",
    "a \\\\\\",
    "# comment",  # no newline: an unfinished comment is dropped
    "# comment \\\nb;",  # "\\\n" is one unit and ends the comment
    "# c \\\\\nb;",
    "x # not a comment;\n",
    "a#b c;",
    "${ x};",  # whitespace right after "${" ends the expansion and stays in the token
    "$${a}b{c;}",
    "a${b\\}c} d;",
    'a"b"c \'d\' "e\\"f" g;',
    "'unterminated",
    '"a\\\nb" c;',
    "a\u00a0b\u2028c\x0bd\re\tf;",
    "\\\n a; \\{ b\\; }",
    "server {\n  listen 80;\n  location / { try_files $uri $uri/ /index.php?$args; }\n}\n",
]


def _check(text: str) -> None:
    ours = lex(text)
    assert [(t.value, t.line, t.quoted) for t in ours] == list(_lex_file_object(io.StringIO(text)))
    for tok in ours:
        raw = text[tok.start : tok.end]
        assert raw[0] == raw[-1] and raw[0] in "\"'" if tok.quoted else raw == tok.value


@pytest.mark.parametrize("text", CORNERS)
def test_corner_cases_match_crossplane(text: str) -> None:
    _check(text)


def test_every_nginx_fixture_matches_crossplane() -> None:
    fixtures = Path(__file__).parent / "fixtures"
    files = [p for p in fixtures.rglob("*") if p.is_file() and ("nginx" in p.name or p.suffix == ".conf")]
    assert files
    for path in files:
        _check(path.read_text(errors="replace"))
