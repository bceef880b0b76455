"""``when:`` guards: small Jinja2 expressions evaluated in a sandbox.

Playbooks are data that anyone may hand to fix502, and a guard runs next to SSH credentials, so
expressions are checked twice: statically when the playbook is loaded (syntax, known names, no
dunder/underscore attribute tricks), so a bad playbook fails before any host is touched; and
again at run time by Jinja's immutable sandbox, which catches what static analysis cannot see.
Undefined names and attributes are errors (``StrictUndefined``): a typo must never read as
"false" and silently skip a fix.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    ImmutableSandboxedEnvironment,
)

from remediations.errors import Fix502Error, PlaybookError

#: The names a guard may use.  ``facts`` is a HostFacts, ``diagnosis`` a Diagnosis, ``causes``
#: the ranked cause ids, ``vars`` the host's inventory vars merged with the playbook's.
WHEN_NAMES: frozenset[str] = frozenset({"causes", "facts", "vars", "diagnosis"})

# Attribute names that lead from an ordinary object to interpreter internals.  Anything starting
# with "_" is refused as well; these are the non-underscore ones.
_UNSAFE_ATTRS: frozenset[str] = frozenset(
    {"mro", "format", "format_map"}
    | UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)

# Bounds for the operators that can allocate or compute without limit ("a" * 10**9, 9**9**9).
_MAX_SEQUENCE = 10_000
_MAX_EXPONENT = 64
_MAX_BITS = 4096


class _GuardEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus bounded ``*`` and ``**``, so a guard cannot hang the run."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError(f"exponent {right!r} is too large")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() * right > _MAX_BITS:
                raise SecurityError("power result is too large")
            return operator.pow(left, right)
        if operator_ == "*":
            for seq, count in ((left, right), (right, left)):
                too_long = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if too_long and len(seq) * count > _MAX_SEQUENCE:
                    raise SecurityError("repetition result is too long")
            return operator.mul(left, right)
        return super().call_binop(context, operator_, left, right)


# Filters whose numeric arguments size what they allocate ('x'|center(10**10) is 10 GB), the cap on
# those arguments, on what replace() may build, and on numeric literals (a 5000-digit literal makes
# Python's int() raise inside Jinja's lexer).
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice")
_MAX_OUTPUT = 1_000_000
_MAX_LITERAL = 10**12


def _sized(f: Callable[..., Any]) -> Callable[..., Any]:
    first = 1 if hasattr(f, "jinja_pass_arg") else 0  # environment/context, then the value

    @functools.wraps(f)
    def call(*args: Any, **kwargs: Any) -> Any:
        for a in (*args[first + 1 :], *kwargs.values()):
            if isinstance(a, int | float) and not isinstance(a, bool) and not abs(a) <= _MAX_SEQUENCE:
                raise SecurityError(f"{f.__name__}() argument {a!r} is too large")
        return f(*args, **kwargs)

    return call


def _replace(f: Callable[..., Any]) -> Callable[..., Any]:
    first = 1 if hasattr(f, "jinja_pass_arg") else 0

    @functools.wraps(f)
    def call(*args: Any, **kwargs: Any) -> Any:
        value, new = args[first] if len(args) > first else "", args[first + 2] if len(args) > first + 2 else ""
        if (len(str(value)) + 1) * max(1, len(str(kwargs.get("new", new)))) > _MAX_OUTPUT:
            raise SecurityError("replace() result could be too long")
        return f(*args, **kwargs)

    return call


_ENV = _GuardEnvironment(undefined=StrictUndefined, autoescape=False)
for _name in _SIZED_FILTERS:
    _ENV.filters[_name] = _sized(_ENV.filters[_name])
_ENV.filters["replace"] = _replace(_ENV.filters["replace"])
del _ENV.filters["format"]  # printf widths ("%*s") allocate without bound; guards need no formatting


class When:
    """A compiled guard.  Calling it with a context returns whether the step should run."""

    def __init__(self, source: str, where: str, func: Callable[..., Any]) -> None:
        self.source = source
        self.where = where
        self._func = func

    def __repr__(self) -> str:
        return f"When({self.source!r})"

    def __call__(self, context: Mapping[str, Any]) -> bool:
        try:
            value = self._func(**dict(context))
            return bool(value)
        except SecurityError as exc:
            raise Fix502Error(f"unsafe expression {self.source!r}: {exc}", where=self.where) from None
        except UndefinedError as exc:
            raise Fix502Error(f"when: {self.source!r}: undefined: {exc}", where=self.where) from None
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise Fix502Error(f"when: {self.source!r} failed: {type(exc).__name__}: {exc}", where=self.where) from None


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


_FOLD: dict[type[nodes.Node], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: operator.mul,
    nodes.Pow: operator.pow,
}


def _fold(node: nodes.Node) -> int | float | None:
    """The value of a constant numeric argument (``10**10``), within the run-time bounds; None when
    it depends on the context (checked again at run time) or is not a plain number."""
    if isinstance(node, nodes.Const):
        v = node.value
        return v if isinstance(v, int | float) and not isinstance(v, bool) else None
    if isinstance(node, nodes.Neg):
        inner = _fold(node.node)
        return None if inner is None else -inner
    op = _FOLD.get(type(node))
    if op is None or not isinstance(node, nodes.BinExpr):
        return None
    left, right = _fold(node.left), _fold(node.right)
    if left is None or right is None:
        return None
    if op is operator.pow and abs(right) > _MAX_EXPONENT:
        return None  # refused by the run-time bound already; not worth computing here
    try:
        return op(left, right)  # type: ignore[no-any-return]
    except (ArithmeticError, ValueError):
        return None


def _sized_problems(node: nodes.Filter) -> list[str]:
    if node.name not in _SIZED_FILTERS:
        return []
    values = [_fold(a) for a in [*node.args, *(k.value for k in node.kwargs)]]
    return [
        f"{node.name}() argument {v!r} is too large" for v in values if v is not None and not abs(v) <= _MAX_SEQUENCE
    ]


def _bad_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not (math.isfinite(value) and abs(value) <= _MAX_LITERAL)


def _unsafe_name(name: str) -> bool:
    return name.startswith("_") or name in _UNSAFE_ATTRS


def _static_problems(tree: nodes.Expr, names: frozenset[str]) -> list[str]:
    unsafe: list[str] = []
    problems: list[str] = []
    for node in _walk(tree):
        if isinstance(node, nodes.Getattr) and _unsafe_name(node.attr):
            unsafe.append(node.attr)
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and _unsafe_name(node.arg.value)
        ):
            unsafe.append(node.arg.value)
        elif isinstance(node, nodes.Filter | nodes.Test):
            if isinstance(node, nodes.Filter):
                problems += _sized_problems(node)
            # attr('x'), map(attribute='a.b'), selectattr('x'), sort(attribute=...) all reach
            # attributes by a string; vet every dotted part of every string argument.
            strict = node.name == "attr"
            args = [(None, a) for a in node.args] + [(k.key, k.value) for k in node.kwargs]
            for key, arg in args:
                if not (isinstance(arg, nodes.Const) and isinstance(arg.value, str)):
                    continue
                for part in arg.value.split("."):
                    if part.startswith("_") or ((strict or key == "attribute") and part in _UNSAFE_ATTRS):
                        unsafe.append(part)
        elif isinstance(node, nodes.Const) and _bad_number(node.value):
            problems.append(f"number {node.value!r} is out of range (finite, at most {_MAX_LITERAL:.0e})")
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in names:
            if node.name.startswith("_"):
                unsafe.append(node.name)
            else:
                known = ", ".join(sorted(names))
                problems.append(f"unknown name {node.name!r} (known: {known})")
    # The walk meets the outermost node first; reversed, names follow the source order.
    if unsafe:
        listed = ", ".join(repr(u) for u in dict.fromkeys(reversed(unsafe)))
        problems.insert(0, f"unsafe expression: {listed} not allowed")
    return list(dict.fromkeys(problems))


def compile_when(source: str, where: str, names: frozenset[str] = WHEN_NAMES) -> When:
    """Parse and vet a guard now, so the error points at the playbook line, not at a host."""
    text = source.strip()
    if not text:
        raise PlaybookError([f"{where}: when: empty expression"])
    if text.startswith("{{") or "{%" in text:
        raise PlaybookError([f"{where}: when: write the bare expression without '{{{{ }}}}' or '{{% %}}': {source!r}"])
    try:
        parser = Parser(_ENV, text, state="variable")
        tree = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(f"unexpected {token.value!r}", token.lineno, None, None)
    except TemplateSyntaxError as exc:
        raise PlaybookError([f"{where}: when: invalid expression {source!r}: {exc.message}"]) from None
    except ValueError:  # Python's int() refuses a literal of more than 4300 digits inside the lexer
        raise PlaybookError([f"{where}: when: number out of range in {source!r}"]) from None
    problems = _static_problems(tree, names)
    if problems:
        raise PlaybookError([f"{where}: when: {p} in {source!r}" for p in problems])
    try:
        compiled = _ENV.compile_expression(text, undefined_to_none=False)
    except TemplateSyntaxError as exc:  # unknown filter or test, found at compile time
        raise PlaybookError([f"{where}: when: invalid expression {source!r}: {exc.message}"]) from None
    return When(source, where, compiled)
