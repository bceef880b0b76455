"""Connection setup that must not grow with the fleet: known_hosts parsed once for K connections,
and fabric's runner without its per-command polling loops (same stdin, same end of command)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from remediations.errors import InputError
from remediations.inventory import Host
from remediations.transport import KNOWN_HOSTS, SSHTransport, _Remote, _WholeStream


def _pub() -> str:
    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def _known_hosts(path: Path, count: int) -> dict[str, str]:
    """``count`` hosts 192.0.2.1.. (TEST-NET-1: nothing is contacted) with their key lines."""
    keys = {f"192.0.2.{i}": _pub() for i in range(1, count + 1)}
    path.write_text("".join(f"{addr} {key}\n" for addr, key in keys.items()))
    return keys


def _transport(addr: str, known: Path, config: Path) -> SSHTransport:
    return SSHTransport(Host(name=addr, address=addr, user="root"), ssh_config=config, known_hosts=known)


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    real = paramiko.HostKeys.load

    def load(self: paramiko.HostKeys, filename: str) -> None:
        loads.append(filename)
        real(self, filename)

    monkeypatch.setattr(paramiko.HostKeys, "load", load)
    return loads


def test_known_hosts_is_parsed_once_for_k_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").write_text("")
    known = tmp_path / "known_hosts"
    keys = _known_hosts(known, 12)
    loads = _count_loads(monkeypatch)
    transports = [_transport(addr, known, tmp_path / "config") for addr in keys]
    assert loads == [str(known)]  # one parse for 12 connections
    for t in transports:  # and every client still knows every host, with the key from the file
        found = t.conn.client.get_host_keys().lookup(t.target.hostname)
        assert found is not None
        assert f"{found['ssh-ed25519'].get_name()} {found['ssh-ed25519'].get_base64()}" == keys[t.target.hostname]


def test_a_changed_known_hosts_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").write_text("")
    known = tmp_path / "known_hosts"
    _known_hosts(known, 3)
    loads = _count_loads(monkeypatch)
    _transport("192.0.2.1", known, tmp_path / "config")
    new_key = _pub()
    with open(known, "a") as fh:  # what --accept-new-hosts (or an operator) does meanwhile
        fh.write(f"192.0.2.99 {new_key}\n")
    late = _transport("192.0.2.99", known, tmp_path / "config")
    assert loads == [str(known), str(known)]
    found = late.conn.client.get_host_keys().lookup("192.0.2.99")
    assert found is not None and found["ssh-ed25519"].get_base64() == new_key.split()[1]


def test_a_key_trusted_on_one_client_stays_on_that_client(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("")
    known = tmp_path / "known_hosts"
    _known_hosts(known, 2)
    a = _transport("192.0.2.1", known, tmp_path / "config")
    b = _transport("192.0.2.2", known, tmp_path / "config")
    added = paramiko.hostkeys.HostKeyEntry.from_line(f"192.0.2.50 {_pub()}")
    assert added is not None
    a.conn.client.get_host_keys().add("192.0.2.50", added.key.get_name(), added.key)  # what TOFU does
    assert a.conn.client.get_host_keys().lookup("192.0.2.50") is not None
    assert b.conn.client.get_host_keys().lookup("192.0.2.50") is None
    assert KNOWN_HOSTS.load([known], "x").lookup("192.0.2.50") is None


def test_an_unreadable_known_hosts_is_one_input_error(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("")
    (tmp_path / "kh").mkdir()  # exists, cannot be read as a file
    with pytest.raises(InputError) as err:
        _transport("192.0.2.1", tmp_path / "kh", tmp_path / "config")
    assert err.value.one_line().startswith(f"192.0.2.1: cannot read known_hosts {tmp_path / 'kh'}: ")


def _runner(**attrs: Any) -> _Remote:
    runner = _Remote.__new__(_Remote)  # no Connection: only the two overridden methods are exercised
    runner.using_pty = False
    for name, value in attrs.items():
        setattr(runner, name, value)
    return runner


def test_stdin_is_written_once_then_closed() -> None:
    sent: list[str] = []
    runner = _runner(write_proc_stdin=sent.append, close_proc_stdin=lambda: sent.append("<EOF>"))
    runner.handle_stdin(_WholeStream("boundary\nconfig text\n"), None)
    assert sent == ["boundary\nconfig text\n", "<EOF>"]
    sent.clear()
    runner.handle_stdin(_WholeStream(""), None)
    assert sent == ["<EOF>"]  # empty stdin: EOF only, as invoke does


def _waiting(runner: _Remote) -> threading.Thread:
    waiter = threading.Thread(target=runner.wait, daemon=True)
    waiter.start()
    return waiter


def test_wait_ends_on_the_exit_status_and_on_a_dead_io_thread() -> None:
    event = threading.Event()
    channel = SimpleNamespace(status_event=event, exit_status_ready=event.is_set)
    waiter = _waiting(_runner(channel=channel, threads={}))
    waiter.join(0.3)
    assert waiter.is_alive()  # the command is still running
    event.set()
    waiter.join(10)
    assert not waiter.is_alive()

    never = threading.Event()
    dead = SimpleNamespace(is_dead=True)
    channel = SimpleNamespace(status_event=never, exit_status_ready=never.is_set)
    waiter = _waiting(_runner(channel=channel, threads={"stdout": dead}))
    waiter.join(10)
    assert not waiter.is_alive()
