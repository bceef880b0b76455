"""The only module that talks to hosts.

A :class:`Transport` wraps one fabric ``Connection`` (an ``invoke.Context``) per host and is reused
for the whole run, so a diagnosis costs one SSH connection.  Everything that can go wrong below us
(paramiko, socket, invoke) is translated here, once, into the small family in ``errors.py``.

Where to connect (HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand, known_hosts files)
is decided in ``sshconfig.py`` as OpenSSH decides it; fabric's own ssh_config loading is off.

Security choices made here and nowhere else:
- host keys are checked strictly (fabric's default is to auto-add unknown keys), for every jump host
  as for the target; trusting on first use is an explicit opt-in (``accept_new_hosts``), for all hops;
- commands are strings that callers build with :func:`q`/:func:`join` (``shlex`` quoting); this
  module never formats inventory or playbook values into a command itself;
- a ``become`` password is handed to invoke's sudo responder and never logged or stored.
"""

from __future__ import annotations

import getpass
import io
import os
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import invoke
import paramiko
from fabric import Config, Connection
from fabric.runners import Remote

from remediations.errors import (
    AuthFailed,
    CommandFailed,
    CommandTimeout,
    Fix502Error,
    HostKeyError,
    InputError,
    TransportError,
    Unreachable,
)
from remediations.inventory import Host
from remediations.sshconfig import SSHConfigs, Target, resolve


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


class _Remote(Remote):  # type: ignore[misc]  # fabric ships no type hints
    """fabric's runner without its two 100 Hz polling loops per running command.

    invoke polls ``process_is_finished`` and re-reads stdin every ``input_sleep`` (10 ms) until the
    command ends.  With every host's command running at once, and each taking longer the more hosts
    share the CPUs, those wake-ups grow as N²: at 50 hosts they were the controller's largest cost after
    report building.  Here the stdin we hand over (always a :class:`_WholeStream`) is written once
    and closed, as invoke does on its EOF, and ``wait`` sleeps on paramiko's exit-status event
    (also set when the channel closes), waking only to notice a dead I/O thread."""

    def handle_stdin(self, input_: Any, output: Any, echo: bool = False) -> None:
        if not isinstance(input_, _WholeStream):
            super().handle_stdin(input_, output, echo)
            return
        data = input_.read()
        if data:
            self.write_proc_stdin(data)
        if not self.using_pty:
            self.close_proc_stdin()

    def wait(self) -> None:
        while not (self.process_is_finished or self.has_dead_threads):
            self.channel.status_event.wait(_DEAD_THREAD_POLL)


_DEAD_THREAD_POLL = 0.1  # seconds: how soon a crashed I/O thread ends wait() (the exit status is instant)


