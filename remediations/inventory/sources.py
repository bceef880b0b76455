"""Inventory sources → :class:`Data`: Ansible's YAML (and JSON) format and its INI format.

Both follow ansible-core's plugins (``plugins/inventory/yaml.py``, ``ini.py``): the same
sections, the same order of ``add_group``/``add_child``/``add_host`` calls (which decides host
order and group depth), ``host:port`` and ``web[01:03]`` host patterns, and INI values read as
Python literals (``ast.literal_eval``) as Ansible does.  Every problem names file:line(:col).
"""

from __future__ import annotations

import ast
import difflib
import re
import shlex
import string
from typing import Any

from ruamel.yaml.comments import CommentedMap

from remediations.inventory.data import Data, Layer, Var, set_var
from remediations.inventory.vet import NAME_RE, token_problem
from remediations.yamlpos import TagHook, items, key_where, plain, value_where

MAX_RANGE_HOSTS = 10_000
_RANGE = re.compile(r"\[([0-9a-zA-Z]*):([0-9a-zA-Z]*)(?::([0-9]+))?\]")
_IPV6_PORT = re.compile(r"^\[([0-9a-fA-F:.]+)\](?::([0-9]+))?$")
_NAME_PORT = re.compile(r"^([^:\[\]]+|[^:]*\[[^\]]*\][^:]*)(?::([0-9]+))?$")


def _range_items(beg: str, end: str, step: int) -> list[str]:
    if not end:
        raise ValueError("host range must have an end value")
    if step < 1:
        raise ValueError("host range stride must be at least 1")
    if beg.isdigit() and end.isdigit():
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        if width and len(beg) != len(end):
            raise ValueError("host range must specify equal-length begin and end formats")
        count = (int(end) - int(beg)) // step + 1
        if count > MAX_RANGE_HOSTS:  # before building anything: web[0:999999999] must not eat memory
            raise ValueError(f"host range expands to more than {MAX_RANGE_HOSTS} hosts")
        return [str(i).zfill(width) for i in range(int(beg), int(end) + 1, step)]
    if len(beg) == 1 and len(end) == 1 and beg.isalpha() and end.isalpha():
        letters = string.ascii_letters
        return [letters[i] for i in range(letters.index(beg), letters.index(end) + 1, step)]
    raise ValueError("host range must be numeric or single letters")


def expand_range(name: str) -> list[str]:
    """``web[01:03].lab`` → web01.lab, web02.lab, web03.lab (Ansible's ``expand_hostname_range``)."""
    match = _RANGE.search(name)
    if not match:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    items_ = _range_items(match.group(1) or "0", match.group(2), int(match.group(3) or 1))
    if not items_:
        raise ValueError("host range is empty (begin after end)")
    rests = expand_range(tail)
    if len(items_) * len(rests) > MAX_RANGE_HOSTS:
        raise ValueError(f"host range expands to more than {MAX_RANGE_HOSTS} hosts")
    return [f"{head}{item}{rest}" for item in items_ for rest in rests]


def host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """``parse_address(allow_ranges=True)`` + range expansion: names and an optional port."""
    port: str | None = None
    six = _IPV6_PORT.match(pattern)
    if six:
        pattern, port = six.group(1), six.group(2)
    elif pattern.count(":") > 1:
        pass  # a bare IPv6 address has no port
    else:
        match = _NAME_PORT.match(pattern)
        if not match:
            raise ValueError("not a valid host pattern")
        pattern, port = match.group(1), match.group(2)
    names = expand_range(pattern) if "[" in pattern else [pattern]
    return names, int(port) if port else None


