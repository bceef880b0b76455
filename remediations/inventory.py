"""Ansible's YAML inventory, read as-is, with every value that reaches ssh vetted.

Operators already describe their fleet in Ansible inventories; reading that format unchanged
(``all:``/``hosts:``/``children:``/``vars:``, ``group_vars/`` and ``host_vars/`` beside the
file, host ranges such as ``web[01:03]``, YAML 1.1 booleans such as ``yes``) means fix502 needs no
second source of truth.  Variable precedence is Ansible's default ``VARIABLE_PRECEDENCE``,
lowest first::

    all: vars (file) < other groups' vars (file, parents before children)
    < group_vars/all < group_vars/<group> (parents before children)
    < host vars (file) < host_vars/<host>

Groups of the same depth are ordered by ``ansible_group_priority`` then name; dictionaries are
replaced, not merged (Ansible's default ``hash_behaviour``).

Host names, users, addresses and key paths end up as ssh arguments, so anything that could be
read as an option (leading ``-``) or by a shell (metacharacters, newlines, NUL) is refused at
load time with the file:line:col where the value was set.  Every problem found is reported,
one per line.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from remediations.errors import Fix502Error, InventoryError

Connection = Literal["ssh", "local"]

# Values never exposed through Host.vars (and so never in a repr, a log or a journal).
SECRET_VARS: frozenset[str] = frozenset(
    {
        "ansible_become_password",
        "ansible_become_pass",
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_sudo_pass",
    }
)

_SHELL_META = frozenset(";&|$`<>()\\'\"*?[]{}!#~^")
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_ADDRESS_RE = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9_.:%-]*")
_HOST_RANGE = re.compile(r"\[([0-9a-zA-Z]*):([0-9a-zA-Z]*)(?::([0-9]+))?\]")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)?\s*(?:-|:)\s*([0-9]+)?)\]$")
_PATTERN_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_MAX_RANGE_HOSTS = 10_000
_IMPLICIT = frozenset({"all", "ungrouped"})
_VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")
_TRUE = frozenset({"yes", "on", "1", "true", "y", "t"})
_FALSE = frozenset({"no", "off", "0", "false", "n", "f", ""})


class InventoryProblems(InventoryError):
    """Several problems in one inventory; like PlaybookError, each stays on its own line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def one_line(self) -> str:
        return "\n".join(" ".join(p.split()) for p in self.problems)


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    become: bool = False
    become_password: str | None = field(default=None, repr=False)
    connection: Connection = "ssh"
    groups: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)


# --- YAML reading (shared with the playbook loader) ----------------------------------------------


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def read_yaml(path: Path, display: str, error: Callable[[str], Fix502Error], *, yaml_1_1: bool) -> Any:
    """Load one YAML document with positions kept; every failure becomes one ``error`` line.

    ``yaml_1_1`` reads booleans and octals the way PyYAML (and so Ansible) does, which is what
    makes existing inventories with ``ansible_become: yes`` mean what their authors meant.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{display}: no such file") from None
    except IsADirectoryError:
        raise error(f"{display}: is a directory, expected a YAML file") from None
    except PermissionError:
        raise error(f"{display}: permission denied") from None
    except OSError as exc:
        raise error(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"{display}:{line}:{col}: not valid UTF-8") from None
    yaml = YAML(typ="rt")
    if yaml_1_1:
        yaml.version = (1, 1)
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        if exc.context and exc.problem:
            problem = f"{problem} ({' '.join(str(exc.context).split())})"
        if mark is None:
            raise error(f"{display}: YAML error: {problem}") from None
        raise error(f"{display}:{mark.line + 1}:{mark.column + 1}: YAML error: {problem}") from None
    except ReaderError as exc:
        line, col = _position(text, exc.position)
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise error(f"{display}:{line}:{col}: YAML error: character {char!r} is not allowed") from None
    except YAMLError as exc:
        raise error(f"{display}: YAML error: {' '.join(str(exc).split())}") from None


def yaml_repr(value: Any) -> str:
    """A value as its YAML author wrote it (true, null), not as Python spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)


