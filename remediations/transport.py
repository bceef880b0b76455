"""The only module that talks to hosts.

A :class:`Transport` wraps one fabric ``Connection`` (an ``invoke.Context``) per host and is reused
for the whole run, so a diagnosis costs one SSH connection.  Everything that can go wrong below us
(paramiko, socket, invoke) is translated here, once, into the small family in ``errors.py``.

Security choices made here and nowhere else:
- host keys are checked strictly (fabric's default is to auto-add unknown keys); trusting on first
  use is an explicit opt-in (``accept_new_hosts``);
- commands are strings that callers build with :func:`q`/:func:`join` (``shlex`` quoting); this
  module never formats inventory or playbook values into a command itself;
- a ``become`` password is handed to invoke's sudo responder and never logged or stored.
"""

from __future__ import annotations

import io
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import invoke
import paramiko
from fabric import Config, Connection

from remediations.errors import (
    AuthFailed,
    CommandFailed,
    CommandTimeout,
    HostKeyError,
    InputError,
    TransportError,
    Unreachable,
)
from remediations.inventory import Host


def q(value: object) -> str:
    """Quote one value for a POSIX shell."""
    return shlex.quote(str(value))


def join(*argv: object) -> str:
    return " ".join(q(a) for a in argv)


@dataclass
class CmdResult:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class Runner(Protocol):
    host: Host
    connections_opened: int
    round_trips: int

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult: ...

    def close(self) -> None: ...


