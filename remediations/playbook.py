"""Playbooks: which fixes to try, in which order, under which guards.

A playbook is validated completely before any host is contacted, and every problem is reported
at once (one ``file:line:col: message`` per line), so a typo in step 7 is found before step 1
restarts anything on production.  ``with:`` parameters are checked against the parameter types
each fix declares (``Fix.params``), strictly: ``true`` is not an int and ``"5"`` is not a number.

Format::

    name: fix-502
    vars: {...}                       # optional
    steps:
      - diagnose: {}                  # or {window: 900} (seconds of logs to read)
      - fix: restart-fpm
        name: "Start PHP-FPM"         # optional
        when: '"fpm-down" in causes'  # optional; a list means all must hold
        with: {...}                   # optional, the fix's parameters
        verify: {retries: 5, delay: 1.0, backoff: 2.0, max_delay: 10, path: "/"}
        rollback: auto                # auto | never
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from remediations.errors import PlaybookError
from remediations.expr import When, compile_when
from remediations.inventory import item_where, key_where, node_where, plain, read_yaml, value_where, yaml_repr

ROLLBACK_MODES: tuple[str, ...] = ("auto", "never")
_TOP_KEYS = ("name", "vars", "steps")
_FIX_KEYS = ("fix", "name", "when", "with", "verify", "rollback")
_DIAGNOSE_KEYS = ("window",)
_VERIFY_KEYS = ("retries", "delay", "backoff", "max_delay", "path")
# Beyond these a value is a mistake (or an attack on the run), not a setting.
MAX_RETRIES = 100
MAX_DELAY = 3600.0
MAX_BACKOFF = 10.0
MAX_WINDOW = 30 * 86400


@dataclass(frozen=True)
class VerifySpec:
    """How the runner re-probes after a fix: ``retries`` more tries, waiting ``delay`` seconds
    multiplied by ``backoff`` after each, capped at ``max_delay``.  ``path`` None means the
    fix's own probe path."""

    retries: int = 5
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 10.0
    path: str | None = None


@dataclass
class DiagnoseStep:
    window: int | None  # seconds of logs to consider; None → the collector's default
    where: str


@dataclass
class FixStep:
    fix_id: str
    name: str | None
    when: When | None
    params: dict[str, Any]
    verify: VerifySpec
    rollback: str
    where: str


Step = DiagnoseStep | FixStep


@dataclass
class Playbook:
    name: str
    path: Path
    steps: list[Step]
    vars: dict[str, Any] = field(default_factory=dict)


# --- type checks --------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return "number" if tp is float else tp.__name__
    return str(tp).replace("typing.", "")


def _value_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _conforms(value: Any, tp: Any) -> bool:
    """Whether a YAML value fits a declared parameter type; bool never passes for int/float."""
    if tp is Any or tp is object:
        return True
    if tp is None or tp is type(None):
        return value is None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_conforms(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_conforms(v, a) for v, a in zip(value, args, strict=True))
        return not args or all(_conforms(v, args[0]) for v in value)
    if origin is dict or origin is Mapping:
        if not isinstance(value, dict):
            return False
        if len(args) != 2:
            return True
        return all(_conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items())
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp in (list, tuple, set, frozenset):
        return isinstance(value, list)
    if tp is dict:
        return isinstance(value, dict)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _coerce(value: Any, tp: Any) -> Any:
    """An int given for a float parameter becomes a float; YAML lists become the declared
    container type, so fixes receive what they declared."""
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    origin = typing.get_origin(tp) or tp
    if origin in (tuple, set, frozenset) and isinstance(value, list):
        return origin(value)
    return value


# --- loader -------------------------------------------------------------------------------------


