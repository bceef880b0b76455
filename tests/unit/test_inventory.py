"""Inventory loading, precedence, validation and host selection against fixture inventories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remediations.errors import InventoryError
from remediations.inventory import Host, Inventory, load_inventory

FIX = Path(__file__).parent / "fixtures" / "inventories"
BAD = FIX / "bad"


def names(hosts: list[Host]) -> list[str]:
    return [h.name for h in hosts]


@pytest.fixture(scope="module")
def lab() -> Inventory:
    return load_inventory(FIX / "lab" / "hosts.yml")


@pytest.fixture(scope="module")
def nested() -> Inventory:
    return load_inventory(FIX / "nested" / "hosts.yml")


# --- loading ------------------------------------------------------------------------------------


def test_lab_inventory_fields(lab: Inventory) -> None:
    web1 = lab.hosts["web1"]
    assert web1 == Host(
        name="web1",
        address="127.0.0.11",
        port=22,
        user="root",
        key_file="/path/id_ed25519",
        become=False,
        become_password=None,
        connection="ssh",
        groups=("lab",),
        vars=web1.vars,
    )
    assert web1.vars["site_url"] == "http://web1.lab.test/"
    assert list(lab.hosts) == ["web1", "web2", "web3"]
    assert lab.groups["lab"] == {"web1", "web2", "web3"}
    assert lab.groups["all"] == {"web1", "web2", "web3"}


def test_lab_inventory_defaults_and_yaml11_booleans(lab: Inventory) -> None:
    web2 = lab.hosts["web2"]
    assert web2.port == 2222
    assert web2.user == "deploy"
    assert web2.become is True  # `yes`, read as YAML 1.1 like Ansible does
    assert web2.key_file == os.path.expanduser("~/.ssh/id_ed25519")
    web3 = lab.hosts["web3"]
    assert (web3.port, web3.user, web3.key_file, web3.become) == (None, "root", None, False)  # no port: ssh decides


def test_become_password_never_in_repr_or_vars(lab: Inventory) -> None:
    web2 = lab.hosts["web2"]
    assert web2.become_password == "hunter2"
    assert "hunter2" not in repr(web2)
    assert "hunter2" not in repr(lab.hosts)
    assert "ansible_become_password" not in web2.vars


def test_host_is_hashable_and_vars_read_only(lab: Inventory) -> None:
    web1 = lab.hosts["web1"]
    assert {web1: 1}[web1] == 1
    with pytest.raises(TypeError):
        web1.vars["site_url"] = "x"  # type: ignore[index]


def test_precedence_like_ansible(nested: Inventory) -> None:
    layer = {name: host.vars["layer"] for name, host in nested.hosts.items()}
    assert layer == {
        # no group of its own: group_vars/all beats the inline `all: vars:`
        "lonely": "all-group_vars",
        # host_vars/web1.yml beats the host's inline vars
        "web1": "web1-host_vars",
        # web and db are both depth 1; group_vars/web beats every group's inline vars
        "web2": "web-group_vars",
        # child group's group_vars beat the parent's
        "web3": "web_eu-group_vars",
        "web04.eu": "web_eu-group_vars",
        "web05.eu": "web_eu-group_vars",
        # Ansible: inline group vars (db) rank below group_vars/all
        "db1": "all-group_vars",
    }


def test_group_priority_orders_same_depth_groups(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n"
        "  children:\n"
        "    a_first: {vars: {x: a, ansible_group_priority: 10}, hosts: {h1: }}\n"
        "    z_last: {vars: {x: z}, hosts: {h1: }}\n"
    )
    inv = load_inventory(tmp_path / "hosts.yml")
    assert inv.hosts["h1"].vars["x"] == "a"  # higher priority merges later, despite the name order
    assert "ansible_group_priority" not in inv.hosts["h1"].vars


def test_group_vars_directory_and_inherited_vars(nested: Inventory) -> None:
    web3 = nested.hosts["web3"]
    assert web3.port == 2200  # group_vars/web/10-main.yml, inherited by the child group
    assert web3.vars["web_dir_second"] is True  # group_vars/web/20-more.yaml
    assert web3.vars["web_inline"] is True
    assert web3.user == "admin"
    assert nested.hosts["web1"].become is True  # host_vars/web1.yml
    assert nested.hosts["db1"].connection == "local"
    assert nested.hosts["db1"].port is None


def test_groups_membership_ranges_and_ungrouped(nested: Inventory) -> None:
    assert nested.groups["web_eu"] == {"web3", "web04.eu", "web05.eu"}
    assert nested.groups["web"] == {"web1", "web2", "web3", "web04.eu", "web05.eu"}
    assert nested.groups["db"] == {"db1", "web2"}
    assert nested.groups["ungrouped"] == {"lonely"}
    assert nested.hosts["web2"].groups == ("db", "web")
    assert nested.hosts["web3"].groups == ("web", "web_eu")
    assert nested.hosts["lonely"].groups == ("ungrouped",)
    assert nested.children["web"] == ["web_eu"]


def test_top_level_group_other_than_all() -> None:
    inv = load_inventory(FIX / "toplevel" / "hosts.yml")
    assert list(inv.hosts) == ["alpha.example.org", "beta.example.org", "gamma.example.org"]
    assert inv.hosts["alpha.example.org"].user == "www"
    assert inv.hosts["beta.example.org"].port == 2022  # "2022" as a string, as Ansible accepts
    assert inv.hosts["gamma.example.org"].user is None  # not root: ssh config / the local user decide
    assert inv.groups["webservers"] == {"alpha.example.org", "beta.example.org"}
    assert inv.groups["all"] == set(inv.hosts)


# --- bad inventories: exact file:line:col and message ---------------------------------------------

BAD_CASES: list[tuple[str, list[str]]] = [
    ("host-metachar.yml", ["{f}:3:5: host name 'web1;reboot' contains shell metacharacter ';'"]),
    (
        "user-dash.yml",
        [
            "{f}:7:25: host web1: ansible_user '-oProxyCommand=touch /tmp/pwned' "
            "starts with '-' (would be read as an ssh option)"
        ],
    ),
    (
        "address-newline.yml",
        [
            "{f}:3:26: host web1: ansible_host '127.0.0.11\\nProxyCommand sh' contains a newline",
            "{f}:4:26: host web2: ansible_host '127.0.0.12 && id' contains shell metacharacter '&'",
        ],
    ),
    (
        "ports.yml",
        [
            "{f}:3:26: host web1: ansible_port 70000 is out of range 1..65535",
            "{f}:4:26: host web2: ansible_port true must be an integer port",
            "{f}:5:26: host web3: ansible_port 'ssh' must be an integer port",
        ],
    ),
    (
        "key-dash.yml",
        [
            "{f}:4:37: host web1: ansible_ssh_private_key_file '-oProxyCommand=id' "
            "starts with '-' (would be read as an ssh option)"
        ],
    ),
    ("unknown-key.yml", ["{f}:4:7: group 'lab': unknown key 'host' (did you mean 'hosts'?)"]),
    ("cycle.yml", ["{f}:8:9: adding group 'a' to 'b' creates a recursive dependency loop"]),
    ("syntax.yml", ["{f}:4:9: YAML error: expected ',' or '}}', but got ':' (while parsing a flow mapping)"]),
    ("vault.yml", ["{f}:4:32: vault-encrypted value, but no --vault-password-file given"]),
    ("children-list.yml", ["{f}:2:13: children of group 'all' must be a mapping, not a list"]),
    (
        "duplicate.yml",
        [
            '{f}:4:5: YAML error: found duplicate key "web1" with value "None" (original value: "None") '
            "(while constructing a mapping)"
        ],
    ),
    (
        "become.yml",
        [
            "{f}:3:28: host web1: ansible_become 'maybe' is not a boolean",
            "{f}:3:55: host web1: ansible_connection 'winrm' is not supported (use ssh or local)",
        ],
    ),
    ("empty.yml", ["{f}: inventory is empty"]),
    (
        "range.yml",
        [
            "{f}:3:5: host 'web[3:1]': host range is empty (begin after end)",
            "{f}:4:5: host 'db[01:3]': host range must specify equal-length begin and end formats",
        ],
    ),
]


@pytest.mark.parametrize(("name", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_inventory_reports_exact_positions(name: str, expected: list[str]) -> None:
    path = BAD / name
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.one_line().splitlines() == [e.format(f=path) for e in expected]
    assert info.value.exit_code == 2


def test_bad_value_from_group_vars_names_that_file_and_each_host() -> None:
    path = BAD / "gv-user" / "hosts.yml"
    gv = BAD / "gv-user" / "group_vars" / "all.yml"
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.one_line().splitlines() == [
        f"{gv}:1:15: host web1: ansible_user 'root; rm -rf /' contains shell metacharacter ';'",
        f"{gv}:1:15: host web2: ansible_user 'root; rm -rf /' contains shell metacharacter ';'",
    ]


def test_missing_file_and_directory_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"nope\.yml: no such file$"):
        load_inventory(tmp_path / "nope.yml")
    with pytest.raises(InventoryError, match=r"inventory defines no hosts$"):
        load_inventory(tmp_path)  # a directory is an inventory of its files: none here


def test_not_utf8_names_position(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_bytes(b"all:\n  hosts:\n    w\xffb1:\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.one_line() == f"{path}:3:6: not valid UTF-8"


def test_bad_group_vars_file_is_reported_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("a: [1\n")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1:\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "hosts.yml")
    assert info.value.one_line().startswith(f"{tmp_path / 'group_vars' / 'all.yml'}:2:1: YAML error:")


def test_no_hosts_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  children:\n    web:\n")
    with pytest.raises(InventoryError, match="inventory defines no hosts"):
        load_inventory(tmp_path / "hosts.yml")


def test_templates_render_but_lookups_and_sandbox_escapes_are_refused(tmp_path: Path) -> None:
    text = (
        "all:\n  vars: {dom: example.com}\n  hosts:\n"
        '    web1: {ansible_host: "{{ inventory_hostname }}.{{ dom }}"}\n'
        "    web2: {ansible_host: \"{{ lookup('env', 'X') }}\"}\n"
        "    web3: {ansible_host: \"{{ ''.__class__.__mro__ }}\"}\n"
        '    web4: {ansible_user: "{{ nope }}"}\n'
        '    web5: {a: "{{ b }}", b: "{{ a }}"}\n'
    )
    (tmp_path / "hosts.yml").write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "hosts.yml")
    lines = info.value.one_line().splitlines()
    f = tmp_path / "hosts.yml"
    assert (
        lines[0] == f"{f}:5:26: host web2: ansible_host: template \"{{{{ lookup('env', 'X') }}}}\": "
        "lookups are not available in fix502's inventory templates"
    )
    assert lines[1].startswith(f"{f}:6:26: host web3: ansible_host: template") and "unsafe" in lines[1]
    assert lines[2] == f"{f}:7:26: host web4: ansible_user: template '{{{{ nope }}}}': 'nope' is undefined"
    assert lines[3].startswith(f"{f}:8:15: host web5: a: recursive loop detected")
    assert len(lines) == 5  # web5's b loops too; web1 is fine


# --- selection ----------------------------------------------------------------------------------


def test_select_nothing_given_is_every_host(nested: Inventory) -> None:
    assert names(nested.select()) == list(nested.hosts)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"host": "web1"}, ["web1"]),
        ({"host": "web*"}, ["web1", "web2", "web3", "web04.eu", "web05.eu"]),  # Ansible's order of "all"
        ({"host": "web1,db?"}, ["web1", "db1"]),
        ({"group": "db"}, ["web2", "db1"]),
        ({"group": "web_eu,db"}, ["web2", "db1", "web3", "web04.eu", "web05.eu"]),
        ({"limit": "web*:!web3"}, ["web1", "web2", "web04.eu", "web05.eu"]),
        ({"limit": "web:&db"}, ["web2"]),
        ({"limit": "!web"}, ["lonely", "db1"]),
        ({"limit": "web,!web_eu"}, ["web1", "web2"]),
        ({"limit": "web_eu[0]"}, ["web3"]),
        ({"limit": "web_eu[-1]"}, ["web05.eu"]),
        ({"limit": "web[1:2]"}, ["web2", "web3"]),
        ({"limit": "~web0[45]"}, ["web04.eu", "web05.eu"]),
        ({"limit": "all:!ungrouped"}, ["web1", "web2", "db1", "web3", "web04.eu", "web05.eu"]),
        ({"group": "web", "limit": "!web_eu"}, ["web1", "web2"]),
        ({"host": "web*", "group": "db"}, ["web2"]),
    ],
)
def test_select(nested: Inventory, kwargs: dict[str, str], expected: list[str]) -> None:
    assert names(nested.select(**kwargs)) == expected


def test_glob_reaches_implicit_groups_like_ansible(nested: Inventory) -> None:
    # ansible-core matches globs against every group name, "all" included: "a*" is every host.
    assert names(nested.select(limit="a*")) == list(nested.hosts)
    assert names(nested.select(limit="ungrouped")) == ["lonely"]
    assert nested.match("db") == ["db1", "web2"]  # the pattern's own order, as `ansible db --list-hosts`


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "web9"}, "--host 'web9' matches no host; close: web1, web2, web3, web04.eu, web05.eu"),
        ({"group": "dbs"}, "--group 'dbs' matches no group; close: db"),
        ({"limit": "web*:!wbe3"}, "--limit '!wbe3' matches no host or group; close: web3"),
        ({"limit": "web:&dbb"}, "--limit '&dbb' matches no host or group; close: db, db1"),
        ({"host": "lonely", "group": "db"}, "--host 'lonely' and --group 'db' select no hosts"),
        ({"limit": "db[5]"}, "--limit 'db[5]': index 5 is out of range (2 hosts)"),
        ({"limit": "~web("}, "--limit '~web(': bad regular expression: missing ), unterminated"),
        ({"limit": "web[0"}, "--limit 'web[0' matches no host or group"),
        ({"host": "web1,"}, "--host 'web1,': empty pattern"),
        ({"limit": "web:!"}, "--limit '!' names nothing"),
    ],
)
def test_select_errors_name_the_pattern_and_close_names(
    nested: Inventory, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InventoryError) as info:
        nested.select(**kwargs)
    assert message in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_host_ranges_expand_like_ansible(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web[08:10].lab:\n    db[a:c:2]:\n    x[1:2]y[1:2]:\n")
    inv = load_inventory(tmp_path / "hosts.yml")
    assert list(inv.hosts) == [
        "web08.lab",
        "web09.lab",
        "web10.lab",
        "dba",
        "dbc",
        "x1y1",
        "x1y2",
        "x2y1",
        "x2y2",
    ]


def test_host_range_size_is_capped(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    a[1:9999]b[1:9999]:\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "hosts.yml")
    assert info.value.one_line() == (
        f"{tmp_path / 'hosts.yml'}:3:5: host 'a[1:9999]b[1:9999]': host range expands to more than 10000 hosts"
    )
