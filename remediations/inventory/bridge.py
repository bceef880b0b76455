"""ansible-core, used only for what fix502 does not read itself: Ansible Vault, inventory
plugins (``plugin: constructed``, cloud plugins from installed collections) and inventory
scripts.  It is optional (GPLv3, 16 MB installed, ~0.2 s to import): without it those inputs are one
clear error, and static YAML/INI/JSON inventories never import it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from remediations.errors import InventoryError
from remediations.inventory.data import Data, Var

_NEED = "needs ansible-core (pip install ansible-core)"


def _plain(value: Any) -> Any:
    """ansible-core's tagged/unsafe strings and containers → plain Python."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


class Vault:
    """Decrypts ``!vault`` values and vault-encrypted vars files with --vault-password-file."""

    def __init__(self, password_file: Path | None, password: bytes | None = None) -> None:
        self.password_file = password_file
        self.password = password
        self._lib: Any = None

    def _vault(self, where: str) -> Any:
        if self._lib is not None:
            return self._lib
        if self.password_file is None and self.password is None:
            raise InventoryError(f"{where}: vault-encrypted value, but no --vault-password-file given")
        try:
            from ansible.parsing.vault import VaultLib, VaultSecret
        except ImportError:
            raise InventoryError(f"{where}: decrypting Ansible Vault {_NEED}") from None
        secret = self.password if self.password is not None else _password(cast(Path, self.password_file))
        self._lib = VaultLib([("default", VaultSecret(secret))])
        return self._lib

    def decrypt(self, text: str, where: str) -> str:
        lib = self._vault(where)
        try:
            return str(lib.decrypt(text.encode()).decode("utf-8"))
        except Exception as exc:  # ansible's AnsibleError family and codec errors
            raise InventoryError(f"{where}: cannot decrypt vault data: {' '.join(str(exc).split())}") from None

    def tag_hook(self, tag: str, value: str, where: str, problems: list[str]) -> Any:
        if tag != "!vault":
            problems.append(f"{where}: values tagged {tag} are not supported")
            return None
        try:
            return self.decrypt(value, where)
        except InventoryError as exc:
            problems.append(str(exc))
            return None

    def maybe_decrypt_file(self, text: str, display: str) -> str:
        if text.lstrip().startswith("$ANSIBLE_VAULT;"):
            return self.decrypt(text, f"{display}:1:1")
        return text


def _password(path: Path) -> bytes:
    """Ansible's rule: an executable password file is run and its output is the password."""
    try:
        if path.stat().st_mode & 0o111:
            out = subprocess.run([str(path)], capture_output=True, timeout=30, check=True).stdout
        else:
            out = path.read_bytes()
    except (OSError, subprocess.SubprocessError) as exc:
        raise InventoryError(f"--vault-password-file {path}: cannot read: {exc}") from None
    secret = out.strip()
    if not secret:
        raise InventoryError(f"--vault-password-file {path}: is empty")
    return secret


def read_with_ansible(path: Path, data: Data, problems: list[str], *, reason: str) -> None:
    """Let ansible-core's InventoryManager read ``path``, then copy its graph into ``data`` in
    Ansible's own order (groups, children, hosts, inventory vars)."""
    try:
        import ansible.constants as ansible_constants
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.plugins.loader import init_plugin_loader
    except ImportError:
        problems.append(f"{path}: {reason} {_NEED}")
        return
    init_plugin_loader()  # what the ansible CLIs do first: makes ansible.builtin.* and collections resolvable
    # A source Ansible cannot parse is only a warning there; here it must stop the run.
    ansible_constants.INVENTORY_ANY_UNPARSED_IS_FAILED = True  # type: ignore[attr-defined]
    try:
        manager = InventoryManager(loader=DataLoader(), sources=[str(path)], parse=False)
        if not manager.parse_source(str(path)):
            problems.append(f"{path}: ansible-core could not read it ({reason})")
            return
    except AnsibleError as exc:
        problems.append(f"{path}: {' '.join(str(exc).split())}")
        return
    where = str(path)
    for name, group in manager._inventory.groups.items():
        rec = data.add_group(name, where)
        rec.priority = int(getattr(group, "priority", 1))
        rec.vars.update({k: Var(_plain(v), where) for k, v in group.vars.items()})
    for name, group in manager._inventory.groups.items():
        for child in group.child_groups:
            data.add_child(name, child.name)
    for name, host in manager._inventory.hosts.items():
        host_rec = data.add_host(name, where)
        host_rec.vars.update({k: Var(_plain(v), where) for k, v in host.vars.items()})
    for name, group in manager._inventory.groups.items():
        for host in group.hosts:
            data.add_host_to(name, host.name)
