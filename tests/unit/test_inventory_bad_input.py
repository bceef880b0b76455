"""Hostile or broken inventories: each is one line naming file:line:col, exit 2, and bounded in
time and memory (alias bombs, huge ranges, huge files, URLs that would become curl options)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from remediations.errors import InventoryError
from remediations.inventory import load_inventory
from remediations.remote import for_site, site_urls


def refuse(path: Path) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.exit_code == 2
    return info.value.one_line().splitlines()


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    text = "all:\n  vars:\n" + "".join(f"    {line}\n" for line in lines) + "  hosts:\n    web1:\n"
    (tmp_path / "hosts.yml").write_text(text)
    start = time.monotonic()
    problems = refuse(tmp_path / "hosts.yml")
    assert time.monotonic() - start < 10
    assert any("value expands to more than 200000 nodes (YAML alias bomb?)" in p for p in problems)
    assert problems[-1].startswith(f"{tmp_path / 'hosts.yml'}:")


def test_huge_host_range_is_refused_before_expanding(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web[0:999999999]:\n")
    start = time.monotonic()
    assert refuse(tmp_path / "hosts.yml") == [
        f"{tmp_path / 'hosts.yml'}:3:5: host 'web[0:999999999]': host range expands to more than 10000 hosts"
    ]
    assert time.monotonic() - start < 2


def test_huge_ini_range_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("[web]\nweb[0:999999999] ansible_user=deploy\n")
    assert refuse(tmp_path / "hosts") == [
        f"{tmp_path / 'hosts'}:2: host 'web[0:999999999]': host range expands to more than 10000 hosts"
    ]


@pytest.mark.parametrize("name", ["hosts.yml", "hosts"])
def test_input_files_over_the_size_limit_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("# padding\n" * 500_000)  # 5 MB
    assert refuse(path) == [f"{path}: 5000000 bytes is over the 4 MiB limit for input files"]


def test_oversized_group_vars_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1:\n")
    (tmp_path / "group_vars").mkdir()
    big = tmp_path / "group_vars" / "all.yml"
    big.write_text("# x\n" * 1_200_000)
    assert refuse(tmp_path / "hosts.yml") == [f"{big}: 4800000 bytes is over the 4 MiB limit for input files"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("-K/path", "'-K/path' starts with '-' (would be read as a curl option)"),
        ("http://example.com:99999/", "'http://example.com:99999/' is not a valid URL (Port out of range 0-65535)"),
        ("http://example.com:0/", "'http://example.com:0/' port 0 is out of range 1..65535"),
        ("ftp://example.com/", "'ftp://example.com/' must start with http:// or https://"),
        ("https:///path", "'https:///path' has no host name"),
        ("http://example.com/a b", "'http://example.com/a b' contains whitespace or a control character"),
        ("http://example.com/\x1b[31m", "'http://example.com/\\x1b[31m' contains whitespace or a control character"),
        (8080, "8080 must be a string, not int"),
    ],
)
def test_site_url_is_vetted_at_load_time(tmp_path: Path, url: object, message: str) -> None:
    path = tmp_path / "hosts.yml"
    value = f'"{url}"' if isinstance(url, str) else str(url)
    if isinstance(url, str) and "\x1b" in url:
        value = '"http://example.com/\\e[31m"'
    path.write_text(f"all:\n  hosts:\n    web1:\n      site_url: {value}\n")
    assert refuse(path) == [f"{path}:4:17: host web1: site_url {message}"]


def test_good_site_urls_load(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  hosts:\n    a: {site_url: 'https://example.com/'}\n    b: {site_url: 'http://[::1]:8080/wp/'}\n"
    )
    inv = load_inventory(path)
    assert inv.hosts["b"].vars["site_url"] == "http://[::1]:8080/wp/"


def test_become_user_other_than_root_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nweb1 ansible_become=true ansible_become_user=postgres\n")
    assert refuse(path) == [
        f"{path}:2: host web1: ansible_become_user 'postgres' is not supported: fix502 becomes root or nobody"
    ]


def test_unsupported_ssh_option_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    web1:\n      ansible_ssh_extra_args: '-o ForwardAgent=yes'\n")
    assert refuse(path) == [
        f"{path}:4:31: host web1: ansible_ssh_extra_args ssh option 'forwardagent' "
        "is not supported by fix502's transport"
    ]


def test_ini_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nweb1 ansible_user\n[db:vars]\nx=1\n[bad section]\n")
    assert refuse(path) == [
        f"{path}:2: expected key=value host variable, got 'ansible_user'",
        f"{path}:5: invalid section entry '[bad section]' (no spaces or other characters allowed)",
        f"{path}:3: section [db:vars] is for an undefined group 'db'",
    ]


def test_templates_cannot_exhaust_the_controller(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  hosts:\n"
        "    w1: {a: \"{{ 'a' * 1000000000 }}\"}\n"
        '    w2: {b: "{{ 9 ** 99999999 }}"}\n'
        '    w3: {c: "{% for i in range(100000000) %}x{% endfor %}"}\n'
    )
    start = time.monotonic()
    assert refuse(path) == [
        f"{path}:3:13: host w1: a: template \"{{{{ 'a' * 1000000000 }}}}\": result too large",
        f"{path}:4:13: host w2: b: template '{{{{ 9 ** 99999999 }}}}': exponent too large",
        f"{path}:5:13: host w3: c: template '{{% for i in range(100000000) %}}x{{% endfor %}}': 'range' is undefined",
    ]
    assert time.monotonic() - start < 5


def test_deeply_nested_ini_literal_stays_a_string(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nw1 x=" + "[" * 100_000 + "\n")
    assert load_inventory(path).hosts["w1"].vars["x"] == "[" * 100_000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'https://a.example/'", "must be a non-empty list of URLs, not str"),
        ("[]", "must be a non-empty list of URLs, not list"),
        ("['https://a.example/', '-K x']", "item 2 '-K x' starts with '-' (would be read as a curl option)"),
        ("['https://a.example/', 'https://a.example/']", "lists the same URL twice"),
        ("[" + ", ".join(f"'https://s{i}.example/'" for i in range(51)) + "]", "lists 51 sites; at most 50 per host"),
    ],
)
def test_sites_is_vetted_at_load_time(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(f"all:\n  hosts:\n    web1:\n      sites: {value}\n")
    assert refuse(path) == [f"{path}:4:14: host web1: sites {message}"]


def test_sites_list_loads_in_order(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    web1:\n      sites: ['https://b.example/', 'http://a.example:8080/']\n")
    host = load_inventory(path).hosts["web1"]
    assert site_urls(host) == ["https://b.example/", "http://a.example:8080/"]
    assert for_site(host, "http://a.example:8080/").vars["site_url"] == "http://a.example:8080/"
    assert "site_url" not in host.vars  # the inventory's host is not changed by a site's view of it
