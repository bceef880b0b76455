"""``when:`` guards: small Jinja2 expressions evaluated in a sandbox.

Playbooks are data that anyone may hand to fix502, and a guard runs next to SSH credentials, so
expressions are checked twice: statically when the playbook is loaded (syntax, known names, no
dunder/underscore attribute tricks), so a bad playbook fails before any host is touched; and
again at run time by Jinja's immutable sandbox, which catches what static analysis cannot see.
Undefined names and attributes are errors (``StrictUndefined``): a typo must never read as
"false" and silently skip a fix.
"""

from __future__ import annotations

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


_ENV = _GuardEnvironment(undefined=StrictUndefined, autoescape=False)


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
    problems = _static_problems(tree, names)
    if problems:
        raise PlaybookError([f"{where}: when: {p} in {source!r}" for p in problems])
    try:
        compiled = _ENV.compile_expression(text, undefined_to_none=False)
    except TemplateSyntaxError as exc:  # unknown filter or test, found at compile time
        raise PlaybookError([f"{where}: when: invalid expression {source!r}: {exc.message}"]) from None
    return When(source, where, compiled)