def key_where(display: str, mapping: CommentedMap, key: Any) -> str:
    line, col = mapping.lc.key(key)
    return f"{display}:{line + 1}:{col + 1}"


def value_where(display: str, mapping: CommentedMap, key: Any) -> str:
    line, col = mapping.lc.value(key)
    return f"{display}:{line + 1}:{col + 1}"


def item_where(display: str, seq: CommentedSeq, index: int) -> str:
    line, col = seq.lc.item(index)
    return f"{display}:{line + 1}:{col + 1}"


def node_where(display: str, node: CommentedMap | CommentedSeq) -> str:
    return f"{display}:{node.lc.line + 1}:{node.lc.col + 1}"


def plain(value: Any, where: str, problems: list[str]) -> Any:
    """ruamel's round-trip types → plain Python, refusing tags we cannot honour (``!vault``)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, date | bytes):
        return value
    if isinstance(value, dict):  # CommentedMap included
        return {plain(k, where, problems): plain(v, where, problems) for k, v in value.items()}
    if isinstance(value, list):  # CommentedSeq included
        return [plain(v, where, problems) for v in value]
    tag = getattr(getattr(value, "tag", None), "value", None) or type(value).__name__
    problems.append(f"{where}: values tagged {tag} are not supported (decrypt vaulted values first)")
    return None


# --- the model ----------------------------------------------------------------------------------


@dataclass
class _Var:
    value: Any
    where: str


_Layer = dict[str, _Var]


@dataclass
class _Group:
    name: str
    where: str
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    vars: _Layer = field(default_factory=dict)
    priority: int = 1


@dataclass
class Inventory:
    hosts: dict[str, Host]
    groups: dict[str, set[str]]  # every host of the group, its children's hosts included
    children: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None

    def _label(self) -> str:
        return f"inventory {self.path}" if self.path is not None else "inventory"

    def _ordered(self, names: Iterable[str]) -> list[str]:
        wanted = set(names)
        return [h for h in self.hosts if h in wanted]

    def _close(self, pattern: str, candidates: Iterable[str]) -> str:
        bare = pattern.lstrip("!&~").replace("*", "").replace("?", "")
        close = close_names(bare, candidates)
        return f"; close: {', '.join(close)}" if close else ""

    def _no_match(self, option: str, pattern: str, candidates: Iterable[str], what: str) -> InventoryError:
        return InventoryError(
            f"{self._label()}: {option} {pattern!r} matches no {what}{self._close(pattern, candidates)}"
        )

    def _select_hosts(self, spec: str) -> set[str]:
        chosen: set[str] = set()
        for pattern in _split_commas(spec, "--host"):
            found = {h for h in self.hosts if fnmatch.fnmatchcase(h, pattern)}
            if not found:
                raise self._no_match("--host", pattern, self.hosts, "host")
            chosen |= found
        return chosen

    def _select_groups(self, spec: str) -> set[str]:
        chosen: set[str] = set()
        for pattern in _split_commas(spec, "--group"):
            names = [g for g in self.groups if fnmatch.fnmatchcase(g, pattern) and (g not in _IMPLICIT or g == pattern)]
            if not names:
                raise self._no_match("--group", pattern, self.groups, "group")
            for name in names:
                chosen |= self.groups[name]
        return chosen

    def _match_expr(self, expr: str, term: str) -> list[str]:
        """One pattern term → host names in inventory order, as Ansible's ``_match_one_pattern``."""
        subscript: tuple[int, int | None] | None = None
        if not expr.startswith("~"):
            match = _SUBSCRIPT.match(expr)
            if match:
                expr = match.group(1)
                if match.group(2) is not None:
                    subscript = (int(match.group(2)), None)
                else:
                    subscript = (int(match.group(3) or 0), int(match.group(4) or -1))
        if expr in ("all", "*"):
            found = list(self.hosts)
        else:
            try:
                regex = re.compile(expr[1:]) if expr.startswith("~") else re.compile(fnmatch.translate(expr))
            except re.error as exc:
                raise InventoryError(f"{self._label()}: --limit {term!r}: bad regular expression: {exc}") from None
            # Unlike Ansible, a glob never reaches the implicit groups: "a*" must not mean "all".
            groups = [g for g in self.groups if regex.match(g) and (g not in _IMPLICIT or g == expr)]
            names: set[str] = set()
            for group in groups:
                names |= self.groups[group]
            if not groups or expr.startswith("~") or any(c in expr for c in ".?*["):
                names |= {h for h in self.hosts if regex.match(h)}
            found = self._ordered(names)
        if not found:
            raise self._no_match("--limit", term, [*self.hosts, *self.groups], "host or group")
        if subscript is None:
            return found
        start, end = subscript
        if end is None:
            if not -len(found) <= start < len(found):
                raise InventoryError(
                    f"{self._label()}: --limit {term!r}: index {start} is out of range ({len(found)} hosts)"
                )
            return [found[start]]
        if end == -1:
            end = len(found) - 1
        sliced = found[start : end + 1]
        if not sliced:
            raise InventoryError(f"{self._label()}: --limit {term!r}: range selects no hosts")
        return sliced

    def _select_limit(self, spec: str) -> set[str]:
        terms = _split_limit(spec)
        if not terms:
            raise InventoryError(f"{self._label()}: --limit {spec!r} is empty")
        regular = [t for t in terms if t[0] not in "!&"]
        intersect = [t for t in terms if t[0] == "&"]
        exclude = [t for t in terms if t[0] == "!"]
        chosen: set[str] = set()
        for term in regular or ["all"]:
            chosen |= set(self._match_expr(term, term))
        for term in intersect:
            chosen &= set(self._match_expr(_term_body(term, spec, self._label()), term))
        for term in exclude:
            chosen -= set(self._match_expr(_term_body(term, spec, self._label()), term))
        return chosen

    def select(self, host: str | None = None, group: str | None = None, limit: str | None = None) -> list[Host]:
        """Hosts matching every given selector, in inventory order; nothing given → all hosts.

        A selector (or pattern term, exclusions included) that matches nothing is an error: a
        typo in ``!web3`` must not silently leave web3 in the run.
        """
        chosen = set(self.hosts)
        given: list[str] = []
        if host is not None:
            chosen &= self._select_hosts(host)
            given.append(f"--host {host!r}")
        if group is not None:
            chosen &= self._select_groups(group)
            given.append(f"--group {group!r}")
        if limit is not None:
            chosen &= self._select_limit(limit)
            given.append(f"--limit {limit!r}")
        if not chosen:
            together = " and ".join(given) if given else "the inventory"
            raise InventoryError(f"{self._label()}: {together} select no hosts")
        return [self.hosts[name] for name in self._ordered(chosen)]


