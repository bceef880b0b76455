"""``fix502 inventory --list [--host H]``: the inventory as fix502 resolved it.

The output has ``ansible-inventory --list`` 's shape (groups with their own ``hosts`` and
``children``, ``_meta.hostvars``), so it can be diffed against Ansible's; fix502 adds
``_meta.fix502_connection``: per host, where fix502 will really connect — after ``~/.ssh/config``
(or ``--ssh-config``) — with which user, port, keys, jump hosts and become.  Secrets
(``ansible_become_password`` and friends) are never printed.

``vault_options`` is the shared handling of ``--vault-password-file``/``--ask-vault-pass`` for
every task that reads an inventory.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from remediations.errors import Fix502Error, InputError, OptionError
from remediations.inventory import Host, Inventory, load_inventory
from remediations.sshconfig import SSHConfigs, Target, resolve

DEFAULT_INVENTORY = "inventory/hosts.yml"

HELP = {
    "list": "print every host and group (ansible-inventory --list shape)",
    "host": "print one host's variables and connection (ansible-inventory --host)",
    "inventory": f"inventory file or directory (default {DEFAULT_INVENTORY})",
    "vault-password-file": "file holding the Ansible Vault password (executable: its output)",
    "ask-vault-pass": "prompt for the Ansible Vault password (needs a terminal)",
    "ssh-config": "ssh client config to use instead of ~/.ssh/config and /etc/ssh/ssh_config (ssh -F)",
}


def vault_options(vault_password_file: str | None, ask_vault_pass: bool) -> dict[str, Any]:
    """Keyword arguments for load_inventory from the two vault options."""
    if vault_password_file and ask_vault_pass:
        raise OptionError("--vault-password-file and --ask-vault-pass exclude each other")
    if ask_vault_pass:
        if not sys.stdin.isatty():
            raise OptionError("--ask-vault-pass needs a terminal; use --vault-password-file")
        try:
            return {"vault_password": getpass.getpass("Vault password: ").encode()}
        except (EOFError, KeyboardInterrupt):
            raise OptionError("--ask-vault-pass: no password given") from None
    if vault_password_file:
        if not Path(vault_password_file).is_file():
            raise OptionError(f"--vault-password-file {vault_password_file}: no such file")
        return {"vault_password_file": vault_password_file}
    return {}


def _target(target: Target) -> dict[str, Any]:
    return {
        "address": target.hostname,
        "port": target.port,
        "user": target.user,
        "key_files": list(target.key_files),
        "jumps": [_target(hop) for hop in target.jumps],
        "proxy_command": target.proxy_command,
        "known_hosts": list(target.known_hosts),
    }


def connection(host: Host, configs: SSHConfigs) -> dict[str, Any]:
    """Where fix502 connects for ``host``, resolved as ssh resolves it."""
    if host.connection == "local":
        return {"connection": "local", "become": host.become}
    target = resolve(
        host.address, configs, user=host.user, port=host.port, key_file=host.key_file, options=dict(host.ssh_options)
    )
    return {"connection": "ssh", **_target(target), "become": host.become, "become_user": host.become_user}


def as_ansible_list(inv: Inventory, configs: SSHConfigs) -> dict[str, Any]:
    """``ansible-inventory --list``: groups that have hosts or children, each with its own."""
    out: dict[str, Any] = {
        "_meta": {
            "hostvars": {name: dict(host.vars) for name, host in inv.hosts.items() if host.vars},
            "profile": "inventory_legacy",
            "fix502_connection": {name: connection(host, configs) for name, host in inv.hosts.items()},
        }
    }
    for group, children in inv.children.items():
        entry: dict[str, Any] = {}
        hosts = inv.direct.get(group, [])
        if group == "all":
            hosts = []  # ansible-inventory lists them under ungrouped
        if hosts:
            entry["hosts"] = hosts
        if children:
            entry["children"] = children
        if entry:
            out[group] = entry
    return out


def _dump(data: Any) -> str:
    return json.dumps(data, indent=4, sort_keys=True, default=str)


@task(name="inventory", help=HELP)
def inventory_task(
    c: Context,
    list_: bool = False,
    host: str | None = None,
    inventory: str | None = None,
    vault_password_file: str | None = None,
    ask_vault_pass: bool = False,
    ssh_config: str | None = None,
) -> None:
    """Show the inventory as fix502 resolves it (hosts, order, variables, ssh connection)."""
    try:
        if not list_ and not host:
            raise OptionError("say what to show: --list or --host NAME")
        inv = load_inventory(inventory or DEFAULT_INVENTORY, **vault_options(vault_password_file, ask_vault_pass))
        configs = SSHConfigs(Path(ssh_config) if ssh_config else None)
        if host:
            if host not in inv.hosts:
                raise InputError(f"--host {host!r}: no such host in the inventory")
            found = inv.hosts[host]
            print(_dump({**dict(found.vars), "fix502_connection": connection(found, configs)}))
        else:
            print(_dump(as_ansible_list(inv, configs)))
    except Fix502Error as exc:
        raise Exit(exc.one_line(), exc.exit_code) from None


collection = Collection(inventory_task)
