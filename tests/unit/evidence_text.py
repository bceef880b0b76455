"""The one place where tests frame evidence-script output (``remediations/facts/evidence.sh``).

Tests that need a host's evidence build a list of sections — ``(kind, arg, body)`` exactly as
the script prints them — and call :func:`render`; nothing else in the tests writes section
markers.  The script frames each section as ``\\n==fix502:BOUNDARY KIND[ ARG]==\\n`` with a random
boundary per run, sent on stdin (so hostile log lines cannot forge a section); tests and captured
fixtures use :data:`FIXTURE_BOUNDARY`, and :func:`parse` reads a text framed with it.
"""

from __future__ import annotations

from collections.abc import Iterable

from remediations.facts.model import HostFacts
from remediations.facts.parsers import split_sections
from remediations.facts.script import frame, parse_evidence

FIXTURE_BOUNDARY = "feedface" * 4
RawSection = tuple[str, str, str]  # (kind, arg, body); arg "" for sections without one


def render(sections: Iterable[RawSection], boundary: str = FIXTURE_BOUNDARY) -> str:
    """The script's stdout for these sections.  Bodies are printed as given, with a final newline
    added to a non-empty one that lacks it (every line the script prints ends with one); a
    ``file`` body is exactly the file (``cat``), final newline or not."""
    fixed = [(k, a, b if k == "file" or not b or b.endswith("\n") else b + "\n") for k, a, b in sections]
    return frame(fixed, boundary)


def sections_of(output: str, boundary: str = FIXTURE_BOUNDARY) -> list[RawSection]:
    """The sections of a captured output, read by the product's own splitter, in the form
    :func:`render` takes, so that ``render(sections_of(text))`` is read exactly as ``text``."""
    return [(s.kind, s.arg, s.body) for s in split_sections(output, boundary)]


def parse(text: str, *, since: float | None = None, window_seconds: int = 900) -> HostFacts:
    """``parse_evidence`` of a text framed with :data:`FIXTURE_BOUNDARY`."""
    return parse_evidence(text, FIXTURE_BOUNDARY, since=since, window_seconds=window_seconds)
