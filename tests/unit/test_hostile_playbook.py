"""Playbook values that passed ``playbook.check`` and then broke the run: non-finite or absurd
numbers (``delay: .inf`` raised OverflowError mid-run) and guards that allocate without bound
(``'x'|center(10**10)`` exhausted memory).  Each is now one line, exit 2, file:line, before any host
is contacted — through the real CLI, like a user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from remediations.errors import Fix502Error
from remediations.expr import compile_when
from tests.unit.test_bad_input import GOOD_HOST, assert_one_line, cli, inventory

HEAD = "name: t\nsteps:\n  - diagnose: {}\n  - fix: restart-fpm\n"
CASES = {
    "delay-inf": (HEAD + "    verify: {delay: .inf}\n", ":5:", "delay"),
    "delay-nan": (HEAD + "    verify: {delay: .nan}\n", ":5:", "delay"),
    "max-delay-huge": (HEAD + "    verify: {max_delay: 1.0e+300}\n", ":5:", "max_delay"),
    "retries-huge": (HEAD + "    verify: {retries: 1000000000}\n", ":5:", "retries"),
    "backoff-huge": (HEAD + "    verify: {backoff: 1.0e+9}\n", ":5:", "backoff"),
    "window-huge": ("name: t\nsteps:\n  - diagnose: {window: " + "9" * 400 + "}\n", ":3:", "window"),
    "center-huge": (HEAD + "    when: \"'x'|center(10**10) == 'x'\"\n", ":5:", "too large"),
    "indent-huge": (HEAD + "    when: \"'x'|indent(width=2*10**9) == 'x'\"\n", ":5:", "too large"),
    "literal-digits": (HEAD + "    when: '" + "1" * 5000 + " > 0'\n", ":5:", "out of range"),
    "literal-inf": (HEAD + "    when: '1e999 > 0'\n", ":5:", "out of range"),
    "format-width": (HEAD + "    when: \"'%*s'|format(10**9, 'x') == ''\"\n", ":5:", "format"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_refuses(tmp_path: Path, case: str) -> None:
    text, where, what = CASES[case]
    pb = tmp_path / f"{case}.yml"
    pb.write_text(text)
    line = assert_one_line(cli("playbook.check", str(pb)), what)
    assert f"{pb}{where}" in line or f"{pb.name}{where}" in line, line


@pytest.mark.parametrize("case", ["delay-inf", "center-huge"])
def test_fix_502_refuses_before_any_host(tmp_path: Path, case: str) -> None:
    """The inventory points at 127.0.0.1:1 (nothing listens): accepted, it would end as exit 3."""
    text, _, what = CASES[case]
    pb = tmp_path / "pb.yml"
    pb.write_text(text)
    inv = tmp_path / "inv.yml"
    inv.write_text(inventory(GOOD_HOST))
    assert_one_line(cli("fix-502", "--host", "web61", "--inventory", str(inv), "--playbook", str(pb), "--yes"), what)


@pytest.mark.parametrize(
    "source",
    ["'x'|center(facts.n) == 'x'", "'x'|wordwrap(facts.n) == 'x'", "facts.s|replace('', facts.s) == ''"],
)
def test_guard_bounds_values_known_only_at_run_time(source: str) -> None:
    when = compile_when(source, "pb.yml:5:11")
    ctx: dict[str, Any] = {"facts": {"n": 10**10, "s": "x" * 2000}, "causes": [], "vars": {}, "diagnosis": None}
    with pytest.raises(Fix502Error, match="too l"):
        when(ctx)


# One value holding 9 levels of 9 aliases each: 387 million nodes if expanded.
BOMB = "[&l0 [x], " + ", ".join(f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)) + "]"


@pytest.mark.parametrize("where", ["with", "vars"])
def test_alias_bomb_in_a_playbook_is_one_line(tmp_path: Path, where: str) -> None:
    """The shared YAML reader (remediations/yamlpos.py) counts nodes: one line, no hang."""
    pb = tmp_path / "bomb.yml"
    if where == "vars":
        pb.write_text(f"name: t\nvars:\n  big: {BOMB}\nsteps:\n  - diagnose: {{}}\n")
    else:
        pb.write_text(f"{HEAD}    with:\n      version: {BOMB}\n")
    assert_one_line(cli("playbook.check", str(pb)), f"{pb}:")


def test_oversized_playbook_is_one_line(tmp_path: Path) -> None:
    pb = tmp_path / "big.yml"
    pb.write_text("name: t\nsteps:\n  - diagnose: {}\n" + "# padding\n" * 600_000)
    assert_one_line(cli("playbook.check", str(pb)), "limit")
