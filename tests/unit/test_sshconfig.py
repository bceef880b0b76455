"""OpenSSH's choice of host, user, port, keys and jump hosts, from inventory values and ssh configs."""

from __future__ import annotations

import getpass
from pathlib import Path

import paramiko
import pytest

from remediations.errors import AuthFailed, CommandTimeout, HostKeyError, InputError, TransportError, Unreachable
from remediations.inventory import load_inventory
from remediations.sshconfig import SSHConfigs, resolve
from remediations.transport import translate

CONFIG = """\
Host web*.prod
  HostName %h.internal.example.com
  User deploy
  Port 2222
  IdentityFile ~/.ssh/prod_ed25519
  ProxyJump bastion

Host bastion
  HostName 198.51.100.7
  User jump
  UserKnownHostsFile /etc/fix502/known_hosts

Host db1
  ProxyJump ops@gw1:2200,gw2
  ProxyCommand nc %h %p

Host *
  IdentityFile ~/.ssh/id_ed25519
"""


@pytest.fixture
def configs(tmp_path: Path) -> SSHConfigs:
    (tmp_path / "config").write_text(CONFIG)
    return SSHConfigs(tmp_path / "config")


def test_config_supplies_what_the_inventory_does_not(configs: SSHConfigs) -> None:
    target = resolve("web1.prod", configs)
    assert (target.hostname, target.user, target.port) == ("web1.prod.internal.example.com", "deploy", 2222)
    assert target.key_files[0].endswith("/.ssh/prod_ed25519") and target.key_files[1].endswith("/.ssh/id_ed25519")
    (hop,) = target.jumps
    assert (hop.alias, hop.hostname, hop.user, hop.port) == ("bastion", "198.51.100.7", "jump", 22)
    assert hop.known_hosts == ("/etc/fix502/known_hosts",)


def test_inventory_values_come_first_like_ansibles_command_line(configs: SSHConfigs) -> None:
    target = resolve("web1.prod", configs, user="admin", port=22, key_file="/keys/a", options={"proxyjump": "none"})
    assert (target.user, target.port, target.key_files[0], target.jumps) == ("admin", 22, "/keys/a", ())


def test_nothing_set_anywhere_is_the_local_user_and_port_22(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("")
    target = resolve("plain.example.com", SSHConfigs(tmp_path / "empty"))
    assert (target.hostname, target.user, target.port, target.jumps) == (
        "plain.example.com",
        getpass.getuser(),
        22,
        (),
    )


def test_jump_chain_and_proxycommand(configs: SSHConfigs) -> None:
    target = resolve("db1", configs)
    assert [(h.alias, h.user, h.port) for h in target.jumps] == [("gw1", "ops", 2200), ("gw2", getpass.getuser(), 22)]
    assert target.proxy_command is None  # ProxyJump wins over ProxyCommand, as in ssh


def test_missing_explicit_config_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--ssh-config .*nope: no such file"):
        SSHConfigs(tmp_path / "nope")


def test_ssh_common_args_jump_reaches_the_resolution(tmp_path: Path, configs: SSHConfigs) -> None:
    (tmp_path / "hosts").write_text(
        "[private]\napp1 ansible_host=10.0.1.10\n[private:vars]\n"
        "ansible_ssh_common_args='-o ProxyJump=bastion -o UserKnownHostsFile=/tmp/kh'\n"
    )
    host = load_inventory(tmp_path / "hosts").hosts["app1"]
    assert host.ssh_options == (("proxyjump", "bastion"), ("userknownhostsfile", "/tmp/kh"))
    target = resolve(host.address, configs, user=host.user, port=host.port, options=dict(host.ssh_options))
    assert [h.hostname for h in target.jumps] == ["198.51.100.7"]
    assert target.known_hosts == ("/tmp/kh",)


def test_error_map_names_the_hop_and_keeps_the_family() -> None:
    cases = [
        (paramiko.AuthenticationException("no"), AuthFailed),
        (
            paramiko.ssh_exception.NoValidConnectionsError(
                {("127.0.0.9", 22): ConnectionRefusedError(111, "Connection refused")}
            ),
            Unreachable,
        ),
        (TimeoutError("timed out"), Unreachable),
        (EOFError(), Unreachable),
        (HostKeyError("unknown host key x"), HostKeyError),
    ]
    for exc, family in cases:
        error = translate(exc, "jump host bastion (jump@198.51.100.7:22)", "web1")
        assert isinstance(error, family) and isinstance(error, TransportError)
        assert error.one_line().startswith("web1: ")
    refused = translate(cases[1][0], "jump host bastion (jump@198.51.100.7:22)", "web1").one_line()
    assert refused == "web1: cannot connect to jump host bastion (jump@198.51.100.7:22): Connection refused"
    assert not issubclass(CommandTimeout, TransportError)  # reached, then too slow: not "unreachable"


def test_include_is_followed(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-web.conf").write_text("Host web9\n  HostName 192.0.2.9\n  User www\n")
    (tmp_path / "config").write_text(f"Include {tmp_path}/conf.d/*.conf\nHost *\n  Port 2200\n")
    target = resolve("web9", SSHConfigs(tmp_path / "config"))
    assert (target.hostname, target.user, target.port) == ("192.0.2.9", "www", 2200)


def test_become_follows_the_user_ssh_really_logs_in_as(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from remediations.inventory import Host
    from remediations.transport import SSHTransport, _invoke_run

    (tmp_path / "config").write_text("Host app\n  HostName 192.0.2.5\n  User deploy\n")
    host = Host(name="web1", address="app", become=True)  # no user in the inventory
    transport = SSHTransport(host, ssh_config=tmp_path / "config", known_hosts=tmp_path / "known_hosts")
    assert transport.target.user == "deploy"
    sent: list[str] = []

    class Ctx:
        def run(self, command: str, **_: object) -> SimpleNamespace:
            sent.append(command)
            return SimpleNamespace(exited=0, stdout="", stderr="")

    _invoke_run(Ctx(), host, transport.target.user, "id -u", None, 5.0)  # type: ignore[arg-type]
    _invoke_run(Ctx(), host, "root", "id -u", None, 5.0)  # type: ignore[arg-type]
    assert sent == ["sudo -n sh -c 'id -u'", "id -u"]