class _TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """--accept-new-hosts: add an unknown key to known_hosts; a *changed* key is still refused
    (paramiko raises BadHostKeyException before consulting any policy)."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.known_hosts, "a") as fh:
            fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class _Strict(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"unknown host key {key.get_name()} {fingerprint(key)} for {hostname}; verify it and add it to "
            "known_hosts, or pass --accept-new-hosts to trust it on first use",
        )


class _WholeStream(io.StringIO):
    """invoke feeds a non-TTY ``in_stream`` to the remote process one character per read, sleeping
    between reads (measured: ~100 bytes/s, so a 20 kB config file hit the command timeout).
    Handing over everything on the first read makes stdin cost one write."""

    def read(self, size: int | None = -1) -> str:
        return super().read()


def fingerprint(key: paramiko.PKey) -> str:
    return key.fingerprint if hasattr(key, "fingerprint") else key.get_fingerprint().hex()


class SSHTransport:
    """One host, one SSH connection, many commands."""

    def __init__(
        self,
        host: Host,
        *,
        accept_new_hosts: bool = False,
        connect_timeout: float = 10.0,
        command_timeout: float = 120.0,
        known_hosts: Path | None = None,
    ) -> None:
        self.host = host
        self.command_timeout = command_timeout
        self.known_hosts = known_hosts or Path.home() / ".ssh" / "known_hosts"
        self.connections_opened = 0
        self.round_trips = 0
        self._lock = threading.Lock()
        connect_kwargs: dict[str, Any] = {"banner_timeout": connect_timeout, "auth_timeout": connect_timeout}
        if host.key_file:
            key = Path(host.key_file)
            try:
                key.read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read private key {key}: {exc.strerror}", where=host.name) from None
            connect_kwargs["key_filename"] = [str(key)]
        config = Config(overrides={"run": {"hide": True, "warn": True, "in_stream": False}})
        self.conn = Connection(
            host.address,
            user=host.user,
            port=host.port,
            connect_timeout=int(connect_timeout),
            connect_kwargs=connect_kwargs,
            config=config,
        )
        client = self.conn.client
        if self.known_hosts.exists():
            try:
                client.load_host_keys(str(self.known_hosts))
            except (OSError, paramiko.SSHException) as exc:
                raise InputError(f"cannot read known_hosts {self.known_hosts}: {exc}", where=host.name) from None
        client.set_missing_host_key_policy(_TrustOnFirstUse(self.known_hosts) if accept_new_hosts else _Strict())

    # -- connection -----------------------------------------------------------------------
    def open(self) -> None:
        if self.conn.is_connected:
            return
        try:
            self.conn.open()
        except HostKeyError as exc:
            raise HostKeyError(exc.message, where=self.host.name) from None
        except paramiko.BadHostKeyException as exc:
            raise HostKeyError(
                f"host key CHANGED: got {exc.key.get_name()} {fingerprint(exc.key)}, known_hosts has "
                f"{fingerprint(exc.expected_key)} — refusing to connect (possible man-in-the-middle)",
                where=self.host.name,
            ) from None
        except paramiko.AuthenticationException as exc:
            raise AuthFailed(f"authentication failed for {self.host.user}: {exc}", where=self.host.name) from None
        except TimeoutError:
            raise Unreachable(
                f"connection to {self.host.address}:{self.host.port} timed out", where=self.host.name
            ) from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            raise Unreachable(
                f"cannot connect to {self.host.address}:{self.host.port}: {_errors(exc)}", where=self.host.name
            ) from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise Unreachable(
                f"ssh to {self.host.address}:{self.host.port} failed: {exc}", where=self.host.name
            ) from None
        self.connections_opened += 1

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        """Run a shell command; a non-zero exit is data (``CmdResult``), not an exception."""
        with self._lock:
            self.open()
            self.round_trips += 1
            try:
                return _invoke_run(self.conn, self.host, command, stdin, timeout or self.command_timeout)
            except invoke.exceptions.ThreadException as exc:
                self._drop()
                inner = "; ".join(str(w.value) for w in exc.exceptions) or "I/O thread failed"
                raise Unreachable(f"connection lost: {inner}", where=self.host.name) from None
            except (OSError, EOFError, paramiko.SSHException) as exc:
                self._drop()
                raise Unreachable(f"connection lost: {exc or type(exc).__name__}", where=self.host.name) from None

    def _drop(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass

    def close(self) -> None:
        self._drop()


class LocalTransport:
    """``ansible_connection: local``: same interface, commands run on the controller."""

    def __init__(self, host: Host, *, command_timeout: float = 120.0, **_: Any) -> None:
        self.host = host
        self.command_timeout = command_timeout
        self.connections_opened = 0
        self.round_trips = 0
        self.ctx = invoke.context.Context(Config(overrides={"run": {"hide": True, "warn": True, "in_stream": False}}))

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        self.round_trips += 1
        return _invoke_run(self.ctx, self.host, command, stdin, timeout or self.command_timeout)

    def close(self) -> None:
        return None


def _invoke_run(ctx: invoke.context.Context, host: Host, command: str, stdin: str | None, timeout: float) -> CmdResult:
    """One command through invoke (fabric's Connection is an invoke Context), for both transports:
    become wrapping, stdin, timeout → CommandTimeout.  Connection-level failures are the caller's."""
    if host.become and host.user != "root":
        # The password (if any) goes on stdin to `sudo -S`, never into the command line.
        command = ("sudo -S -p '' sh -c " if host.become_password else "sudo -n sh -c ") + q(command)
        if host.become_password:
            stdin = host.become_password + "\n" + (stdin or "")
    try:
        result = ctx.run(
            command,
            hide=True,
            warn=True,
            timeout=timeout,
            in_stream=_WholeStream(stdin) if stdin is not None else False,
        )
    except invoke.exceptions.CommandTimedOut as exc:
        raise CommandTimeout(f"command timed out after {exc.timeout}s", where=host.name) from None
    assert result is not None
    return CmdResult(int(result.exited), result.stdout, result.stderr)


def connect(host: Host, **options: Any) -> Runner:
    if host.connection == "local":
        return LocalTransport(host, **options)
    return SSHTransport(host, **options)


def check_key_files(hosts: list[Host]) -> None:
    """A private key we cannot read is the user's input error (exit 2, before any host is touched),
    not one failed host among many."""
    for host in hosts:
        if host.connection != "local" and host.key_file:
            try:
                Path(host.key_file).read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read private key {host.key_file}: {exc.strerror}", where=host.name) from None


def run_ok(
    transport: Runner, command: str, *, what: str, stdin: str | None = None, timeout: float | None = None
) -> CmdResult:
    """Run and require success; the failure names the host and what we were doing."""
    result = transport.run(command, stdin=stdin, timeout=timeout)
    if not result.ok:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise CommandFailed(
            f"{what} failed (exit {result.exit_status}): {detail[-1] if detail else 'no output'}",
            where=transport.host.name,
            exit_status=result.exit_status,
            stderr=result.stderr,
        )
    return result


def _errors(exc: paramiko.ssh_exception.NoValidConnectionsError) -> str:
    reasons = {str(getattr(e, "strerror", None) or e) for e in exc.errors.values()}
    return "; ".join(sorted(reasons)) or "no route"


__all__ = [
    "CmdResult",
    "LocalTransport",
    "Runner",
    "SSHTransport",
    "TransportError",
    "check_key_files",
    "connect",
    "join",
    "q",
    "run_ok",
]
