"""Differential test: fix502's inventory reader against ansible-core's, on the same inventories.

ansible-core (the ``dev`` extra) runs in-process: ``InventoryManager`` for host sets and order,
``VariableManager`` + ``Templar`` for each host's variables, and the ssh connection plugin's own
option resolution (``set_options``/``get_option``) for the effective address, port, user and key.
The inventories under fixtures/inventories/ansible/ follow the Ansible documentation's examples
and public roles' layouts (INI, YAML, JSON, directories, group_vars/host_vars, ranges, merge keys,
templates, ansible_ssh_* precedence, empty groups).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

ansible = pytest.importorskip("ansible")

from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.playbook.play_context import PlayContext  # noqa: E402
from ansible.plugins.loader import connection_loader  # noqa: E402
from ansible.template import Templar  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402

from remediations.errors import InventoryError  # noqa: E402
from remediations.inventory import Inventory, load_inventory  # noqa: E402
from remediations.inventory.vet import boolean  # noqa: E402

CASES = Path(__file__).parent / "fixtures" / "inventories" / "ansible"
PATTERNS = ["all", "ungrouped", "*", "web*", "~^(web|db)", "all:!ungrouped", "web:db", "web:&prod", "prod:!db"]


def source(case: Path) -> Path:
    for name in ("inventory", "hosts.yml", "hosts.yaml", "hosts.ini", "hosts.json", "hosts"):
        if (case / name).exists():
            return case / name
    raise AssertionError(f"{case}: no inventory source")


def ansible_view(src: Path) -> tuple[InventoryManager, dict[str, dict[str, Any]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loader = DataLoader()
        manager = InventoryManager(loader=loader, sources=[str(src)])
        variables = VariableManager(loader=loader, inventory=manager)
        effective: dict[str, dict[str, Any]] = {}
        for host in manager.get_hosts("all"):
            raw = variables.get_vars(host=host, include_hostvars=False)
            templar = Templar(loader=loader, variables=raw)
            rendered = {
                k: templar.template(v)
                for k, v in raw.items()
                if k.startswith("ansible_") or k in ("site_url", "inventory_hostname")
            }
            conn = connection_loader.get("ssh", PlayContext(), None)
            conn.set_options(var_options=rendered)
            effective[host.name] = {
                "address": conn.get_option("host"),
                "port": conn.get_option("port"),
                "user": conn.get_option("remote_user"),
                "key": conn.get_option("private_key_file"),
                "become": bool(boolean(rendered.get("ansible_become", False))),
                "connection": rendered.get("ansible_connection", "ssh"),
                "site_url": rendered.get("site_url"),
            }
    return manager, effective


def fix502_view(inv: Inventory) -> dict[str, dict[str, Any]]:
    return {
        h.name: {
            "address": h.address,
            "port": h.port,
            "user": h.user,
            "key": h.key_file,
            "become": h.become,
            "connection": h.connection,
            "site_url": h.vars.get("site_url"),
        }
        for h in inv.hosts.values()
    }


def _expand(effective: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    import os

    for values in effective.values():
        if values["key"]:
            values["key"] = os.path.expanduser(values["key"])
        if isinstance(values["port"], str):
            values["port"] = int(values["port"])
    return effective


# fix502's own fixtures (nested groups, group_vars directories, ranges, ungrouped) too
def _generated(groups: list[str], hosts: list[str]) -> list[str]:
    """Set algebra, globs, regexes, subscripts and comma lists over the case's own names."""
    real = [g for g in groups if g != "ungrouped"] or groups
    a, b = real[0], real[-1]
    out = [f"{a}:{b}", f"{a}:&{b}", f"{a}:!{b}", f"{a},{b}", f"{b},!{a}", f"&{a}", f"!{b}"]
    out += [f"{a[:2]}*", f"*{b[-2:]}", f"~^{a[:2]}", f"~{b[-2:]}$", f"{a}[0]", f"{a}[-1]", f"{b}[0:1]", f"{b}[1:]"]
    out += [",".join(hosts[:2]), f"{hosts[0]}:{a}", f"{hosts[-1][:3]}*:&{a}", f"all:!{hosts[0]}"]
    return out


CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir()) + [CASES.parent / n for n in ("lab", "nested", "toplevel")]


def test_enough_cases() -> None:
    assert len(CASE_DIRS) >= 35


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_same_hosts_order_and_connection_values(case: Path) -> None:
    src = source(case)
    manager, effective = ansible_view(src)
    inv = load_inventory(src)
    assert list(inv.hosts) == [h.name for h in manager.get_hosts("all")]
    assert fix502_view(inv) == _expand(effective)
    groups = [g for g in manager.groups if g != "all"]
    for pattern in [*PATTERNS, *groups, *_generated(groups, list(inv.hosts))]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = [h.name for h in manager.get_hosts(pattern)]
        try:
            got = inv.match(pattern)
        except InventoryError as exc:
            # fix502 refuses a term that names no host and no group; Ansible warns and ignores it.
            term = re.search(r"--limit '[!&]?([^']*)' matches no host or group", str(exc))
            assert term, f"{pattern}: {exc}"
            assert term.group(1) not in manager.groups
            assert not manager.get_hosts(term.group(1)), pattern
            continue
        assert got == expected, pattern
        if got:  # --limit: the play's "all", in inventory order, restricted to the pattern
            manager.subset(pattern)
            limited = [h.name for h in manager.get_hosts("all")]
            manager.subset(None)
            assert [h.name for h in inv.select(limit=pattern)] == limited, f"--limit {pattern}"
