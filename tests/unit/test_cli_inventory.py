"""``fix502 inventory --list/--host``: ansible-inventory's shape and content, plus fix502's connection."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures" / "inventories"
CASES = FIX / "ansible"
# Templates: ansible-inventory prints them unrendered, fix502 prints what they resolve to.
SAME_AS_ANSIBLE = sorted(p.name for p in CASES.iterdir() if p.is_dir() and p.name != "11-templates")


def fix502(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from invoke import Program; from remediations.cli_inventory import collection; "
        "Program(namespace=collection, name='fix502').run(['fix502', *sys.argv[1:]])"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path.cwd(),
        stdin=subprocess.DEVNULL,
    )


def source(case: Path) -> Path:
    for name in ("inventory", "hosts.yml", "hosts.yaml", "hosts.ini", "hosts.json", "hosts"):
        if (case / name).exists():
            return case / name
    raise AssertionError(case)


@pytest.mark.skipif(shutil.which("ansible-inventory") is None, reason="needs ansible-core (dev extra)")
@pytest.mark.parametrize("name", ["01-docs-ini", "04-docs-ini-children", "07-group-host-vars", "13-dir", "16-deep"])
def test_list_matches_ansible_inventory(name: str) -> None:
    src = source(CASES / name)
    ours = fix502("inventory", "--list", "--inventory", str(src))
    assert ours.returncode == 0, ours.stderr
    got = json.loads(ours.stdout)
    connection = got["_meta"].pop("fix502_connection")
    theirs = subprocess.run(
        ["ansible-inventory", "-i", str(src), "--list"], capture_output=True, text=True, timeout=60, check=True
    )
    assert got == json.loads(theirs.stdout)
    assert set(connection) == set(got["_meta"]["hostvars"]) | {
        h for g in got.values() if isinstance(g, dict) for h in g.get("hosts", [])
    }


def test_all_cases_are_listed() -> None:
    assert len(SAME_AS_ANSIBLE) >= 30


def test_host_shows_resolved_connection_through_ssh_config(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("[web]\nweb1 ansible_host=app ansible_become=true\n")
    (tmp_path / "ssh_config").write_text("Host app\n  HostName 192.0.2.5\n  User deploy\n  ProxyJump bastion:2200\n")
    out = fix502(
        "inventory",
        "--host",
        "web1",
        "--inventory",
        str(tmp_path / "hosts"),
        "--ssh-config",
        str(tmp_path / "ssh_config"),
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    conn = shown["fix502_connection"]
    assert (conn["address"], conn["user"], conn["port"], conn["become"]) == ("192.0.2.5", "deploy", 22, True)
    assert [(j["address"], j["port"]) for j in conn["jumps"]] == [("bastion", 2200)]
    assert shown["ansible_host"] == "app"


def test_secrets_never_printed_and_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text(
        "web1 ansible_become_password=hunter2 ansible_port=99999\nweb2 ansible_become_password=hunter2\n"
    )
    bad = fix502("inventory", "--list", "--inventory", str(tmp_path / "hosts"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"{tmp_path / 'hosts'}:1: host web1: ansible_port 99999 is out of range 1..65535"
    (tmp_path / "hosts").write_text("web2 ansible_become_password=hunter2\n")
    good = fix502("inventory", "--list", "--inventory", str(tmp_path / "hosts"))
    assert good.returncode == 0 and "hunter2" not in good.stdout
    assert fix502("inventory", "--inventory", str(tmp_path / "hosts")).returncode == 2


def test_vault_options_are_checked(tmp_path: Path) -> None:
    from remediations.cli_inventory import vault_options
    from remediations.errors import OptionError

    with pytest.raises(OptionError, match="exclude each other"):
        vault_options(str(tmp_path / "pw"), True)
    with pytest.raises(OptionError, match="no such file"):
        vault_options(str(tmp_path / "pw"), False)
    (tmp_path / "pw").write_text("x\n")
    assert vault_options(str(tmp_path / "pw"), False) == {"vault_password_file": str(tmp_path / "pw")}
    assert vault_options(None, False) == {}


def test_ask_vault_pass_without_a_terminal_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("web1\n")
    out = fix502("inventory", "--list", "--ask-vault-pass", "--inventory", str(tmp_path / "hosts"))
    assert out.returncode == 2
    assert out.stderr.strip() == "--ask-vault-pass needs a terminal; use --vault-password-file"