class KnownHostsCache:
    """known_hosts files parsed once per process, not once per connection.

    paramiko's ``HostKeys.load`` decodes every key and checks each line against all lines before it
    (quadratic in the file's length); ``SSHClient.load_host_keys`` per connection made that N × K²
    for N hosts and a K-line file.  The parse is keyed by each file's identity, size and mtime, so a
    key appended meanwhile (``--accept-new-hosts``, or by hand) is seen by the next connection, as
    before.  Each client gets its own list of the parsed entries (copies of the entries, sharing
    the immutable key objects), so a key trusted on first use on one client stays on that client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, int, int, int, int], ...] | None = None
        self._keys = paramiko.HostKeys()
        self.parses = 0  # files parsed, for tests and the benchmark

    def load(self, files: list[Path], host: str) -> paramiko.HostKeys:
        stats = []
        for file in files:
            try:
                st = file.stat()
            except OSError:
                continue  # a missing file is skipped, as before
            stats.append((str(file), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        key = tuple(stats)
        with self._lock:
            if key != self._key:
                keys = paramiko.HostKeys()
                for name, *_ in stats:
                    try:
                        keys.load(name)
                    except (OSError, paramiko.SSHException) as exc:
                        raise InputError(f"cannot read known_hosts {name}: {exc}", where=host) from None
                    self.parses += 1
                self._key, self._keys = key, keys
            return self._keys

    def install(self, client: paramiko.SSHClient, files: list[Path], host: str) -> None:
        """What ``client.load_host_keys(f)`` for each of ``files`` did, from the shared parse."""
        shared = self.load(files, host)
        own = client.get_host_keys()
        # HostKeys has no public bulk copy; _entries is what load() appends to (paramiko 2.x-4.x).
        cast(Any, own)._entries.extend(
            paramiko.hostkeys.HostKeyEntry(list(e.hostnames), e.key) for e in cast(Any, shared)._entries
        )


KNOWN_HOSTS = KnownHostsCache()


def fingerprint(key: paramiko.PKey) -> str:
    return key.fingerprint if hasattr(key, "fingerprint") else key.get_fingerprint().hex()


# --- the one error map: library exception → fix502 error ----------------------------------------------


def _changed_key(exc: BaseException, where: str) -> Fix502Error:
    assert isinstance(exc, paramiko.BadHostKeyException)
    return HostKeyError(
        f"host key CHANGED for {where}: got {exc.key.get_name()} {fingerprint(exc.key)}, known_hosts has "
        f"{fingerprint(exc.expected_key)} — refusing to connect (possible man-in-the-middle)"
    )


def _no_route(exc: BaseException, where: str) -> Fix502Error:
    assert isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError)
    return Unreachable(f"cannot connect to {where}: {_errors(exc)}")


def _thread(exc: BaseException, where: str) -> Fix502Error:
    assert isinstance(exc, invoke.exceptions.ThreadException)
    inner = "; ".join(str(w.value) for w in exc.exceptions) or "I/O thread failed"
    return Unreachable(f"connection to {where} lost: {inner}")


# Most specific first.  ``where`` is "user@host:port" (or "jump host ...") for the message.
ERROR_MAP: tuple[tuple[type[BaseException], Callable[[BaseException, str], Fix502Error]], ...] = (
    (HostKeyError, lambda e, w: HostKeyError(cast(HostKeyError, e).message)),
    (paramiko.BadHostKeyException, _changed_key),
    (paramiko.AuthenticationException, lambda e, w: AuthFailed(f"authentication failed for {w}: {e}")),
    (paramiko.ssh_exception.NoValidConnectionsError, _no_route),
    (paramiko.ssh_exception.ProxyCommandFailure, lambda e, w: Unreachable(f"ProxyCommand for {w} failed: {e}")),
    (invoke.exceptions.CommandTimedOut, lambda e, w: CommandTimeout(f"command timed out after {e.timeout}s")),  # type: ignore[attr-defined]
    (invoke.exceptions.ThreadException, _thread),
    (TimeoutError, lambda e, w: Unreachable(f"connection to {w} timed out")),
    (EOFError, lambda e, w: Unreachable(f"connection to {w} closed: {e or 'EOF'}")),
    (paramiko.SSHException, lambda e, w: Unreachable(f"ssh to {w} failed: {e or type(e).__name__}")),
    (OSError, lambda e, w: Unreachable(f"ssh to {w} failed: {e.strerror or e}")),  # type: ignore[attr-defined]
)
_MAPPED = tuple(kind for kind, _ in ERROR_MAP)


def translate(exc: BaseException, where: str, host: str) -> Fix502Error:
    """The fix502 error for a library exception (the first matching row of ERROR_MAP)."""
    for kind, make in ERROR_MAP:
        if isinstance(exc, kind):
            error = make(exc, where)
            error.where = host
            error.args = (f"{host}: {error.message}",)
            return error
    raise exc


def _label(target: Target, hop: bool = False) -> str:
    text = f"{target.user}@{target.hostname}:{target.port}"
    return f"jump host {target.alias} ({text})" if hop else text


class SSHTransport:
    """One host, one SSH connection (through its jump hosts, if any), many commands."""

    def __init__(
        self,
        host: Host,
        *,
        accept_new_hosts: bool = False,
        connect_timeout: float = 10.0,
        command_timeout: float = 120.0,
        known_hosts: Path | None = None,
        ssh_config: Path | None = None,
    ) -> None:
        self.host = host
        self.command_timeout = command_timeout
        self.connect_timeout = connect_timeout
        self.accept_new_hosts = accept_new_hosts
        self.known_hosts_override = known_hosts
        self.connections_opened = 0
        self.round_trips = 0
        self._lock = threading.Lock()
        self.target = resolve(
            host.address,
            SSHConfigs(ssh_config),
            user=host.user,
            port=host.port,
            key_file=host.key_file,
            options=dict(host.ssh_options),
        )
        self.known_hosts = known_hosts or Path(os.path.expanduser(self.target.known_hosts[0]))
        self.hops: list[tuple[Target, Connection]] = []
        self.conn = self._connection(self.target, self._gateway(self.target))

    def _gateway(self, target: Target) -> Connection | str | None:
        """fabric's gateway for ``target``: its jump chain (each hop checked like the target) or
        its ProxyCommand."""
        gateway: Connection | str | None = target.proxy_command
        for index, hop in enumerate(target.jumps):
            conn = self._connection(hop, self._gateway(hop) if index == 0 else gateway)
            self.hops.append((hop, conn))
            gateway = conn
        return gateway

    def _connection(self, target: Target, gateway: Connection | str | None) -> Connection:
        connect_kwargs: dict[str, Any] = {
            "banner_timeout": self.connect_timeout,
            "auth_timeout": self.connect_timeout,
        }
        keys = [k for k in target.key_files if k == self.host.key_file or Path(k).is_file()]
        if keys:
            connect_kwargs["key_filename"] = keys
        conn = Connection(
            target.hostname,
            user=target.user,
            port=target.port,
            connect_timeout=int(target.connect_timeout or self.connect_timeout),
            connect_kwargs=connect_kwargs,
            # An empty SSHConfig stops fabric reading ~/.ssh/config itself: fabric would build
            # ProxyJump gateways whose clients auto-add unknown host keys.  sshconfig.resolve did it.
            config=Config(
                ssh_config=paramiko.SSHConfig(),
                overrides={"run": {"hide": True, "warn": True, "in_stream": False}, "runners": {"remote": _Remote}},
            ),
            gateway=gateway,
        )
        self._check_keys(conn.client, target)
        return conn

    def _check_keys(self, client: paramiko.SSHClient, target: Target) -> None:
        files = (
            [self.known_hosts_override]
            if self.known_hosts_override
            else [Path(os.path.expanduser(f)) for f in target.known_hosts]
        )
        KNOWN_HOSTS.install(client, files, self.host.name)
        policy = _TrustOnFirstUse(files[0]) if self.accept_new_hosts else _Strict()
        client.set_missing_host_key_policy(policy)

    # -- connection -----------------------------------------------------------------------
    def open(self) -> None:
        if self.conn.is_connected:
            return
        for hop, conn in self.hops:  # hop by hop, so an error names the hop that failed
            if not conn.is_connected:
                try:
                    conn.open()
                except _MAPPED as exc:
                    raise translate(exc, _label(hop, hop=True), self.host.name) from None
        try:
            self.conn.open()
        except _MAPPED as exc:
            raise translate(exc, _label(self.target), self.host.name) from None
        self.connections_opened += 1

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        """Run a shell command; a non-zero exit is data (``CmdResult``), not an exception."""
        with self._lock:
            self.open()
            self.round_trips += 1
            try:
                return _invoke_run(
                    self.conn, self.host, self.target.user, command, stdin, timeout or self.command_timeout
                )
            except CommandTimeout:
                raise
            except _MAPPED as exc:
                self._drop()
                raise translate(exc, _label(self.target), self.host.name) from None

    def sftp(self) -> paramiko.SFTPClient:
        """The SFTP session on this connection (fabric keeps one per connection): for a login
        whose "shell" is the SFTP server, the only way in."""
        with self._lock:
            self.open()
            try:
                return cast(paramiko.SFTPClient, self.conn.sftp())
            except _MAPPED as exc:
                raise translate(exc, _label(self.target), self.host.name) from None

    def _drop(self) -> None:
        for conn in [self.conn, *(c for _, c in reversed(self.hops))]:
            try:
                conn.close()
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
        return _invoke_run(self.ctx, self.host, getpass.getuser(), command, stdin, timeout or self.command_timeout)

    def close(self) -> None:
        return None


def _invoke_run(
    ctx: invoke.context.Context, host: Host, login: str, command: str, stdin: str | None, timeout: float
) -> CmdResult:
    """One command through invoke (fabric's Connection is an invoke Context), for both transports:
    become wrapping, stdin, timeout → CommandTimeout.  Connection-level failures are the caller's."""
    if host.become and login != "root":  # the user ssh really logs in as (inventory, ssh config, local)
        command, stdin = become(command, stdin, host.become_password)
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


# sudo resets the environment, and the probe must know which address the session came in on
# (a site listening on its own address does not answer on 127.0.0.1): carry SSH_CONNECTION over.
_SUDO_ENV = 'env "SSH_CONNECTION=${SSH_CONNECTION:-}" '


def become(command: str, stdin: str | None, password: str | None) -> tuple[str, str | None]:
    """The command as root through sudo, the same over sudo as over a root login.

    The password never reaches a command line.  It goes on stdin, as its first line, and that line
    is always consumed before the command sees its stdin: ``sudo -k`` ignores cached credentials, so
    it asks (and reads the line) every time; a NOPASSWD rule, where sudo would not ask and the
    password would become the start of the command's own stdin (a file write's content), is tested
    first (``sudo -n true``) and the line is read away by the shell instead."""
    inner = _SUDO_ENV + "sh -c " + q(command)
    if password is None:
        return "sudo -n -- " + inner, stdin
    script = (
        f"if sudo -n true 2>/dev/null; then IFS= read -r _; exec sudo -n -- {inner}; "
        f"else exec sudo -k -S -p '' -- {inner}; fi"
    )
    return script, password + "\n" + (stdin or "")


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
    "ERROR_MAP",
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
    "translate",
]
