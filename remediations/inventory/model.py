"""What the rest of fix502 sees of an inventory: resolved :class:`Host` records and selection."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from remediations.errors import InventoryError
from remediations.inventory.patterns import Matcher

Connection = Literal["ssh", "local"]


class InventoryProblems(InventoryError):
    """Several problems in one inventory; like PlaybookError, each stays on its own line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def one_line(self) -> str:
        return "\n".join(" ".join(p.split()) for p in self.problems)


@dataclass(frozen=True)
class Host:
    """One host as fix502 will connect to it.

    ``user``/``port`` None: the inventory does not say, so ssh decides (``~/.ssh/config``, then
    the local user and port 22), as Ansible leaves it to ssh.
    """

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    become: bool = False
    become_password: str | None = field(default=None, repr=False)
    connection: Connection = "ssh"
    groups: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    become_user: str = "root"
    ssh_options: tuple[tuple[str, str], ...] = ()  # from ansible_ssh_common_args/extra_args: ("proxyjump", "j")


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


@dataclass
class Inventory:
    hosts: dict[str, Host]  # in Ansible's order for pattern "all"
    groups: dict[str, set[str]]  # every host of the group, its children's hosts included
    children: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None
    group_hosts: dict[str, list[str]] = field(default_factory=dict)  # Group.get_hosts() order
    defined: list[str] = field(default_factory=list)  # host names in definition order
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # inventory vars per group
    direct: dict[str, list[str]] = field(default_factory=dict)  # each group's own hosts, in order

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

    def matcher(self) -> Matcher:
        order = self.group_hosts or {g: self._ordered(m) for g, m in self.groups.items()}
        return Matcher(
            self._label(),
            order,
            self.defined or list(self.hosts),
            lambda term: self._no_match("--limit", term, [*self.hosts, *self.groups], "host or group"),
        )

    def match(self, pattern: str) -> list[str]:
        """Host names for an Ansible pattern, in the order ``ansible PATTERN --list-hosts`` prints."""
        return self.matcher().evaluate(pattern)

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
            names = [
                g
                for g in self.groups
                if fnmatch.fnmatchcase(g, pattern) and (g not in ("all", "ungrouped") or g == pattern)
            ]
            if not names:
                raise self._no_match("--group", pattern, self.groups, "group")
            for name in names:
                chosen |= self.groups[name]
        return chosen

    def select(self, host: str | None = None, group: str | None = None, limit: str | None = None) -> list[Host]:
        """Hosts matching every given selector, in inventory order (Ansible's ``--limit``: the
        play's ``all`` filtered by the subset); nothing given → all hosts.

        A selector (or pattern term, exclusions included) that matches no host and no group is an
        error: a typo in ``!web3`` must not silently leave web3 in the run.
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
            chosen &= set(self.match(limit))
            given.append(f"--limit {limit!r}")
        if not chosen:
            together = " and ".join(given) if given else "the inventory"
            raise InventoryError(f"{self._label()}: {together} select no hosts")
        return [self.hosts[name] for name in self._ordered(chosen)]
