"""Playbook loading: the good fixtures load into the data model; every bad fixture reports each
problem with its exact file:line:col, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from remediations.errors import PlaybookError
from remediations.facts.model import HostFacts, Resources, WebServer, WordPress
from remediations.playbook import DiagnoseStep, FixStep, VerifySpec, load_playbook

FIX = Path(__file__).parent / "fixtures" / "playbooks"

FIX_PARAMS: dict[str, dict[str, Any]] = {
    "restart-fpm": {},
    "raise-fastcgi-buffers": {"buffer_size": str, "buffers": int, "ratio": float},
    "tune-pool": {
        "max_children": int,
        "dry_run": bool,
        "pools": list[str],
        "mode": Literal["static", "dynamic", "ondemand"],
        "note": str | None,
    },
}


def facts(kind: Literal["nginx", "apache", "none"] = "nginx") -> HostFacts:
    return HostFacts(
        now=0.0,
        tz="+0000",
        web=WebServer(kind=kind),
        fpm=[],
        sockets=[],
        tcp=[],
        logs=[],
        log_window_start=0.0,
        dmesg_readable=True,
        resources=Resources(),
        wordpress=WordPress(),
    )


def test_good_playbook_data_model() -> None:
    path = FIX / "good" / "fix-502.yml"
    book = load_playbook(path, FIX_PARAMS)
    assert book.name == "fix-502"
    assert book.path == path
    assert book.vars == {"site_path": "/", "tries": 3}
    assert [type(s) for s in book.steps] == [DiagnoseStep, FixStep, FixStep, DiagnoseStep, FixStep]
    first, restart, buffers, again, pool = book.steps
    assert isinstance(first, DiagnoseStep) and isinstance(again, DiagnoseStep)
    assert (first.window, first.where) == (900, f"{path}:6:5")
    assert (again.window, again.where) == (None, f"{path}:18:5")
    assert isinstance(restart, FixStep)
    assert (restart.fix_id, restart.name, restart.rollback, restart.where) == (
        "restart-fpm",
        "Start PHP-FPM",
        "auto",
        f"{path}:7:5",
    )
    assert restart.verify == VerifySpec(retries=5, delay=1.0, backoff=2.0, max_delay=10.0, path="/")
    assert isinstance(buffers, FixStep)
    assert buffers.params == {"buffer_size": "32k", "buffers": 16, "ratio": 2.0}
    assert isinstance(buffers.params["ratio"], float)  # an int given for a float parameter
    assert buffers.rollback == "never"
    assert buffers.verify == VerifySpec()  # defaults; path None = the fix's own probe
    assert isinstance(pool, FixStep)
    assert pool.params == {
        "max_children": 12,
        "dry_run": False,
        "pools": ["www", "blog"],
        "mode": "dynamic",
        "note": None,
    }
    assert pool.when is None


def test_when_guards_evaluate_against_context() -> None:
    book = load_playbook(FIX / "good" / "fix-502.yml", FIX_PARAMS)
    restart, buffers = book.steps[1], book.steps[2]
    assert isinstance(restart, FixStep) and isinstance(buffers, FixStep)
    assert restart.when is not None and buffers.when is not None
    ctx: dict[str, Any] = {"causes": ["fpm-down"], "facts": facts(), "vars": {}, "diagnosis": None}
    assert restart.when(ctx) is True
    assert buffers.when(ctx) is False  # a list of guards: all must hold
    ctx["causes"] = ["header-too-big"]
    assert buffers.when(ctx) is True
    ctx["facts"] = facts("apache")
    assert buffers.when(ctx) is False


def test_minimal_playbook_name_defaults_to_file_stem() -> None:
    book = load_playbook(FIX / "good" / "minimal.yml", {})
    assert book.name == "minimal"
    assert book.steps == [DiagnoseStep(None, f"{FIX / 'good' / 'minimal.yml'}:2:5")]


def test_with_params_are_checked_against_the_fix_declaration(tmp_path: Path) -> None:
    """The playbook loader takes each fix's declared ``params``: values of the declared type pass
    (an int given for a float is widened), anything else is one positioned error."""
    declared = {"size-max-children": {"ram_share": float, "max_children": int}}
    head = "name: t\nsteps:\n  - diagnose: {}\n  - fix: size-max-children\n"
    good = tmp_path / "good.yml"
    good.write_text(head + "    with: {ram_share: 1, max_children: 12}\n")
    [_, step] = load_playbook(good, declared).steps
    assert isinstance(step, FixStep) and step.params == {"ram_share": 1.0, "max_children": 12}
    assert isinstance(step.params["ram_share"], float)
    bad = tmp_path / "bad.yml"
    bad.write_text(head + "    with: {max_children: true}\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(bad, declared)
    assert info.value.problems == [f"{bad}:5:26: with: max_children must be int, not bool (true)"]


BAD_CASES: list[tuple[str, list[str]]] = [
    (
        "ansible-play.yml",
        [
            "{f}:1:1: playbook must be a mapping with name, vars and steps (a list of Ansible plays is "
            "not a fix502 playbook)",
        ],
    ),
    (
        "diagnose.yml",
        [
            "{f}:3:24: diagnose: window must be a positive integer (seconds), not 0",
            "{f}:4:24: diagnose: window must be a positive integer (seconds), not '15m'",
            "{f}:5:15: diagnose must be a mapping such as {} or {window: 900}, not int",
            "{f}:7:11: name must be a non-empty string, not ''",
        ],
    ),
    (
        "duplicate-key.yml",
        [
            '{f}:6:5: YAML error: found duplicate key "rollback" with value "never" (original value: '
            '"auto") (while constructing a mapping)',
        ],
    ),
    (
        "empty-steps.yml",
        [
            "{f}:2:8: steps must be a non-empty list, not empty",
        ],
    ),
    (
        "fix-before-diagnose.yml",
        [
            "{f}:3:5: step 1: fix before any diagnose step (add '- diagnose: {}' first)",
        ],
    ),
    (
        "no-steps.yml",
        [
            "{f}:1:1: playbook has no steps",
        ],
    ),
    (
        "param-types.yml",
        [
            "{f}:6:20: with: buffer_size must be str, not int (32)",
            "{f}:7:16: with: buffers must be int, not bool (true)",
            "{f}:8:14: with: ratio must be number, not str ('2')",
            "{f}:9:7: with: unknown parameter 'bufers' for fix 'raise-fastcgi-buffers' (did you mean 'buffers'?)",
            "{f}:11:26: with: max_children must be int, not float (1.5)",
            "{f}:11:40: with: dry_run must be bool, not int (1)",
            "{f}:11:50: with: pools must be list[str], not list (['www', 3])",
            "{f}:11:66: with: mode must be Literal['static', 'dynamic', 'ondemand'], not str ('fast')",
            "{f}:13:12: with: fix 'restart-fpm' takes no parameters (got 'force')",
        ],
    ),
    (
        "rollback.yml",
        [
            "{f}:5:15: rollback must be auto or never, not 'maybe'",
            "{f}:7:15: rollback must be auto or never, not false",
        ],
    ),
    (
        "syntax.yml",
        [
            "{f}:5:10: YAML error: mapping values are not allowed here",
        ],
    ),
    (
        "unknown-fix.yml",
        [
            "{f}:4:10: unknown fix 'restart-fmp' (did you mean 'restart-fpm'?)",
            "{f}:5:10: unknown fix 'reboot-the-world' (known: raise-fastcgi-buffers, restart-fpm, tune-pool)",
        ],
    ),
    (
        "unknown-keys.yml",
        [
            "{f}:2:1: a playbook names no hosts; choose them with --host/--group/--limit",
            "{f}:4:28: unknown key 'depth' in diagnose (expected one of: window)",
            "{f}:5:5: unknown key 'name' in a diagnose step (only 'diagnose')",
            "{f}:7:5: unknown key 'wehn' in a fix step (did you mean 'when'?)",
            "{f}:8:5: unknown key 'fixx' in a step (did you mean 'fix'?)",
            "{f}:8:5: step 3 needs a 'diagnose' or 'fix' key",
            "{f}:9:5: step 4 has both 'diagnose' and 'fix'; split it into two steps",
            "{f}:11:5: step 5 must be a mapping with 'diagnose' or 'fix', not str",
        ],
    ),
    (
        "verify.yml",
        [
            "{f}:6:16: verify: retries must be >= 0, not -1",
            "{f}:8:16: verify: backoff must be >= 1, not 0.5",
            "{f}:9:18: verify: max_delay (1) is smaller than delay (2)",
            "{f}:10:13: verify: path 'wp-login.php' must start with '/' and contain no whitespace",
            "{f}:11:7: unknown key 'timeout' in verify (expected one of: retries, delay, backoff, max_delay, path)",
            "{f}:13:23: verify: retries must be an integer, not bool",
            "{f}:13:36: verify: delay must be a number, not str",
        ],
    ),
    (
        "when-bad.yml",
        [
            "{f}:5:11: when: unknown name 'cuases' (known: causes, diagnosis, facts, vars) in '\"fpm-down\" in cuases'",
            "{f}:7:11: when: invalid expression 'causes | length >': unexpected 'end of template'",
            "{f}:9:11: when: write the bare expression without '{{ }}' or '{% %}': '{{ causes }}'",
            "{f}:11:20: when: list items must be expressions (strings), not int",
            "{f}:13:11: when: invalid expression 'causes | nosuchfilter': No filter named 'nosuchfilter'.",
        ],
    ),
    (
        "when-unsafe.yml",
        [
            "{f}:5:11: when: unsafe expression: '__class__', '__mro__', '__subclasses__' not allowed "
            "in \"''.__class__.__mro__[1].__subclasses__()\"",
            "{f}:7:11: when: unsafe expression: '__class__' not allowed in 'causes.__class__'",
            "{f}:9:11: when: unsafe expression: '__class__' not allowed in \"causes | attr('__class__')\"",
        ],
    ),
]


@pytest.mark.parametrize(("name", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_playbook_reports_every_problem_with_position(name: str, expected: list[str]) -> None:
    path = FIX / "bad" / name
    with pytest.raises(PlaybookError) as info:
        load_playbook(path, FIX_PARAMS)
    assert info.value.problems == [e.replace("{f}", str(path)) for e in expected]
    assert info.value.one_line().splitlines() == info.value.problems
    assert info.value.exit_code == 2


def test_missing_playbook_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook(tmp_path / "nope.yml", FIX_PARAMS)
    assert info.value.problems == [f"{tmp_path / 'nope.yml'}: no such file"]


def test_empty_playbook(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("# nothing here\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(path, FIX_PARAMS)
    assert info.value.problems == [f"{path}:1:1: playbook is empty"]


def test_bad_character_is_located(tmp_path: Path) -> None:
    path = tmp_path / "ctl.yml"
    path.write_text("name: x\nsteps:\n  - diagnose: {}\n  - fix: restart\x07fpm\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(path, FIX_PARAMS)
    assert info.value.problems == [f"{path}:4:17: YAML error: character '\\x07' is not allowed"]
