"""YAML with positions, shared by the inventory and playbook loaders.

ruamel.yaml keeps the line and column of every key and value, so every problem can name
``file:line:col``.  Input is bounded before it is trusted: files over ``MAX_BYTES`` are refused,
and converting to plain Python counts nodes, so an alias bomb (``a: &a [*b, *b, ...]`` nested)
is refused instead of expanding exponentially.  Merge keys (``<<: *defaults``) are read in
PyYAML's order (merged keys first), which is what Ansible sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from remediations.errors import Fix502Error

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000

# A tagged scalar (``!vault |``) → its plain value, or None after appending a problem.
TagHook = Callable[[str, str, str, list[str]], Any]


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def read_text(path: Path, display: str, error: Callable[[str], Fix502Error]) -> str:
    """A bounded UTF-8 text file; every failure is one ``error`` line."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise error(f"{display}: is a directory, expected a file")
        if size > MAX_BYTES:
            raise error(f"{display}: {size} bytes is over the {MAX_BYTES // (1024 * 1024)} MiB limit for input files")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{display}: no such file") from None
    except PermissionError:
        raise error(f"{display}: permission denied") from None
    except OSError as exc:
        raise error(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"{display}:{line}:{col}: not valid UTF-8") from None


def parse_yaml(text: str, display: str, error: Callable[[str], Fix502Error], *, yaml_1_1: bool) -> Any:
    """One YAML document with positions kept; every failure becomes one ``error`` line.

    ``yaml_1_1`` reads booleans and octals the way PyYAML (and so Ansible) does, which is what
    makes existing inventories with ``ansible_become: yes`` mean what their authors meant.
    """
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
    except (YAMLError, RecursionError) as exc:
        raise error(f"{display}: YAML error: {' '.join(str(exc).split()) or type(exc).__name__}") from None


def read_yaml(path: Path, display: str, error: Callable[[str], Fix502Error], *, yaml_1_1: bool) -> Any:
    return parse_yaml(read_text(path, display, error), display, error, yaml_1_1=yaml_1_1)


def yaml_repr(value: Any) -> str:
    """A value as its YAML author wrote it (true, null), not as Python spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)


def _merged_owner(mapping: CommentedMap, key: Any) -> CommentedMap:
    """The mapping whose text holds ``key``: itself, or the anchor a ``<<`` merge brought it from."""
    if key in mapping.lc.data:
        return mapping
    for entry in getattr(mapping, "merge", []):
        source = entry[1] if isinstance(entry, tuple) else entry
        if isinstance(source, CommentedMap) and key in source:
            return _merged_owner(source, key)
    return mapping


def _where(display: str, lc: Any, attr: str, key: Any, node: Any) -> str:
    try:
        line, col = getattr(lc, attr)(key)
    except (KeyError, IndexError, TypeError):
        line, col = node.lc.line, node.lc.col
    return f"{display}:{line + 1}:{col + 1}"


def key_where(display: str, mapping: CommentedMap, key: Any) -> str:
    owner = _merged_owner(mapping, key)
    return _where(display, owner.lc, "key", key, owner)


def value_where(display: str, mapping: CommentedMap, key: Any) -> str:
    owner = _merged_owner(mapping, key)
    return _where(display, owner.lc, "value", key, owner)


def item_where(display: str, seq: CommentedSeq, index: int) -> str:
    return _where(display, seq.lc, "item", index, seq)


def node_where(display: str, node: CommentedMap | CommentedSeq) -> str:
    return f"{display}:{node.lc.line + 1}:{node.lc.col + 1}"


def items(mapping: CommentedMap) -> Iterator[tuple[Any, Any]]:
    """Key/value pairs in PyYAML's order: keys brought in by ``<<`` first, then the mapping's own."""
    own = [k for k in mapping if k in mapping.lc.data]
    merged = [k for k in mapping if k not in mapping.lc.data]
    for key in [*merged, *own]:
        yield key, mapping[key]


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, where: str) -> None:
        self.left -= 1
        if self.left == 0:
            raise _TooBig(where)


class _TooBig(Exception):
    pass


def plain(value: Any, where: str, problems: list[str], *, tags: TagHook | None = None, limit: int = MAX_NODES) -> Any:
    """ruamel's round-trip types → plain Python; tags we cannot honour are problems, and more than
    ``limit`` nodes (an alias bomb) is one problem instead of a hang."""
    try:
        return _plain(value, where, problems, tags, _Budget(limit))
    except _TooBig:
        problems.append(f"{where}: value expands to more than {limit} nodes (YAML alias bomb?)")
        return None
    except RecursionError:
        problems.append(f"{where}: value is nested too deeply")
        return None


def _plain(value: Any, where: str, problems: list[str], tags: TagHook | None, budget: _Budget) -> Any:
    budget.spend(where)
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
    if isinstance(value, CommentedMap):
        return {
            _plain(k, where, problems, tags, budget): _plain(v, where, problems, tags, budget) for k, v in items(value)
        }
    if isinstance(value, dict):
        return {
            _plain(k, where, problems, tags, budget): _plain(v, where, problems, tags, budget) for k, v in value.items()
        }
    if isinstance(value, list):  # CommentedSeq included
        return [_plain(v, where, problems, tags, budget) for v in value]
    tag = getattr(getattr(value, "tag", None), "value", None) or str(getattr(value, "tag", "")) or type(value).__name__
    if tags is not None and isinstance(getattr(value, "value", None), str):
        return tags(tag, str(value.value), where, problems)
    problems.append(f"{where}: values tagged {tag} are not supported (decrypt vaulted values first)")
    return None
