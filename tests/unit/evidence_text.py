"""The one place where tests frame evidence-script output (``remediations/facts/evidence.sh``).

Tests that need a host's evidence build a list of sections — ``(kind, arg, body)`` exactly as
the script prints them — and call :func:`render`; nothing else in the tests writes section
markers, so when the framing changes (e.g. a per-run random boundary, so that hostile log lines
cannot forge a section) only this file follows it.
"""

from __future__ import annotations

from collections.abc import Iterable

from remediations.facts.parsers import Section, split_sections

RawSection = tuple[str, str, str]  # (kind, arg, body); arg "" for sections without one


def _marker(kind: str, arg: str) -> str:
    return f"==fix502:{kind} {arg}==" if arg else f"==fix502:{kind}=="


def render(sections: Iterable[RawSection]) -> str:
    """The script's stdout for these sections.  Like the script, a ``file`` section's text is
    followed by one extra newline (so a file without a final newline cannot glue the next
    marker onto its last line)."""
    out: list[str] = []
    for kind, arg, body in sections:
        out.append(_marker(kind, arg) + "\n")
        if kind == "file":
            out.append(body + "\n")
        elif body:
            out.append(body if body.endswith("\n") else body + "\n")
    return "".join(out)


def sections_of(output: str) -> list[RawSection]:
    """The sections of a captured output, read by the product's own splitter, in the form
    :func:`render` takes (a file's body without the script's extra newline), so that
    ``render(sections_of(text))`` is read exactly as ``text``."""
    return [(s.kind, s.arg, _file_body(s) if s.kind == "file" else s.body) for s in split_sections(output)]


def _file_body(s: Section) -> str:
    return s.body[:-1] if s.body.endswith("\n") else s.body
