"""Ansible's inventory graph (``InventoryData``, ``Group``, ``Host``), with source positions.

Every reader (YAML/JSON, INI, ansible-core plugins) fills one :class:`Data` through the same few
calls Ansible's plugins make (``add_group``, ``add_child``, ``add_host``, ``set_variable``), so
the rules that decide membership, ``ungrouped``, group depth and host order live here once,
written after ansible-core's ``inventory/data.py`` and ``inventory/group.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Var:
    value: Any
    where: str


Layer = dict[str, Var]


@dataclass
class GroupRec:
    name: str
    where: str
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    vars: Layer = field(default_factory=dict)
    priority: int = 1
    depth: int = 0


@dataclass
class HostRec:
    name: str
    where: str
    groups: list[str] = field(default_factory=list)  # Ansible's host.groups: direct groups and their ancestors
    vars: Layer = field(default_factory=dict)


def set_var(layer: Layer, key: str, var: Var) -> None:
    """Ansible's ``set_variable``: a mapping set again on the same entity is merged, not replaced."""
    old = layer.get(key)
    if old is not None and isinstance(old.value, Mapping) and isinstance(var.value, Mapping):
        var = Var(combine(old.value, var.value), var.where)
    layer[key] = var


def combine(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``combine_vars`` with ``hash_behaviour=replace`` would replace; ``set_variable`` merges
    recursively (``merge_hash``), so do that here."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(out.get(key), Mapping) and isinstance(value, Mapping):
            out[key] = combine(out[key], value)
        else:
            out[key] = value
    return out


class Data:
    def __init__(self, where: str) -> None:
        self.groups: dict[str, GroupRec] = {}
        self.hosts: dict[str, HostRec] = {}
        self.add_group("all", where)
        self.add_group("ungrouped", where)
        self.add_child("all", "ungrouped")

    def add_group(self, name: str, where: str) -> GroupRec:
        if name not in self.groups:
            self.groups[name] = GroupRec(name, where)
        return self.groups[name]

    def ancestors(self, name: str) -> list[str]:
        seen: list[str] = []
        todo = list(self.groups[name].parents)
        while todo:
            current = todo.pop(0)
            if current not in seen:
                seen.append(current)
                todo.extend(self.groups[current].parents)
        return seen

    def descendants(self, name: str) -> list[str]:
        seen: list[str] = []
        todo = list(self.groups[name].children)
        while todo:
            current = todo.pop(0)
            if current not in seen:
                seen.append(current)
                todo.extend(self.groups[current].children)
        return seen

    def add_child(self, parent: str, child: str) -> str | None:
        """Group-in-group or host-in-group; returns a problem (a cycle) or None."""
        if child in self.groups:
            if child == parent or parent in self.descendants(child):
                return f"adding group {child!r} to {parent!r} creates a recursive dependency loop"
            group, kid = self.groups[parent], self.groups[child]
            if child not in group.children:
                group.children.append(child)
                kid.parents.append(parent)
                self._deepen(child, group.depth + 1)
                for host in self._hosts_below(child):
                    self._add_host_groups(host, [parent, *self.ancestors(parent)])
            return None
        self.add_host_to(parent, child)
        return None

    def _deepen(self, name: str, depth: int) -> None:
        group = self.groups[name]
        if depth > group.depth:
            group.depth = depth
            for child in group.children:
                self._deepen(child, depth + 1)

    def _hosts_below(self, name: str) -> list[str]:
        found: list[str] = []
        for group in [name, *self.descendants(name)]:
            found.extend(h for h in self.groups[group].hosts if h not in found)
        return found

    def _add_host_groups(self, host: str, groups: list[str]) -> None:
        rec = self.hosts[host]
        rec.groups.extend(g for g in groups if g not in rec.groups)

    def add_host(self, name: str, where: str, group: str | None = None, port: int | None = None) -> HostRec:
        rec = self.hosts.get(name)
        if rec is None:
            rec = self.hosts[name] = HostRec(name, where)
            if port is not None:
                rec.vars["ansible_port"] = Var(port, where)
        elif port is not None:
            rec.vars["ansible_port"] = Var(port, where)
        if group is not None:
            self.add_host_to(group, name)
        return rec

    def add_host_to(self, group: str, host: str) -> None:
        members = self.groups[group].hosts
        if host not in members:
            members.append(host)
            self._add_host_groups(host, [group, *self.ancestors(group)])

    def reconcile(self) -> None:
        """``reconcile_inventory``: parentless groups go under all; hosts in no group (or only in
        all) go to ungrouped; ungrouped loses hosts that have a real group."""
        for name in list(self.groups):
            if name != "all" and not self.groups[name].parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            if "ungrouped" in host.groups:
                if set(host.groups) - {"all", "ungrouped"}:
                    ungrouped.hosts.remove(host.name)
                    host.groups.remove("ungrouped")
            elif set(host.groups) <= {"all"}:
                self.add_host_to("ungrouped", host.name)

    def group_hosts(self, name: str) -> list[str]:
        """``Group.get_hosts``: the group's own hosts, then its descendants' breadth first, each once."""
        order: list[str] = [name]
        level = [name]
        seen = {name}
        while level:
            nxt: list[str] = []
            for group in level:
                for child in self.groups[group].children:
                    if child not in seen:
                        order.append(child)
                        nxt.append(child)
            seen.update(nxt)
            level = nxt
        found: dict[str, None] = {}
        for group in order:
            for host in self.groups[group].hosts:
                found.setdefault(host)
        return list(found)

    def sorted_groups(self, names: list[str]) -> list[str]:
        """``sort_groups``: depth, then ansible_group_priority, then name — the variable precedence order."""
        return sorted(names, key=lambda g: (self.groups[g].depth, self.groups[g].priority, g))