def _unknown(key: Any, allowed: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
    return f"unknown key {key!r} in {what} ({hint})"


class _Checker:
    def __init__(self, display: str, fix_params: Mapping[str, Mapping[str, Any]]) -> None:
        self.display = display
        self.fix_params = fix_params
        self.problems: list[str] = []

    def sorted_problems(self) -> list[str]:
        """Problems in reading order (line, column), duplicates dropped, ties as found."""
        prefix = f"{self.display}:"

        def position(problem: str) -> tuple[int, int]:
            head = problem[len(prefix) :].split(":", 2) if problem.startswith(prefix) else []
            if len(head) == 3 and head[0].isdigit() and head[1].isdigit():
                return int(head[0]), int(head[1])
            return 0, 0

        return sorted(dict.fromkeys(self.problems), key=position)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def kw(self, mapping: CommentedMap, key: Any) -> str:
        return key_where(self.display, mapping, key)

    def vw(self, mapping: CommentedMap, key: Any) -> str:
        return value_where(self.display, mapping, key)

    def number(self, mapping: CommentedMap, key: str, *, integer: bool, minimum: float, maximum: float) -> float | None:
        """A verify number, finite and within sane bounds (``delay: .inf`` used to pass the check
        and raise OverflowError mid-run)."""
        value = mapping[key]
        where = self.vw(mapping, key)
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            kind = "an integer" if integer else "a number"
            self.add(where, f"verify: {key} must be {kind}, not {_value_name(value)}")
            return None
        if not math.isfinite(value) or value > maximum:
            self.add(where, f"verify: {key} must be a finite number <= {maximum:g}, not {value}")
            return None
        if value < minimum:
            self.add(where, f"verify: {key} must be >= {minimum:g}, not {value}")
            return None
        return int(value) if integer else float(value)

    def verify(self, data: Any, where: str) -> VerifySpec:
        spec = VerifySpec()
        if data is None:
            return spec
        if not isinstance(data, CommentedMap):
            self.add(where, f"verify must be a mapping, not {_value_name(plain(data, where, []))}")
            return spec
        values: dict[str, Any] = {}
        for key in data:
            if key not in _VERIFY_KEYS:
                self.add(self.kw(data, key), _unknown(key, _VERIFY_KEYS, "verify"))
        if "retries" in data:
            values["retries"] = self.number(data, "retries", integer=True, minimum=0, maximum=MAX_RETRIES)
        for key, minimum, maximum in (
            ("delay", 0.0, MAX_DELAY),
            ("backoff", 1.0, MAX_BACKOFF),
            ("max_delay", 0.0, MAX_DELAY),
        ):
            if key in data:
                values[key] = self.number(data, key, integer=False, minimum=minimum, maximum=maximum)
        if "path" in data:
            path = data["path"]
            pwhere = self.vw(data, "path")
            if not isinstance(path, str):
                self.add(pwhere, f"verify: path must be a string, not {_value_name(path)}")
            elif not path.startswith("/") or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in path):
                self.add(pwhere, f"verify: path {path!r} must start with '/' and contain no whitespace")
            else:
                values["path"] = path
        clean = {k: v for k, v in values.items() if v is not None}
        spec = VerifySpec(**clean)
        if "max_delay" in clean and spec.max_delay < spec.delay:
            self.add(
                self.vw(data, "max_delay"),
                f"verify: max_delay ({spec.max_delay:g}) is smaller than delay ({spec.delay:g})",
            )
        return spec

    def when(self, data: Any, where: str) -> When | None:
        if isinstance(data, bool):
            data = "true" if data else "false"
        if isinstance(data, str):
            try:
                return compile_when(data, where)
            except PlaybookError as exc:
                self.problems.extend(exc.problems)
                return None
        if isinstance(data, CommentedSeq) and data:
            parts: list[str] = []
            for index, item in enumerate(data):
                iwhere = item_where(self.display, data, index)
                if isinstance(item, bool):
                    item = "true" if item else "false"
                if not isinstance(item, str):
                    self.add(iwhere, f"when: list items must be expressions (strings), not {_value_name(item)}")
                    continue
                try:
                    compile_when(item, iwhere)
                    parts.append(f"({item})")
                except PlaybookError as exc:
                    self.problems.extend(exc.problems)
            if len(parts) != len(data):
                return None
            return compile_when(" and ".join(parts), where)
        self.add(where, f"when must be an expression (string) or a list of them, not {_value_name(data)}")
        return None

    def params(self, fix_id: str, data: Any, where: str) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, CommentedMap):
            self.add(where, f"with must be a mapping, not {_value_name(plain(data, where, []))}")
            return {}
        declared = self.fix_params.get(fix_id)
        result: dict[str, Any] = {}
        for key, raw in data.items():
            kwhere = self.kw(data, key)
            vwhere = self.vw(data, key)
            before = len(self.problems)
            value = plain(raw, vwhere, self.problems)
            if declared is None or len(self.problems) > before:  # unknown fix / unreadable value: said once
                continue
            if key not in declared:
                allowed = tuple(sorted(declared))
                if not allowed:
                    self.add(kwhere, f"with: fix {fix_id!r} takes no parameters (got {key!r})")
                    continue
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
                self.add(kwhere, f"with: unknown parameter {key!r} for fix {fix_id!r} ({hint})")
                continue
            tp = declared[key]
            if not _conforms(value, tp):
                self.add(
                    vwhere,
                    f"with: {key} must be {_type_name(tp)}, not {_value_name(value)} ({yaml_repr(value)})",
                )
                continue
            result[str(key)] = _coerce(value, tp)
        return result

    def diagnose(self, step: CommentedMap, where: str) -> DiagnoseStep:
        window: int | None = None
        for key in step:
            if key != "diagnose":
                self.add(self.kw(step, key), f"unknown key {key!r} in a diagnose step (only 'diagnose')")
        data = step["diagnose"]
        dwhere = self.vw(step, "diagnose")
        if data is None:
            return DiagnoseStep(None, where)
        if not isinstance(data, CommentedMap):
            self.add(dwhere, f"diagnose must be a mapping such as {{}} or {{window: 900}}, not {_value_name(data)}")
            return DiagnoseStep(None, where)
        for key in data:
            if key not in _DIAGNOSE_KEYS:
                self.add(self.kw(data, key), _unknown(key, _DIAGNOSE_KEYS, "diagnose"))
        if "window" in data:
            value = data["window"]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                self.add(
                    self.vw(data, "window"),
                    f"diagnose: window must be a positive integer (seconds), not {value!r}",
                )
            elif value > MAX_WINDOW:
                self.add(self.vw(data, "window"), f"diagnose: window must be at most {MAX_WINDOW} seconds")
            else:
                window = int(value)
        return DiagnoseStep(window, where)

    def fix(self, step: CommentedMap, where: str) -> FixStep | None:
        for key in step:
            if key not in _FIX_KEYS:
                self.add(self.kw(step, key), _unknown(key, _FIX_KEYS, "a fix step"))
        fix_id = step["fix"]
        fwhere = self.vw(step, "fix")
        known = True
        if not isinstance(fix_id, str) or not fix_id:
            self.add(fwhere, f"fix must be a fix id (string), not {_value_name(fix_id)}")
            fix_id, known = "", False
        elif fix_id not in self.fix_params:
            ids = sorted(self.fix_params)
            close = difflib.get_close_matches(fix_id, ids, n=3)
            known_ids = ", ".join(ids) or "none"
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {known_ids}"
            self.add(fwhere, f"unknown fix {fix_id!r} ({hint})")
            known = False
        name: str | None = None
        if "name" in step:
            if isinstance(step["name"], str) and step["name"].strip():
                name = str(step["name"])
            else:
                self.add(self.vw(step, "name"), f"name must be a non-empty string, not {step['name']!r}")
        when = self.when(step["when"], self.vw(step, "when")) if "when" in step else None
        params = self.params(fix_id, step.get("with"), self.vw(step, "with")) if "with" in step else {}
        verify = self.verify(step.get("verify"), self.vw(step, "verify")) if "verify" in step else VerifySpec()
        rollback = "auto"
        if "rollback" in step:
            value = step["rollback"]
            if value in ROLLBACK_MODES and isinstance(value, str):
                rollback = str(value)
            else:
                self.add(self.vw(step, "rollback"), f"rollback must be auto or never, not {yaml_repr(value)}")
        if not known:
            return None
        return FixStep(str(fix_id), name, when, params, verify, rollback, where)

    def playbook(self, doc: Any, path: Path) -> Playbook:
        top = f"{self.display}:1:1"
        if doc is None:
            raise PlaybookError([f"{top}: playbook is empty"])
        if not isinstance(doc, CommentedMap):
            hint = " (a list of Ansible plays is not a fix502 playbook)" if isinstance(doc, list) else ""
            raise PlaybookError([f"{top}: playbook must be a mapping with name, vars and steps{hint}"])
        for key in doc:
            if key == "hosts":
                self.add(self.kw(doc, key), "a playbook names no hosts; choose them with --host/--group/--limit")
            elif key not in _TOP_KEYS:
                self.add(self.kw(doc, key), _unknown(key, _TOP_KEYS, "the playbook"))
        name = path.stem
        if "name" in doc:
            if isinstance(doc["name"], str) and doc["name"].strip():
                name = str(doc["name"])
            else:
                self.add(self.vw(doc, "name"), f"name must be a non-empty string, not {doc['name']!r}")
        pb_vars: dict[str, Any] = {}
        if "vars" in doc and doc["vars"] is not None:
            vwhere = self.vw(doc, "vars")
            data = doc["vars"]
            if not isinstance(data, CommentedMap):
                self.add(vwhere, f"vars must be a mapping, not {_value_name(plain(data, vwhere, []))}")
            else:
                for key, value in data.items():
                    if not isinstance(key, str):
                        self.add(self.kw(data, key), f"vars: variable name {key!r} is not a string")
                        continue
                    pb_vars[key] = plain(value, self.vw(data, key), self.problems)
        steps: list[Step] = []
        if "steps" not in doc:
            self.add(node_where(self.display, doc), "playbook has no steps")
        elif not isinstance(doc["steps"], CommentedSeq) or not doc["steps"]:
            value = doc["steps"]
            kind = "empty" if value is None or isinstance(value, CommentedSeq) else f"a {_value_name(value)}"
            self.add(self.vw(doc, "steps"), f"steps must be a non-empty list, not {kind}")
        else:
            steps = self.steps(doc["steps"])
        if self.problems:
            raise PlaybookError(self.sorted_problems())
        return Playbook(name=name, path=path, steps=steps, vars=pb_vars)

    def steps(self, seq: CommentedSeq) -> list[Step]:
        steps: list[Step] = []
        diagnosed = False
        for index, step in enumerate(seq):
            where = item_where(self.display, seq, index)
            if not isinstance(step, CommentedMap):
                self.add(
                    where,
                    f"step {index + 1} must be a mapping with 'diagnose' or 'fix', not {_value_name(step)}",
                )
                continue
            if "diagnose" in step and "fix" in step:
                self.add(where, f"step {index + 1} has both 'diagnose' and 'fix'; split it into two steps")
                continue
            if "diagnose" in step:
                steps.append(self.diagnose(step, where))
                diagnosed = True
            elif "fix" in step:
                if not diagnosed:
                    self.add(
                        where,
                        f"step {index + 1}: fix before any diagnose step (add '- diagnose: {{}}' first)",
                    )
                    diagnosed = True  # say it once
                fix_step = self.fix(step, where)
                if fix_step is not None:
                    steps.append(fix_step)
            else:
                for key in step:
                    self.add(self.kw(step, key), _unknown(key, ("diagnose", *_FIX_KEYS), "a step"))
                self.add(where, f"step {index + 1} needs a 'diagnose' or 'fix' key")
        return steps


def load_playbook(path: str | Path, fix_params: Mapping[str, Mapping[str, Any]]) -> Playbook:
    """Read and fully validate a playbook against the registered fixes' ``{id: params}``."""
    file = Path(path)
    display = str(file)

    def error(message: str) -> PlaybookError:
        return PlaybookError([message])

    doc = read_yaml(file, display, error, yaml_1_1=False)
    return _Checker(display, fix_params).playbook(doc, file)
