"""The one way tests build and read evidence text: framed with a fixed boundary.

A real run frames with a fresh random boundary (``remediations.facts.script.new_boundary``); the
captured fixtures in ``fixtures/facts/full`` were re-framed with :data:`FIXTURE_BOUNDARY`
(``fixtures/facts/reframe.py``), so tests parse them with it.
"""

from __future__ import annotations

from remediations.facts.model import HostFacts
from remediations.facts.script import frame, parse_evidence

FIXTURE_BOUNDARY = "feedface" * 4


def framed(sections: list[tuple[str, str, str]], boundary: str = FIXTURE_BOUNDARY) -> str:
    """Evidence text from ``(kind, arg, body)`` triples; bodies verbatim (end them with ``\\n``)."""
    return frame(sections, boundary)


def parse(text: str, *, since: float | None = None, window_seconds: int = 900) -> HostFacts:
    return parse_evidence(text, FIXTURE_BOUNDARY, since=since, window_seconds=window_seconds)
