"""``when:`` guards: evaluation, strict undefined names, and the sandbox (load time and run time)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from remediations.causes import Cause, Diagnosis
from remediations.errors import Fix502Error, PlaybookError
from remediations.expr import When, compile_when
from remediations.facts.model import HostFacts, Resources, WebServer, WordPress

WHERE = "pb.yml:7:11"


def context(causes: list[str] | None = None, **vars_: Any) -> dict[str, Any]:
    ids = causes if causes is not None else ["fpm-down"]
    facts = HostFacts(
        now=0.0,
        tz="+0000",
        web=WebServer(kind="nginx", running=True),
        fpm=[],
        sockets=[],
        tcp=[],
        logs=[],
        log_window_start=0.0,
        dmesg_readable=True,
        resources=Resources(),
        wordpress=WordPress(),
    )
    return {
        "causes": ids,
        "facts": facts,
        "vars": dict(vars_),
        "diagnosis": Diagnosis([Cause(i) for i in ids]),
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"fpm-down" in causes', True),
        ('"pool-exhausted" in causes', False),
        ("causes | length > 0", True),
        ('facts.web.kind == "nginx"', True),
        ("facts.web.running and not facts.fpm", True),
        ('diagnosis.has("fpm-down")', True),
        ("diagnosis.healthy", False),
        ("vars.tier == 'prod'", True),
        ("vars.nothing is defined", False),
        ("true", True),
    ],
)
def test_guard_evaluates(source: str, expected: bool) -> None:
    assert compile_when(source, WHERE)(context(tier="prod")) is expected


def test_guard_result_changes_with_context() -> None:
    guard = compile_when('"fpm-down" in causes', WHERE)
    assert guard(context(["fpm-down"])) is True
    assert guard(context(["header-too-big"])) is False
    assert isinstance(guard, When)
    assert repr(guard) == "When('\"fpm-down\" in causes')"


@pytest.mark.parametrize("source", ['facts.web.nosuch == "x"', "vars.missing == 1", "vars.missing"])
def test_undefined_is_an_error_not_false(source: str) -> None:
    guard = compile_when(source, WHERE)
    with pytest.raises(Fix502Error) as info:
        guard(context())
    assert info.value.where == WHERE
    assert info.value.one_line().startswith(f"{WHERE}: when: {source!r}: undefined: ")
    assert "has no attribute" in info.value.one_line()


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("''.__class__.__mro__[1].__subclasses__()", "'__class__', '__mro__', '__subclasses__'"),
        ("causes.__class__", "'__class__'"),
        ("causes['__class__']", "'__class__'"),
        ("causes | attr('__class__')", "'__class__'"),
        ("causes | map(attribute='__class__') | list", "'__class__'"),
        ("causes | map(attribute='x.__class__') | list", "'__class__'"),
        ("causes | selectattr('_private') | list", "'_private'"),
        ("facts.__init__.__globals__", "'__init__', '__globals__'"),
        ("causes.mro", "'mro'"),
        ("''.format", "'format'"),
        ("facts._hidden", "'_hidden'"),
    ],
)
def test_unsafe_expressions_refused_at_load(source: str, names: str) -> None:
    with pytest.raises(PlaybookError) as info:
        compile_when(source, WHERE)
    assert info.value.problems == [f"{WHERE}: when: unsafe expression: {names} not allowed in {source!r}"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('"x" in cuases', "unknown name 'cuases' (known: causes, diagnosis, facts, vars)"),
        ("range(10) | list", "unknown name 'range'"),
        ("causes |", "invalid expression 'causes |'"),
        ("causes | nosuch", "No filter named 'nosuch'"),
        ("causes }}", "invalid expression 'causes }}': unexpected '}}'"),
        ("{{ causes }}", "write the bare expression without '{{ }}'"),
        ("   ", "empty expression"),
    ],
)
def test_bad_expressions_refused_at_load(source: str, message: str) -> None:
    with pytest.raises(PlaybookError) as info:
        compile_when(source, WHERE)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(f"{WHERE}: when: ")
    assert message in info.value.problems[0]


@pytest.mark.parametrize(
    "source",
    [
        'causes.append("x")',  # the immutable sandbox refuses mutation
        "vars.update({'a': 1})",
        "facts | attr(vars.name)",  # an attribute chosen at run time
        "'a' * 100000",
        "2 ** 100000",
        "2 ** 64 ** 64 ** 64",
    ],
)
def test_sandbox_refuses_at_run_time(source: str) -> None:
    guard = compile_when(source, WHERE)
    with pytest.raises(Fix502Error) as info:
        guard(context(name="__class__"))
    assert info.value.one_line().startswith(f"{WHERE}: unsafe expression")


def test_type_errors_at_run_time_are_fix502_errors() -> None:
    guard = compile_when("causes > 1", WHERE)
    with pytest.raises(Fix502Error) as info:
        guard(context())
    assert "TypeError" in info.value.one_line()
    assert info.value.where == WHERE


# Guards built from atoms whose truth in context(["fpm-down"], tier="prod") is known; the
# combination's truth is computed here by Python, independently of Jinja.
_ATOMS = st.sampled_from(
    [
        ('"fpm-down" in causes', True),
        ('"worker-crash" in causes', False),
        ('facts.web.kind == "nginx"', True),
        ("facts.web.running", True),
        ("facts.fpm | length > 0", False),
        ("vars.tier == 'prod'", True),
        ('diagnosis.has("socket-mismatch")', False),
    ]
)


def _combine(children: st.SearchStrategy[tuple[str, bool]]) -> st.SearchStrategy[tuple[str, bool]]:
    pairs = st.tuples(children, children)
    return st.one_of(
        children.map(lambda a: (f"not ({a[0]})", not a[1])),
        pairs.map(lambda ab: (f"({ab[0][0]}) and ({ab[1][0]})", ab[0][1] and ab[1][1])),
        pairs.map(lambda ab: (f"({ab[0][0]}) or ({ab[1][0]})", ab[0][1] or ab[1][1])),
    )


@settings(max_examples=200, deadline=None)
@given(expr=st.recursive(_ATOMS, _combine, max_leaves=8))
def test_composed_guards_evaluate_to_their_truth(expr: tuple[str, bool]) -> None:
    source, expected = expr
    assert compile_when(source, WHERE)(context(["fpm-down"], tier="prod")) is expected


@settings(max_examples=300, deadline=None)
@given(source=st.text(max_size=40))
def test_any_text_is_a_guard_or_a_playbook_error(source: str) -> None:
    try:
        guard = compile_when(source, WHERE)
    except PlaybookError as exc:
        assert all(p.startswith(f"{WHERE}: when: ") for p in exc.problems)
        return
    ctx = context()
    try:
        got = guard(ctx)
    except Fix502Error as exc:
        assert exc.where == WHERE
        return
    # It ran: the answer must be the truth of the expression as Jinja itself evaluates it (the
    # guard's bounds on * and ** did not fire, so an unbounded sandbox computes the same value).
    reference = ImmutableSandboxedEnvironment(undefined=StrictUndefined).compile_expression(source)
    assert got is bool(reference(**ctx))


@settings(max_examples=200, deadline=None)
@given(
    attr=st.from_regex(r"_[A-Za-z0-9_]{0,10}", fullmatch=True),
    base=st.sampled_from(["causes", "facts", "''"]),
)
def test_underscore_attributes_are_always_refused(attr: str, base: str) -> None:
    with pytest.raises(PlaybookError, match="unsafe expression"):
        compile_when(f"{base}.{attr}", WHERE)