def close_names(word: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """difflib's close matches, ties in name order so messages are stable."""
    pool = sorted(set(candidates))
    found = difflib.get_close_matches(word, pool, n=n, cutoff=0.5)

    def score(name: str) -> float:
        return difflib.SequenceMatcher(None, word, name).ratio()

    return sorted(found, key=lambda name: (-score(name), name))


def _split_commas(spec: str, option: str) -> list[str]:
    parts = [p.strip() for p in spec.split(",")]
    if not spec.strip() or any(not p for p in parts):
        raise InventoryError(f"{option} {spec!r}: empty pattern")
    return parts


def _split_limit(spec: str) -> list[str]:
    """Ansible's ``split_host_pattern``: commas if any, else colons outside ``[a:b]``."""
    if "," in spec:
        return [p.strip() for p in spec.split(",") if p.strip()]
    terms = [p.strip() for p in _PATTERN_TERMS.findall(spec) if p.strip()]
    # findall silently skips what it cannot match (an unbalanced "["): refuse instead of ignoring it
    if re.sub(r"[\s:]", "", "".join(terms)) != re.sub(r"[\s:]", "", spec):
        raise InventoryError(f"--limit {spec!r}: unbalanced '[' (use ',' to separate such patterns)")
    return terms


def _term_body(term: str, spec: str, label: str) -> str:
    body = term[1:].strip()
    if not body:
        raise InventoryError(f"{label}: --limit {spec!r}: {term!r} names nothing")
    return body


# --- loading ------------------------------------------------------------------------------------


def _expand_range(name: str) -> list[str]:
    """``web[01:03].lab`` → web01.lab, web02.lab, web03.lab (Ansible's ``expand_hostname_range``)."""
    match = _HOST_RANGE.search(name)
    if not match:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    beg, end, step = match.group(1) or "0", match.group(2), int(match.group(3) or 1)
    if not end:
        raise ValueError("host range must have an end value")
    if step < 1:
        raise ValueError("host range stride must be at least 1")
    items: list[str]
    if beg.isdigit() and end.isdigit():
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        if width and len(beg) != len(end):
            raise ValueError("host range must specify equal-length begin and end formats")
        items = [str(i).zfill(width) for i in range(int(beg), int(end) + 1, step)]
    elif len(beg) == 1 and len(end) == 1 and beg.isalpha() and end.isalpha():
        letters = string.ascii_letters
        items = [letters[i] for i in range(letters.index(beg), letters.index(end) + 1, step)]
    else:
        raise ValueError("host range must be numeric or single letters")
    if not items:
        raise ValueError("host range is empty (begin after end)")
    rests = _expand_range(tail)
    if len(items) * len(rests) > _MAX_RANGE_HOSTS:
        raise ValueError(f"host range expands to more than {_MAX_RANGE_HOSTS} hosts")
    return [f"{head}{item}{rest}" for item in items for rest in rests]


def _token_problem(value: Any, allowed: re.Pattern[str]) -> str | None:
    """Why ``value`` may not become an ssh argument, or None."""
    problem = _path_problem(value)
    if problem is not None:
        return problem
    if allowed.fullmatch(value):
        return None
    meta = next((c for c in value if c in _SHELL_META), None)
    if meta is not None:
        return f"contains shell metacharacter {meta!r}"
    if any(c.isspace() for c in value):
        return "contains whitespace"
    odd = next((c for c in value if not allowed.fullmatch("a" + c)), None)
    if odd is not None:
        return f"contains disallowed character {odd!r}"
    return "is not allowed"


def _path_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "is empty"
    if "\n" in value or "\r" in value:
        return "contains a newline"
    if "\x00" in value:
        return "contains a NUL byte"
    if value.startswith("-"):
        return "starts with '-' (would be read as an ssh option)"
    if "{{" in value or "{%" in value:
        return "is a Jinja template; templated values are not supported"
    return None


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.display = str(path)
        self.problems: list[str] = []
        self.groups: dict[str, _Group] = {}
        self.host_where: dict[str, str] = {}
        self.host_inline: dict[str, _Layer] = {}
        self.host_direct: dict[str, list[str]] = {}

    # -- inventory file -------------------------------------------------------------------------
    def ensure_group(self, name: str, where: str) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name, where)
        return self.groups[name]

    def _layer(self, data: Any, display: str, what: str, where: str) -> _Layer:
        if data is None:
            return {}
        if not isinstance(data, CommentedMap):
            self.problems.append(f"{where}: {what} must be a mapping, not {_kind(data)}")
            return {}
        layer: _Layer = {}
        for key, value in data.items():
            kwhere = key_where(display, data, key)
            if not isinstance(key, str):
                self.problems.append(f"{kwhere}: {what}: variable name {key!r} is not a string")
                continue
            vwhere = value_where(display, data, key)
            layer[key] = _Var(plain(value, vwhere, self.problems), vwhere)
        return layer

    def parse(self, doc: Any) -> None:
        if doc is None:
            raise InventoryError(f"{self.display}: inventory is empty")
        if not isinstance(doc, CommentedMap):
            hint = _INI_HINT if isinstance(doc, CommentedSeq | str) else ""
            raise InventoryError(f"{self.display}:1:1: inventory must be a YAML mapping of groups{hint}")
        self.ensure_group("all", f"{self.display}:1:1")
        for name, data in doc.items():
            where = key_where(self.display, doc, name)
            self._parse_group(name, data, None if name == "all" else "all", where, doc)

    def _parse_group(self, name: Any, data: Any, parent: str | None, where: str, owner: CommentedMap) -> None:
        problem = _token_problem(name, _NAME_RE)
        if problem:
            self.problems.append(f"{where}: group name {name!r} {problem}")
            return
        if name == "ungrouped" and parent not in (None, "all"):
            self.problems.append(f"{where}: 'ungrouped' is reserved and cannot be a child group")
            return
        if name == "all" and parent is not None:
            self.problems.append(f"{where}: group 'all' cannot be a child of {parent!r}")
            return
        group = self.ensure_group(name, where)
        if parent is not None and parent not in group.parents:
            group.parents.append(parent)
            self.groups[parent].children.append(name)
        if data is None:
            return
        if not isinstance(data, CommentedMap):
            vwhere = value_where(self.display, owner, name)
            self.problems.append(
                f"{vwhere}: group {name!r} must be a mapping with hosts/children/vars, not {_kind(data)}"
            )
            return
        for key, value in data.items():
            kwhere = key_where(self.display, data, key)
            vwhere = value_where(self.display, data, key)
            if key == "hosts":
                self._parse_hosts(name, value, vwhere)
            elif key == "vars":
                layer = self._layer(value, self.display, f"vars of group {name!r}", vwhere)
                prio = layer.pop("ansible_group_priority", None)  # a setting, not a variable
                if prio is not None:
                    if isinstance(prio.value, int) and not isinstance(prio.value, bool):
                        group.priority = prio.value
                    else:
                        self.problems.append(f"{prio.where}: ansible_group_priority must be an integer")
                group.vars.update(layer)
            elif key == "children":
                if value is None:
                    continue
                if not isinstance(value, CommentedMap):
                    self.problems.append(f"{vwhere}: children of group {name!r} must be a mapping, not {_kind(value)}")
                    continue
                for child, child_data in value.items():
                    self._parse_group(child, child_data, name, key_where(self.display, value, child), value)
            else:
                close = difflib.get_close_matches(str(key), ["hosts", "children", "vars"], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else " (expected hosts, children or vars)"
                self.problems.append(f"{kwhere}: group {name!r}: unknown key {key!r}{hint}")

    def _parse_hosts(self, group: str, hosts: Any, where: str) -> None:
        if hosts is None:
            return
        if not isinstance(hosts, CommentedMap):
            self.problems.append(f"{where}: hosts of group {group!r} must be a mapping, not {_kind(hosts)}")
            return
        for raw_name, data in hosts.items():
            kwhere = key_where(self.display, hosts, raw_name)
            if not isinstance(raw_name, str):
                self.problems.append(f"{kwhere}: host name {raw_name!r} must be a string")
                continue
            try:
                names = _expand_range(raw_name) if "[" in raw_name else [raw_name]
            except ValueError as exc:
                self.problems.append(f"{kwhere}: host {raw_name!r}: {exc}")
                continue
            layer = self._layer(data, self.display, f"host {raw_name!r}", value_where(self.display, hosts, raw_name))
            for name in names:
                problem = _token_problem(name, _NAME_RE)
                if problem:
                    self.problems.append(f"{kwhere}: host name {name!r} {problem}")
                    continue
                self.host_where.setdefault(name, kwhere)
                self.host_inline.setdefault(name, {}).update(layer)
                direct = self.host_direct.setdefault(name, [])
                if group not in direct:
                    direct.append(group)
                if name not in self.groups[group].hosts:
                    self.groups[group].hosts.append(name)

    # -- structure ------------------------------------------------------------------------------
    def check_cycles(self) -> bool:
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> bool:
            if state.get(name) == 1:
                cycle = [*trail[trail.index(name) :], name]
                where = self.groups[name].where
                self.problems.append(f"{where}: group cycle: {' -> '.join(cycle)}")
                return False
            if state.get(name) == 2:
                return True
            state[name] = 1
            ok = all(visit(child, [*trail, name]) for child in self.groups[name].children)
            state[name] = 2
            return ok

        return all(visit(name, []) for name in list(self.groups))

    def depths(self) -> dict[str, int]:
        memo: dict[str, int] = {}

        def depth(name: str) -> int:
            if name not in memo:
                parents = self.groups[name].parents
                memo[name] = max((depth(p) + 1 for p in parents), default=0)
            return memo[name]

        return {name: depth(name) for name in self.groups}

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            for parent in self.groups[current].parents:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    # -- group_vars / host_vars -----------------------------------------------------------------
    def vars_files(self, kind: str, name: str) -> list[Path]:
        base = self.path.parent / kind
        found: list[Path] = []
        for ext in _VARS_EXTENSIONS:
            candidate = base / f"{name}{ext}"
            if candidate.is_dir():
                found.extend(
                    p
                    for p in sorted(candidate.rglob("*"))
                    if p.is_file()
                    and not p.name.startswith(".")
                    and not p.name.endswith("~")
                    and p.suffix in _VARS_EXTENSIONS
                )
            elif candidate.is_file():
                found.append(candidate)
        return found

    def file_layer(self, kind: str, name: str) -> _Layer:
        layer: _Layer = {}
        for file in self.vars_files(kind, name):
            display = str(file)
            try:
                doc = read_yaml(file, display, InventoryError, yaml_1_1=True)
            except InventoryError as exc:
                self.problems.append(str(exc))
                continue
            layer.update(self._layer(doc, display, f"{kind}/{name}", f"{display}:1:1"))
        return layer


def _kind(value: Any) -> str:
    if isinstance(value, CommentedSeq | list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    return type(value).__name__


def _merge(layers: Iterable[_Layer]) -> _Layer:
    merged: _Layer = {}
    for layer in layers:
        merged.update(layer)
    return merged


def _first(merged: _Layer, *names: str) -> tuple[str, _Var] | None:
    """The first of ``names`` that is set; null counts as unset (the default applies)."""
    for name in names:
        if name in merged and merged[name].value is not None:
            return name, merged[name]
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def _build_host(name: str, where: str, merged: _Layer, groups: tuple[str, ...], problems: list[str]) -> Host | None:
    before = len(problems)

    def bad(var: _Var, key: str, message: str) -> None:
        problems.append(f"{var.where}: host {name}: {key} {message}")

    address = name
    found = _first(merged, "ansible_host", "ansible_ssh_host")
    if found:
        key, var = found
        problem = _token_problem(var.value, _ADDRESS_RE)
        if problem:
            bad(var, key, f"{var.value!r} {problem}")
        else:
            address = var.value

    port = 22
    found = _first(merged, "ansible_port", "ansible_ssh_port")
    if found:
        key, var = found
        value = var.value
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value.strip()):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            bad(var, key, f"{yaml_repr(var.value)} must be an integer port")
        elif not 1 <= value <= 65535:
            bad(var, key, f"{value} is out of range 1..65535")
        else:
            port = value

    user = "root"
    found = _first(merged, "ansible_user", "ansible_ssh_user")
    if found:
        key, var = found
        problem = _token_problem(var.value, _USER_RE)
        if problem:
            bad(var, key, f"{var.value!r} {problem}")
        else:
            user = var.value

    key_file: str | None = None
    found = _first(merged, "ansible_ssh_private_key_file", "ansible_private_key_file")
    if found:
        key, var = found
        problem = _path_problem(var.value)
        if problem:
            bad(var, key, f"{var.value!r} {problem}")
        else:
            key_file = os.path.expanduser(var.value)

    become = False
    found = _first(merged, "ansible_become")
    if found:
        key, var = found
        flag = _boolean(var.value)
        if flag is None:
            bad(var, key, f"{yaml_repr(var.value)} is not a boolean")
        else:
            become = flag

    become_password: str | None = None
    found = _first(merged, "ansible_become_password", "ansible_become_pass")
    if found:
        key, var = found
        value = var.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            bad(var, key, "must be a string")
        elif "\n" in value or "\r" in value or "\x00" in value:
            bad(var, key, "contains a newline or NUL byte")  # never echo the secret itself
        else:
            become_password = value

    connection: Connection = "ssh"
    found = _first(merged, "ansible_connection")
    if found:
        key, var = found
        if var.value in ("ssh", "paramiko", "smart"):
            connection = "ssh"
        elif var.value == "local":
            connection = "local"
        else:
            bad(var, key, f"{var.value!r} is not supported (use ssh or local)")

    if len(problems) > before:
        return None
    public = {k: v.value for k, v in merged.items() if k not in SECRET_VARS}
    return Host(
        name=name,
        address=address,
        port=port,
        user=user,
        key_file=key_file,
        become=become,
        become_password=become_password,
        connection=connection,
        groups=groups,
        vars=MappingProxyType(public),
    )


_INI_HINT = " (INI inventories are not supported; convert with: ansible-inventory -i FILE --list -y)"
_INI_SECTION = re.compile(r"^\s*\[[A-Za-z0-9_.:-]+\]\s*$", re.MULTILINE)


def _looks_like_ini(file: Path) -> bool:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_INI_SECTION.search(text))


