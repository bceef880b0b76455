"""A host reached through a ProxyJump that ~/.ssh/config chooses, both host keys checked.

Self-contained: two real OpenSSH servers started here on 127.0.0.241:22 (the jump host) and
127.0.0.242:22 (the target), each with its own host key, config and authorized_keys, and a
temporary ssh config given with ``ssh_config=`` (the CLI's ``--ssh-config``).  The jump host logs
at DEBUG1, so the test sees the forwarded channel it opened to the target.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from remediations.errors import HostKeyError
from remediations.inventory import load_inventory
from remediations.transport import SSHTransport

SSHD = "/usr/sbin/sshd"
JUMP, TARGET = "127.0.0.241", "127.0.0.242"


@dataclass
class Server:
    address: str
    host_key: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def known_hosts_line(self) -> str:
        kind, blob = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{self.address} {kind} {blob}\n"


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _wait_port(server: Server, deadline: float) -> None:
    address = server.address
    while time.monotonic() < deadline and server.proc.poll() is None:
        try:
            socket.create_connection((address, 22), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"sshd on {address}:22 did not start: {server.log.read_text(errors='replace')[-500:]}")


def _start(tmp: Path, address: str, authorized: Path) -> Server:
    name = address.rsplit(".", 1)[1]
    key = tmp / f"host_{name}"
    _keygen(key)
    config = tmp / f"sshd_{name}.conf"
    log = tmp / f"sshd_{name}.log"
    config.write_text(
        f"ListenAddress {address}:22\nHostKey {key}\nPidFile {tmp / f'sshd_{name}.pid'}\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        "AllowTcpForwarding yes\nLogLevel DEBUG1\n"
    )
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=log.open("wb"), stdout=subprocess.DEVNULL)
    return Server(address, key, log, proc)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Path]]:
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("needs openssh-server and openssh-client")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    tmp = tmp_path_factory.mktemp("proxyjump")
    tmp.chmod(0o755)
    client_key = tmp / "id_client"
    _keygen(client_key)
    authorized = tmp / "authorized_keys"
    shutil.copy(client_key.with_suffix(".pub"), authorized)
    jump, target = _start(tmp, JUMP, authorized), _start(tmp, TARGET, authorized)
    try:
        deadline = time.monotonic() + 10
        _wait_port(jump, deadline)
        _wait_port(target, deadline)
        yield jump, target, client_key
    finally:
        for server in (jump, target):
            server.proc.terminate()
            try:
                server.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()


def _setup(tmp_path: Path, client_key: Path, known: str) -> tuple[Path, Path, Path]:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known)
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host app\n  HostName {TARGET}\n  ProxyJump bastion\n\n"
        f"Host bastion\n  HostName {JUMP}\n\n"
        f"Host *\n  User root\n  IdentityFile {client_key}\n  UserKnownHostsFile {known_hosts}\n"
        "  StrictHostKeyChecking no\n"  # fix502 must stay strict regardless
    )
    inventory = tmp_path / "hosts"
    inventory.write_text("[web]\nweb-app ansible_host=app\n")
    return known_hosts, config, inventory


def _forwarded_channels(jump: Server) -> int:
    return jump.log.read_text(errors="replace").count(f"target {TARGET} port 22")


def test_connects_through_the_jump_host_with_both_keys_checked(
    servers: tuple[Server, Server, Path], tmp_path: Path
) -> None:
    jump, target, client_key = servers
    _, config, inventory = _setup(tmp_path, client_key, jump.known_hosts_line() + target.known_hosts_line())
    host = load_inventory(inventory).hosts["web-app"]
    assert host.user is None and host.port is None  # the ssh config decides
    before = _forwarded_channels(jump)
    transport = SSHTransport(host, ssh_config=config)
    try:
        result = transport.run("echo ok; cat /proc/sys/kernel/hostname >/dev/null")
    finally:
        transport.close()
    assert result.ok and result.stdout.strip() == "ok"
    assert transport.target.hostname == TARGET and transport.target.user == "root"
    assert [hop.hostname for hop in transport.target.jumps] == [JUMP]
    assert _forwarded_channels(jump) == before + 1  # the session went through the jump host


def test_unknown_jump_host_key_is_refused(servers: tuple[Server, Server, Path], tmp_path: Path) -> None:
    jump, target, client_key = servers
    known_hosts, config, inventory = _setup(tmp_path, client_key, target.known_hosts_line())
    host = load_inventory(inventory).hosts["web-app"]
    before = _forwarded_channels(jump)
    transport = SSHTransport(host, ssh_config=config)
    with pytest.raises(HostKeyError) as info:
        transport.run("echo never")
    transport.close()
    message = info.value.one_line()
    assert message.startswith("web-app: unknown host key ssh-ed25519 ")
    assert f"for {JUMP}" in message
    assert _forwarded_channels(jump) == before  # nothing reached the target
    assert known_hosts.read_text() == target.known_hosts_line()  # nothing was added


def test_accept_new_hosts_trusts_the_jump_host_too(servers: tuple[Server, Server, Path], tmp_path: Path) -> None:
    jump, target, client_key = servers
    known_hosts, config, inventory = _setup(tmp_path, client_key, target.known_hosts_line())
    host = load_inventory(inventory).hosts["web-app"]
    transport = SSHTransport(host, ssh_config=config, accept_new_hosts=True)
    try:
        assert transport.run("echo ok").stdout.strip() == "ok"
    finally:
        transport.close()
    assert jump.known_hosts_line() in known_hosts.read_text()


def test_changed_jump_host_key_is_refused_even_with_accept_new_hosts(
    servers: tuple[Server, Server, Path], tmp_path: Path
) -> None:
    jump, target, client_key = servers
    impostor = tmp_path / "impostor"
    _keygen(impostor)
    kind, blob = impostor.with_suffix(".pub").read_text().split()[:2]
    _, config, inventory = _setup(tmp_path, client_key, f"{JUMP} {kind} {blob}\n" + target.known_hosts_line())
    host = load_inventory(inventory).hosts["web-app"]
    before = _forwarded_channels(jump)
    transport = SSHTransport(host, ssh_config=config, accept_new_hosts=True)
    with pytest.raises(HostKeyError, match="host key CHANGED for jump host bastion"):
        transport.run("echo never")
    transport.close()
    assert _forwarded_channels(jump) == before
