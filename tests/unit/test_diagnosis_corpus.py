"""Every corpus case: captured lines + facts in, expected ranked cause ids and evidence out."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.causes import CAUSE_IDS
from remediations.diagnosis import classify
from tests.unit.corpus_builder import CORPUS, build_facts, load_cases

CASES = load_cases()
CAPTURED = "\n".join(p.read_text() for p in sorted((CORPUS / "captured").iterdir()) if p.suffix in (".log", ".txt"))


def test_corpus_is_large_enough_and_covers_every_cause() -> None:
    assert len(CASES) >= 45
    seen = {cid for _name, case in CASES for cid in case["expect"]["ids"]}
    assert seen == set(CAUSE_IDS)


@pytest.mark.parametrize(("name", "case"), CASES, ids=[n for n, _ in CASES])
def test_case(name: str, case: dict[str, Any]) -> None:
    diagnosis = classify(build_facts(case))
    expect = case["expect"]
    assert diagnosis.ids == expect["ids"], [(c.id, c.score, c.evidence) for c in diagnosis.causes]
    for cause in diagnosis.causes:
        assert cause.summary, f"{cause.id} has no summary"
        assert cause.evidence, f"{cause.id} has no evidence"
    for cause_id, needles in expect.get("evidence", {}).items():
        cause = next(c for c in diagnosis.causes if c.id == cause_id)
        text = "\n".join(f"{e.source} {e.line}" for e in cause.evidence)
        for needle in needles:
            assert needle in text, f"{cause_id}: {needle!r} not in evidence:\n{text}"
    table = {}
    for check, status, _message in diagnosis.checks:
        table.setdefault(check, status)  # first row of a check (the one for the site's target)
    for check, status in expect.get("checks", {}).items():
        assert table.get(check) == status, diagnosis.checks


@pytest.mark.parametrize(("name", "case"), CASES, ids=[n for n, _ in CASES])
def test_case_lines_are_captured(name: str, case: dict[str, Any]) -> None:
    """Fixture log lines must be real: each is found verbatim in the captured transcripts."""
    assert case.get("origin"), "every case says where its lines came from"
    for entry in case.get("facts", {}).get("logs", []):
        assert entry["text"] in CAPTURED, entry["text"]
    output = case.get("facts", {}).get("fpm", {})
    if isinstance(output, dict) and output.get("config_test_output"):
        for line in output["config_test_output"].splitlines():
            assert line in CAPTURED, line


def test_evidence_quotes_log_lines_exactly() -> None:
    """Evidence taken from a log is the whole line, unchanged, with its file as the source."""
    name, case = next((n, c) for n, c in CASES if n == "nginx-segfault")
    facts = build_facts(case)
    diagnosis = classify(facts)
    crash = diagnosis.causes[0]
    log_texts = {(line.source, line.text) for line in facts.logs}
    quoted = [(e.source, e.line) for e in crash.evidence]
    assert quoted and all(q in log_texts for q in quoted), name
