"""Ansible inventories (YAML, INI, JSON, directories; vault/plugins/scripts via ansible-core).

Split along Ansible's own seams: ``data`` (the group/host graph), ``sources`` (file formats),
``loading`` (sources, group_vars/host_vars, precedence), ``templating``, ``vet`` (values that
reach ssh), ``patterns`` (host patterns), ``bridge`` (ansible-core, optional).  The YAML helpers
the playbook loader shares live in :mod:`remediations.yamlpos` and are re-exported here.
"""

from __future__ import annotations

from remediations.errors import InventoryError
from remediations.inventory.loading import load_inventory
from remediations.inventory.model import Connection, Host, Inventory, InventoryProblems, close_names
from remediations.inventory.vet import SECRET_VARS
from remediations.yamlpos import item_where, key_where, node_where, plain, read_yaml, value_where, yaml_repr

__all__ = [
    "SECRET_VARS",
    "Connection",
    "Host",
    "Inventory",
    "InventoryError",
    "InventoryProblems",
    "close_names",
    "item_where",
    "key_where",
    "load_inventory",
    "node_where",
    "plain",
    "read_yaml",
    "value_where",
    "yaml_repr",
]
