"""Vault, inventory scripts and inventory plugins: read through ansible-core, compared with it."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytest.importorskip("ansible")

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret

from remediations.errors import InventoryError
from remediations.inventory import load_inventory


def encrypt(text: str, password: bytes = b"s3cret") -> str:
    return VaultLib([("default", VaultSecret(password))]).encrypt(text.encode()).decode()


def ansible_hosts(src: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [h.name for h in InventoryManager(loader=DataLoader(), sources=[str(src)]).get_hosts("all")]


def test_vault_value_and_vault_file_decrypt_with_password_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    blob = "\n".join("        " + line for line in encrypt("hunter2").splitlines())
    (tmp_path / "hosts.yml").write_text(
        f"all:\n  hosts:\n    web1:\n      ansible_become: true\n      ansible_become_password: !vault |\n{blob}\n"
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(encrypt("ansible_user: vaulted\n"))
    inv = load_inventory(tmp_path / "hosts.yml", vault_password_file=tmp_path / "pw")
    assert inv.hosts["web1"].become_password == "hunter2"
    assert inv.hosts["web1"].user == "vaulted"


def test_wrong_vault_password_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("wrong\n")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1:\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(encrypt("ansible_user: vaulted\n"))
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "hosts.yml", vault_password_file=tmp_path / "pw")
    line = info.value.one_line()
    assert line.startswith(f"{tmp_path / 'group_vars' / 'all.yml'}:1:1: cannot decrypt vault data:")
    assert "\n" not in line


SCRIPT = """#!/usr/bin/env python3
import json, sys
if sys.argv[1:] == ["--list"]:
    print(json.dumps({
        "web": {"hosts": ["web1", "web2"], "vars": {"ansible_user": "deploy"}},
        "db": ["db1"],
        "prod": {"children": ["web", "db"]},
        "_meta": {"hostvars": {"web2": {"ansible_host": "10.0.0.2", "ansible_port": 2202}}},
    }))
else:
    print("{}")
"""


def test_inventory_script_like_ansible(tmp_path: Path) -> None:
    script = tmp_path / "inventory.py"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    inv = load_inventory(script)
    assert list(inv.hosts) == ansible_hosts(script)
    web2 = inv.hosts["web2"]
    assert (web2.address, web2.port, web2.user) == ("10.0.0.2", 2202, "deploy")
    assert inv.match("prod:!db") == ["web1", "web2"]


def test_constructed_plugin_over_a_static_inventory(tmp_path: Path) -> None:
    inv_dir = tmp_path / "inventory"
    inv_dir.mkdir()
    (inv_dir / "01-static.yml").write_text(
        "all:\n  hosts:\n    web1: {role: web, ansible_host: 10.0.0.1}\n    db1: {role: db}\n"
    )
    (inv_dir / "02-constructed.yml").write_text(
        "plugin: ansible.builtin.constructed\nstrict: true\nkeyed_groups:\n  - key: role\n    prefix: role\n"
    )
    inv = load_inventory(inv_dir)
    assert list(inv.hosts) == ansible_hosts(inv_dir)
    assert inv.match("role_web") == ["web1"]
    assert inv.hosts["web1"].address == "10.0.0.1"


def test_plugin_config_without_ansible_core_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_ansible(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("ansible"):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ansible)
    (tmp_path / "aws_ec2.yml").write_text("plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "aws_ec2.yml")
    assert info.value.one_line() == (
        f"{tmp_path / 'aws_ec2.yml'}: the inventory plugin 'amazon.aws.aws_ec2' "
        "needs ansible-core (pip install ansible-core)"
    )