class YamlSource:
    """``plugins/inventory/yaml.py``: keys processed in the order written."""

    def __init__(self, data: Data, display: str, problems: list[str], tags: TagHook | None) -> None:
        self.data, self.display, self.problems, self.tags = data, display, problems, tags

    def layer(self, mapping: Any, what: str, where: str) -> Layer:
        if mapping is None:
            return {}
        if not isinstance(mapping, CommentedMap):
            self.problems.append(f"{where}: {what} must be a mapping, not {kind(mapping)}")
            return {}
        out: Layer = {}
        for key, value in items(mapping):
            if not isinstance(key, str):
                self.problems.append(
                    f"{key_where(self.display, mapping, key)}: {what}: variable name {key!r} is not a string"
                )
                continue
            vwhere = value_where(self.display, mapping, key)
            out[key] = Var(plain(value, vwhere, self.problems, tags=self.tags), vwhere)
        return out

    def parse(self, doc: Any) -> None:
        if doc is None:
            self.problems.append(f"{self.display}: inventory is empty")
            return
        if not isinstance(doc, CommentedMap):
            self.problems.append(f"{self.display}:1:1: inventory must be a YAML mapping of groups, not {kind(doc)}")
            return
        for name, body in items(doc):
            self.group(name, body, key_where(self.display, doc, name), doc)

    def group(self, name: Any, body: Any, where: str, owner: CommentedMap) -> str | None:
        problem = token_problem(name, NAME_RE)
        if problem:
            self.problems.append(f"{where}: group name {name!r} {problem}")
            return None
        if body is not None and not isinstance(body, CommentedMap):
            vwhere = value_where(self.display, owner, name)
            self.problems.append(
                f"{vwhere}: group {name!r} must be a mapping with hosts/children/vars, not {kind(body)}"
            )
            return None
        group = self.data.add_group(name, where)
        for key, value in items(body) if isinstance(body, CommentedMap) else []:
            assert isinstance(body, CommentedMap)
            vwhere = value_where(self.display, body, key)
            if isinstance(value, str) and key in ("hosts", "children"):
                value = CommentedMap({value: None})  # Ansible accepts `hosts: web1`
            if key == "vars":
                for var, val in self.layer(value, f"vars of group {name!r}", vwhere).items():
                    self.group_var(group.name, var, val)
            elif key == "children":
                self.children(name, value, vwhere)
            elif key == "hosts":
                self.hosts(name, value, vwhere)
            else:
                close = difflib.get_close_matches(str(key), ["hosts", "children", "vars"], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else " (expected hosts, children or vars)"
                self.problems.append(f"{key_where(self.display, body, key)}: group {name!r}: unknown key {key!r}{hint}")
        return str(name)

    def group_var(self, group: str, key: str, var: Var) -> None:
        if key == "ansible_group_priority":  # a setting of the group, not a variable
            try:
                self.data.groups[group].priority = int(var.value)
            except (TypeError, ValueError):
                self.problems.append(f"{var.where}: ansible_group_priority must be an integer")
            return
        set_var(self.data.groups[group].vars, key, var)

    def children(self, parent: str, value: Any, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, CommentedMap):
            self.problems.append(f"{where}: children of group {parent!r} must be a mapping, not {kind(value)}")
            return
        for child, body in items(value):
            kwhere = key_where(self.display, value, child)
            if child == "all":
                self.problems.append(f"{kwhere}: group 'all' cannot be a child of {parent!r}")
                continue
            name = self.group(child, body, kwhere, value)
            if name is not None:
                problem = self.data.add_child(parent, name)
                if problem:
                    self.problems.append(f"{kwhere}: {problem}")

    def hosts(self, group: str, value: Any, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, CommentedMap):
            self.problems.append(f"{where}: hosts of group {group!r} must be a mapping, not {kind(value)}")
            return
        for pattern, body in items(value):
            kwhere = key_where(self.display, value, pattern)
            if not isinstance(pattern, str):
                self.problems.append(f"{kwhere}: host name {pattern!r} must be a string")
                continue
            try:
                names, port = host_pattern(pattern)
            except ValueError as exc:
                self.problems.append(f"{kwhere}: host {pattern!r}: {exc}")
                continue
            layer = self.layer(body, f"host {pattern!r}", value_where(self.display, value, pattern))
            add_hosts(self.data, names, port, layer, group, kwhere, self.problems)


def add_hosts(
    data: Data, names: list[str], port: int | None, layer: Layer, group: str, where: str, problems: list[str]
) -> None:
    """``_populate_host_vars``: each host into the group, then its variables set in order."""
    for name in names:
        problem = token_problem(name, NAME_RE)
        if problem:
            problems.append(f"{where}: host name {name!r} {problem}")
            continue
        rec = data.add_host(name, where, group, port)
        for key, var in layer.items():
            set_var(rec.vars, key, var)


def kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


# --- INI ---------------------------------------------------------------------------------------

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUPNAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


def ini_value(text: str) -> Any:
    """``_parse_value``: a Python literal if it is one, else the string."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text
    if value is ... or isinstance(value, complex):
        return str(value) if value is not ... else "..."
    if isinstance(value, tuple | set):
        return list(value)
    return value


class IniSource:
    def __init__(self, data: Data, display: str, problems: list[str]) -> None:
        self.data, self.display, self.problems = data, display, problems
        self.pending: dict[str, dict[str, Any]] = {}

    def parse(self, text: str) -> None:
        group, state = "ungrouped", "hosts"
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            where = f"{self.display}:{number}"
            section = _SECTION.match(line)
            if section:
                group, state = self.section(section.group(1), section.group(2) or "hosts", where)
                continue
            if line.startswith("[") and line.endswith("]"):
                self.problems.append(f"{where}: invalid section entry {line!r} (no spaces or other characters allowed)")
                continue
            if state == "hosts":
                self.host_line(line, group, where)
            elif state == "vars":
                self.var_line(line, group, where)
            elif state == "children":
                self.child_line(line, group, where)
        for name, decl in self.pending.items():
            if decl["state"] == "vars":
                self.problems.append(f"{decl['where']}: section [{name}:vars] is for an undefined group {name!r}")
            else:
                self.problems.append(
                    f"{decl['where']}: section [{decl['parents'][-1]}:children] includes undefined group {name!r}"
                )

    def section(self, name: str, state: str, where: str) -> tuple[str, str]:
        if state not in ("hosts", "children", "vars"):
            self.problems.append(f"{where}: section [{name}:{state}] has unknown type {state!r}")
            return name, "skip"
        problem = token_problem(name, NAME_RE)
        if problem:
            self.problems.append(f"{where}: group name {name!r} {problem}")
            return name, "skip"
        if name not in self.data.groups:
            if state == "vars" and name not in self.pending:
                self.pending[name] = {"where": where, "state": state}
            self.data.add_group(name, where)
        if name in self.pending and state != "vars":
            if self.pending[name]["state"] == "children":
                self._add_pending(name)
            else:
                del self.pending[name]
        return name, state

    def _add_pending(self, group: str) -> None:
        for parent in self.pending[group]["parents"]:
            problem = self.data.add_child(parent, group)
            if problem:
                self.problems.append(f"{self.pending[group]['where']}: {problem}")
            if parent in self.pending and self.pending[parent]["state"] == "children":
                self._add_pending(parent)
        del self.pending[group]

    def host_line(self, line: str, group: str, where: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            self.problems.append(f"{where}: cannot parse host line: {exc}")
            return
        try:
            names, port = host_pattern(tokens[0])
        except ValueError as exc:
            self.problems.append(f"{where}: host {tokens[0]!r}: {exc}")
            return
        layer: Layer = {}
        for token in tokens[1:]:
            if "=" not in token:
                self.problems.append(f"{where}: expected key=value host variable, got {token!r}")
                return
            key, value = token.split("=", 1)
            layer[key] = Var(ini_value(value), where)
        add_hosts(self.data, names, port, layer, group, where, self.problems)

    def var_line(self, line: str, group: str, where: str) -> None:
        if "=" not in line:
            self.problems.append(f"{where}: expected key=value, got {line!r}")
            return
        key, value = (part.strip() for part in line.split("=", 1))
        var = Var(ini_value(value), where)
        if key == "ansible_group_priority":
            try:
                self.data.groups[group].priority = int(var.value)
            except (TypeError, ValueError):
                self.problems.append(f"{where}: ansible_group_priority must be an integer")
            return
        set_var(self.data.groups[group].vars, key, var)

    def child_line(self, line: str, group: str, where: str) -> None:
        match = _GROUPNAME.match(line)
        if not match:
            self.problems.append(f"{where}: expected a group name, got {line!r}")
            return
        child = match.group(1)
        if child not in self.data.groups:
            decl = self.pending.setdefault(child, {"where": where, "state": "children", "parents": []})
            decl.setdefault("parents", []).append(group)
            return
        problem = self.data.add_child(group, child)
        if problem:
            self.problems.append(f"{where}: {problem}")