def load_inventory(path: str | Path) -> Inventory:
    """Read an Ansible YAML inventory and its group_vars/host_vars; raise one InventoryError
    listing every problem (one per line) if anything is wrong."""
    file = Path(path)
    loader = _Loader(file)
    try:
        doc = read_yaml(file, str(file), InventoryError, yaml_1_1=True)
    except InventoryError:
        if _looks_like_ini(file):
            raise InventoryError(f"{file}: not a YAML inventory{_INI_HINT}") from None
        raise
    loader.parse(doc)
    if not loader.check_cycles():
        raise InventoryProblems(loader.problems)

    groups = loader.groups
    for name, direct in loader.host_direct.items():
        if set(direct) <= {"all"}:
            loader.ensure_group("ungrouped", loader.host_where[name])
            if "all" not in groups["ungrouped"].parents:
                groups["ungrouped"].parents.append("all")
                groups["all"].children.append("ungrouped")
            groups["ungrouped"].hosts.append(name)
            direct.append("ungrouped")
    if "ungrouped" not in groups:
        loader.ensure_group("ungrouped", f"{file}:1:1").parents.append("all")
        groups["all"].children.append("ungrouped")

    depth = loader.depths()

    def order(name: str) -> tuple[int, int, str]:
        return depth[name], groups[name].priority, name

    file_layers = {name: loader.file_layer("group_vars", name) for name in groups}
    hosts: dict[str, Host] = {}
    members: dict[str, set[str]] = {name: set() for name in groups}
    for name in loader.host_where:
        own = set(loader.host_direct[name])
        all_groups = set(own)
        for group in own:
            all_groups |= loader.ancestors(group)
        all_groups.add("all")
        for group in all_groups:
            members[group].add(name)
        ordered = sorted(all_groups - {"all"}, key=order)
        merged = _merge(
            [
                groups["all"].vars,
                *(groups[g].vars for g in ordered),
                file_layers["all"],
                *(file_layers[g] for g in ordered),
                loader.host_inline.get(name, {}),
                loader.file_layer("host_vars", name),
            ]
        )
        host = _build_host(name, loader.host_where[name], merged, tuple(sorted(all_groups - {"all"})), loader.problems)
        if host is not None:
            hosts[name] = host

    if loader.problems:
        raise InventoryProblems(list(dict.fromkeys(loader.problems)))
    if not hosts:
        raise InventoryError(f"{file}: inventory defines no hosts")
    return Inventory(
        hosts=hosts,
        groups=members,
        children={name: list(g.children) for name, g in groups.items()},
        path=file,
    )
