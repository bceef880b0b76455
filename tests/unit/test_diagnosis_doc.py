"""The README's rule list is the rules' own docstrings, rendered; every cause has exactly one rule."""

from __future__ import annotations

from pathlib import Path

from remediations.causes import CAUSE_IDS, CauseId
from remediations.diagnosis import RULES
from remediations.diagnosis.doc import END, START, readme_block, render_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_rule_list_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, "README needs exactly one rules block"
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == readme_block(), "README rule list is stale: run python -m remediations.diagnosis.doc"


def test_every_cause_has_one_documented_rule_in_id_order() -> None:
    assert list(RULES) != [] and set(RULES) == set(CauseId)
    lines = [ln for ln in render_rules().splitlines() if ln.startswith("- `")]
    assert [ln.split("`")[1] for ln in lines] == list(CAUSE_IDS)


def test_cause_ids_are_plain_strings_for_fixes_and_playbooks() -> None:
    assert CauseId.FPM_DOWN == "fpm-down" and "fpm-down" in CAUSE_IDS
    assert all(type(c) is str for c in CAUSE_IDS)
    assert f"{CauseId.SOCKET_MISMATCH}" == "socket-mismatch"
