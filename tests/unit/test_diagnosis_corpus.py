"""Every corpus case: captured lines + facts in, expected ranked cause ids and evidence out."""

from __future__ import annotations

from typing import Any

import pytest

from remediations.causes import CAUSE_IDS
from remediations.diagnosis import classify
from tests.unit.corpus_builder import CORPUS, DEFAULT_TARGET, build_facts, evidence_for, load_cases
from tests.unit.evidence_text import sections_of

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
def test_parsed_host_is_the_one_the_case_describes(name: str, case: dict[str, Any]) -> None:
    """The evidence text went through the real parser: what it found is what the case says."""
    f = case.get("facts", {})
    web = f.get("web", {})
    kind = web.get("kind", "nginx")
    facts = build_facts(case)
    assert facts.notes == [], facts.notes  # a complete, well-formed output
    assert facts.web.kind == kind and facts.web.running is web.get("running", True)
    written = [(str(raw), int(line)) for raw, line in web.get("targets", [[None, DEFAULT_TARGET[kind]]])]
    parsed = [(t.raw, t.directive.line) for t in facts.web.fastcgi_targets]
    parsed += [(d.args[0], d.line) for d in facts.web.unresolved_targets]
    assert [line for _raw, line in parsed] == [line for _raw, line in written]
    assert all(raw == "None" or raw in (p, p.strip('"')) for (raw, _l), (p, _pl) in zip(written, parsed, strict=True))
    spec = f.get("fpm", [{}])
    services = spec if isinstance(spec, list) else [spec]
    assert [s.state for s in facts.fpm] == [s.get("state", "running") for s in services]
    texts = [line.text for line in facts.logs]
    started = max((s.master_started or 0 for s in facts.fpm), default=0)
    for entry in f.get("logs", []):
        assert entry["text"] in texts or (entry.get("time") or 0) < started, entry["text"]


def test_evidence_text_is_the_scripts_sectioned_output() -> None:
    """The healthy lab host's output has the script's sections, in the script's order."""
    kinds = [kind for kind, _arg, _body in sections_of(evidence_for({"facts": {}}))]
    assert kinds[:2] == ["meta", "probe"] and kinds[-1] == "end"
    assert {"cmd", "rc", "pidfile", "ps", "fpm", "file", "sockets", "log", "meminfo", "wordpress"} <= set(kinds)


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
