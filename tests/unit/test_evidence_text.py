"""The tests' one evidence framer writes what the real script writes: on every full capture,
re-rendering its sections gives output the parser reads into the very same facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.evidence_text import parse, render, sections_of

FULL = sorted((Path(__file__).parent / "fixtures" / "facts" / "full").glob("*.txt"))


@pytest.mark.parametrize("path", FULL, ids=[p.stem for p in FULL])
def test_render_round_trips_a_real_capture(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    sections = sections_of(text)
    assert len(sections) > 20 and {k for k, _a, _b in sections} >= {"meta", "probe", "cmd", "file", "log", "end"}
    assert parse(render(sections), window_seconds=10**9) == parse(text, window_seconds=10**9)
