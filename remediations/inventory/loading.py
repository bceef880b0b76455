"""Reading inventory sources and resolving each host's variables the way ansible-core does.

A source is a file or a directory.  A directory is read like ``InventoryManager`` reads one:
its entries in name order, skipping hidden files, ``group_vars``/``host_vars`` and Ansible's
ignored extensions (``.md``, ``.txt``, ``~``, ``.bak``, ...).  A file is YAML/JSON when its
extension allows (``.yml``, ``.yaml``, ``.json`` or none) and it holds a mapping, else INI —
the order of Ansible's ``yaml`` and ``ini`` plugins.  ``plugin:`` configs, executable scripts
and vault-encrypted values need ansible-core (see ``bridge``).

Variables, lowest precedence first (Ansible's ``VARIABLE_PRECEDENCE``): the ``all`` group's
inventory vars, other groups' inventory vars (sorted by depth, ``ansible_group_priority``,
name), ``group_vars/all``, ``group_vars/<group>`` (same order), the host's inventory vars,
``host_vars/<host>``.  ``group_vars/NAME``: the first of ``NAME``, ``NAME.yml``, ``NAME.yaml``,
``NAME.json`` that exists is read and the others are not (``DataLoader.find_vars_files``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ruamel.yaml.comments import CommentedMap

from remediations.errors import InventoryError
from remediations.inventory import bridge, vet
from remediations.inventory.data import Data, HostRec, Layer, Var
from remediations.inventory.model import Host, Inventory, InventoryProblems
from remediations.inventory.sources import IniSource, YamlSource, kind
from remediations.inventory.sshargs import ssh_options
from remediations.inventory.templating import render_layer
from remediations.yamlpos import items, parse_yaml, plain, read_text, value_where

_IGNORED = re.compile(
    r"^\.|^host_vars$|^group_vars$|^vars_plugins$|"
    r"(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.cfg|\.retry)$"
)
_YAML_EXTS = ("", ".yml", ".yaml", ".json")
# A file whose first line that counts is an INI section: as YAML it would be a list, which the yaml
# plugin rejects, so Ansible ends up in the ini plugin anyway; skip the YAML attempt.
_INI_START = re.compile(r"\A(?:\s*(?:[#;][^\n]*)?\n)*\s*\[[^:\]\s]+(?::\w+)?\]\s*(?:#[^\n]*)?$", re.MULTILINE)
_VARS_EXTS = (".yml", ".yaml", ".json")


class _Context:
    def __init__(self, vault_password_file: Path | None, vault_password: bytes | None) -> None:
        self.problems: list[str] = []
        self.vault = bridge.Vault(vault_password_file, vault_password)


def _is_script(path: Path) -> bool:
    return os.access(path, os.X_OK) and path.suffix not in (".yml", ".yaml", ".json", ".ini")


def _is_plugin_config(doc: Any) -> bool:
    return isinstance(doc, CommentedMap) and "plugin" in doc and not any(k in doc for k in ("all", "hosts", "children"))


def _dynamic(path: Path) -> str | None:
    """Why ``path`` (a file, or any file of a directory) needs ansible-core, or None.

    A ``constructed`` config works on the hosts the other sources defined, so when one source
    needs ansible-core, ansible-core reads the whole inventory, in its own order."""
    if path.is_dir():
        for entry in sorted(os.listdir(path)):
            if not _IGNORED.search(entry):
                reason = _dynamic(path / entry)
                if reason:
                    return reason
        return None
    if _is_script(path):
        return "an executable inventory script"
    if path.suffix.lower() in (".yml", ".yaml") and path.stat().st_size <= 1024 * 1024:
        doc, _ = _try_yaml(path.read_text(encoding="utf-8", errors="replace"), str(path))
        if _is_plugin_config(doc):
            return f"the inventory plugin {doc['plugin']!r}"
    return None


def _read_source(path: Path, data: Data, ctx: _Context) -> None:
    display = str(path)
    try:
        text = read_text(path, display, InventoryError)
    except InventoryError as exc:
        ctx.problems.append(str(exc))
        return
    if path.suffix.lower() in _YAML_EXTS and not (path.suffix == "" and _INI_START.match(text)):
        doc, yaml_error = _try_yaml(text, display)
        if isinstance(doc, CommentedMap):
            YamlSource(data, display, ctx.problems, ctx.vault.tag_hook).parse(doc)
            return
        if path.suffix.lower() in (".yml", ".yaml", ".json"):
            if doc is None and yaml_error is None:
                ctx.problems.append(f"{display}: inventory is empty")
                return
            ctx.problems.append(
                yaml_error or f"{display}:1:1: inventory must be a YAML mapping of groups, not {kind(doc)}"
            )
            return
    IniSource(data, display, ctx.problems).parse(text)


def _try_yaml(text: str, display: str) -> tuple[Any, str | None]:
    try:
        return parse_yaml(text, display, InventoryError, yaml_1_1=True), None
    except InventoryError as exc:
        return None, str(exc)


def _read_tree(path: Path, data: Data, ctx: _Context) -> None:
    if path.is_dir():
        for entry in sorted(os.listdir(path)):
            if not _IGNORED.search(entry):
                _read_tree(path / entry, data, ctx)
        return
    _read_source(path, data, ctx)


# --- group_vars / host_vars -----------------------------------------------------------------------


def _vars_files(base: Path, name: str) -> list[Path]:
    for ext in ("", *_VARS_EXTS):
        candidate = base / f"{name}{ext}"
        if candidate.is_dir():
            return _dir_files(candidate)
        if candidate.exists():
            return [candidate]
    return []


def _dir_files(path: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(path)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        full, ext = path / entry, os.path.splitext(entry)[1]
        if full.is_dir() and not ext:
            found.extend(_dir_files(full))
        elif full.is_file() and (not ext or ext in _VARS_EXTS):
            found.append(full)
    return found


def _file_layer(file: Path, ctx: _Context) -> Layer:
    display = str(file)
    try:
        text = ctx.vault.maybe_decrypt_file(read_text(file, display, InventoryError), display)
        doc = parse_yaml(text, display, InventoryError, yaml_1_1=True)
    except InventoryError as exc:
        ctx.problems.append(str(exc))
        return {}
    if doc is None:
        return {}
    if not isinstance(doc, CommentedMap):
        ctx.problems.append(f"{display}:1:1: a vars file must be a mapping, not {kind(doc)}")
        return {}
    out: Layer = {}
    for key, value in items(doc):
        where = value_where(display, doc, key)
        out[str(key)] = Var(plain(value, where, ctx.problems, tags=ctx.vault.tag_hook), where)
    return out


class _VarsDirs:
    def __init__(self, base: Path, ctx: _Context) -> None:
        self.base, self.ctx = base, ctx
        self.cache: dict[tuple[str, str], Layer] = {}

    def layer(self, kind_: str, name: str) -> Layer:
        key = (kind_, name)
        if key not in self.cache:
            merged: Layer = {}
            for file in _vars_files(self.base / kind_, name):
                merged.update(_file_layer(file, self.ctx))
            self.cache[key] = merged
        return self.cache[key]


# --- resolution ------------------------------------------------------------------------------------


def _host_layer(data: Data, host: HostRec, dirs: _VarsDirs) -> Layer:
    groups = data.sorted_groups([g for g in host.groups if g != "all"])
    merged: Layer = dict(data.groups["all"].vars)
    for group in groups:
        merged.update(data.groups[group].vars)
    merged.update(dirs.layer("group_vars", "all"))
    for group in groups:
        merged.update(dirs.layer("group_vars", group))
    merged.update(host.vars)
    merged.update(dirs.layer("host_vars", host.name))
    return merged


def _magic(host: HostRec, groups: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "inventory_hostname": host.name,
        "inventory_hostname_short": host.name.split(".")[0],
        "group_names": sorted(g for g in host.groups if g not in ("all", "ungrouped")),
        "groups": groups,
    }


def resolve_host(
    data: Data, host: HostRec, dirs: _VarsDirs, problems: list[str], groups: dict[str, list[str]]
) -> Host | None:
    layer = _host_layer(data, host, dirs)
    values, failed = render_layer(layer, _magic(host, groups))
    problems.extend(f"{where}: host {host.name}: {message}" for where, message in failed)
    before = len(problems)

    def bad(key: str, message: str) -> None:
        where = layer[key].where if key in layer else host.where
        problems.append(f"{where}: host {host.name}: {key} {message}")

    built = Host(
        name=host.name,
        address=vet.address(host.name, values, bad),
        port=vet.port(values, bad),
        user=vet.user(values, bad),
        key_file=vet.key_file(values, bad),
        become=vet.become(values, bad),
        become_password=vet.become_password(values, bad),
        connection="local" if vet.connection(values, bad) == "local" else "ssh",
        groups=tuple(sorted(g for g in host.groups if g != "all")),
        vars=MappingProxyType({k: v for k, v in values.items() if k not in vet.SECRET_VARS}),
        become_user=vet.become_user(values, bad),
        ssh_options=ssh_options(values, bad),
    )
    vet.site_url(values, bad)
    vet.sites(values, bad)
    return None if failed or len(problems) > before else built


def load_inventory(
    path: str | Path, *, vault_password_file: str | Path | None = None, vault_password: bytes | None = None
) -> Inventory:
    """Read an Ansible inventory (file or directory) and its group_vars/host_vars; raise one
    InventoryError listing every problem (one per line) if anything is wrong.  Vault data is
    decrypted with ``vault_password_file`` (Ansible's rules) or ``vault_password``."""
    source = Path(path)
    if not source.exists():
        raise InventoryError(f"{source}: no such file")
    ctx = _Context(Path(vault_password_file) if vault_password_file else None, vault_password)
    data = Data(f"{source}:1:1" if source.is_file() else str(source))
    reason = _dynamic(source)
    if reason:
        bridge.read_with_ansible(source, data, ctx.problems, reason=reason)
    else:
        _read_tree(source, data, ctx)
    if ctx.problems:
        raise InventoryProblems(list(dict.fromkeys(ctx.problems)))
    data.reconcile()
    dirs = _VarsDirs(source if source.is_dir() else source.parent, ctx)
    order = {g: data.group_hosts(g) for g in data.groups}
    hosts: dict[str, Host] = {}
    for name in order["all"]:
        built = resolve_host(data, data.hosts[name], dirs, ctx.problems, order)
        if built is not None:
            hosts[name] = built
    if ctx.problems:
        raise InventoryProblems(list(dict.fromkeys(ctx.problems)))
    if not hosts:
        raise InventoryError(f"{source}: inventory defines no hosts")
    return _inventory(source, data, hosts, order)


def _inventory(source: Path, data: Data, hosts: dict[str, Host], order: dict[str, list[str]]) -> Inventory:
    return Inventory(
        hosts=hosts,
        groups={g: set(members) for g, members in order.items()},
        children={name: list(g.children) for name, g in data.groups.items()},
        path=source,
        group_hosts=order,
        defined=list(data.hosts),
        group_vars={name: {k: v.value for k, v in g.vars.items()} for name, g in data.groups.items()},
        direct={name: list(g.hosts) for name, g in data.groups.items()},
    )
