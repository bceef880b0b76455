"""Ansible-style ``{{ ... }}`` in inventory values, rendered the way Ansible renders host vars.

A value may refer to other variables of the same host (``ansible_host: "{{ inventory_hostname
}}.internal.example.com"``, ``ansible_user: "{{ deploy_user }}"``) and to the magic variables
Ansible provides (``inventory_hostname``, ``inventory_hostname_short``, ``group_names``,
``groups``).  Rendering is lazy and recursive like Ansible's, in jinja2's immutable sandbox (an
inventory is input, not code); anything undefined or unsafe is one problem naming where the value
was set.  Lookups and Ansible-only filters are not available here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from remediations.inventory.data import Layer

_MAX_DEPTH = 20
_MAX_TEXT = 100_000


def _regex_replace(value: Any, pattern: str = "", replacement: str = "", ignorecase: bool = False) -> str:
    flags = re.I if ignorecase else 0
    return re.sub(pattern, replacement, str(value), flags=flags)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"yes", "on", "1", "true", "y", "t"}


class _Bounded(ImmutableSandboxedEnvironment):
    """The sandbox, plus bounds on ``*`` and ``**``: ``{{ 'a' * 10**9 }}`` must not eat the controller."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError("exponent too large")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > _MAX_TEXT:
                    raise jinja2.exceptions.SecurityError("result too large")
        return super().call_binop(context, operator, left, right)


def _environment() -> ImmutableSandboxedEnvironment:
    env = _Bounded(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update({"regex_replace": _regex_replace, "bool": _bool, "d": env.filters["default"]})
    return env


_ENV = _environment()


class TemplateProblem(Exception):
    pass


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class _HostVars(Mapping[str, Any]):
    """The variables one template sees; each is rendered when first read (Ansible's lazy templar)."""

    def __init__(self, layer: Layer, magic: dict[str, Any]) -> None:
        self.layer = layer
        self.magic = magic
        self.done: dict[str, Any] = {}
        self.busy: list[str] = []

    def __getitem__(self, key: str) -> Any:
        if key in self.magic:
            return self.magic[key]
        if key not in self.layer:
            raise KeyError(key)
        if key not in self.done:
            if key in self.busy or len(self.busy) > _MAX_DEPTH:
                raise TemplateProblem(f"recursive loop detected in template for {key!r}")
            self.busy.append(key)
            try:
                self.done[key] = self.render(self.layer[key].value)
            finally:
                self.busy.pop()
        return self.done[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**self.layer, **self.magic})

    def __len__(self) -> int:
        return len({**self.layer, **self.magic})

    def render(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if not is_template(value):
            return value
        try:
            template = _ENV.from_string(value)
            # shared=True hands this mapping to jinja2 as is, so only the variables the template
            # names are rendered (a whole-dict copy would render every variable of the host).
            context = template.new_context(self, shared=True)  # type: ignore[arg-type]
            out = "".join(template.root_render_func(context))
            if len(out) > _MAX_TEXT:
                raise TemplateProblem(f"template {value[:40]!r}...: renders to more than {_MAX_TEXT} characters")
            return out
        except TemplateProblem:
            raise
        except jinja2.UndefinedError as exc:
            if "lookup" in str(exc) or "query" in str(exc):
                raise TemplateProblem(
                    f"template {value!r}: lookups are not available in fix502's inventory templates"
                ) from None
            raise TemplateProblem(f"template {value!r}: {' '.join(str(exc).split())}") from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"template {value!r}: {' '.join(str(exc).split())}") from None


def render_layer(layer: Layer, magic: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Every variable rendered; problems are (where, message) for the values that failed."""
    view = _HostVars(layer, magic)
    out: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, var in layer.items():
        try:
            out[key] = view[key]
        except TemplateProblem as exc:
            problems.append((var.where, f"{key}: {exc}"))
        except KeyError as exc:
            problems.append((var.where, f"{key}: undefined variable {exc}"))
    return out, problems
