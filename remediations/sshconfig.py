"""Where and as whom to connect, decided the way OpenSSH decides it.

Ansible runs ``ssh -o User=... -o Port=... -o IdentityFile=... [common/extra args] ADDRESS``: what
the inventory sets comes first on the command line, and ssh keeps the *first* value it obtains
for each option, then the user's ``~/.ssh/config`` (or ``-F FILE``, which replaces both files),
then ``/etc/ssh/ssh_config``.  Nothing set anywhere: the local user name and port 22.  The
config files are read with ``paramiko.SSHConfig`` (Host patterns, ``!`` negation, ``%h``
tokens, HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand, UserKnownHostsFile,
StrictHostKeyChecking).

Host keys: fix502 checks them strictly whatever a config file says; ``StrictHostKeyChecking
no``/``accept-new`` in a config file does not weaken that (the user opts in with
``--accept-new-hosts``, for every hop alike), and a changed key is always refused.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from remediations.errors import InputError

SYSTEM_CONFIG = Path("/etc/ssh/ssh_config")
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
_MAX_HOPS = 8


@dataclass(frozen=True)
class Target:
    """One ssh endpoint, fully resolved; ``jumps`` are the hops in connection order."""

    alias: str
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    jumps: tuple[Target, ...] = ()
    proxy_command: str | None = None
    known_hosts: tuple[str, ...] = field(default=DEFAULT_KNOWN_HOSTS)
    connect_timeout: float | None = None


class SSHConfigs:
    """The config files in ssh's order: ``-F FILE`` alone, else the user's then the system's."""

    def __init__(self, path: Path | None = None) -> None:
        self.explicit = path
        files = [path] if path is not None else [Path.home() / ".ssh" / "config", SYSTEM_CONFIG]
        self.configs = [_read(p, explicit=path is not None) for p in files]

    def lookup(self, name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for config in self.configs:
            if config is None:
                continue
            for key, value in config.lookup(name).items():
                if key == "identityfile":
                    merged.setdefault(key, [])
                    merged[key] = [*merged[key], *value]
                else:
                    merged.setdefault(key, value)
        return merged


def _expand_includes(text: str, base: Path, depth: int = 0) -> str:
    """``Include`` inlined (paramiko does not follow it): globs, relative to ~/.ssh or /etc/ssh."""
    if depth > 16:  # ssh's own limit
        raise InputError(f"ssh config Include nested more than 16 deep under {base}")
    out: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].lower() == "include":
            for pattern in words[1:]:
                expanded = Path(os.path.expanduser(pattern))
                full = expanded if expanded.is_absolute() else base / expanded
                for file in sorted(full.parent.glob(full.name)):
                    if file.is_file():
                        out.append(_expand_includes(file.read_text(encoding="utf-8"), base, depth + 1))
            continue
        out.append(line)
    return "\n".join(out)


def _read(path: Path, *, explicit: bool) -> paramiko.SSHConfig | None:
    base = Path("/etc/ssh") if path == SYSTEM_CONFIG else Path.home() / ".ssh"
    try:
        text = _expand_includes(path.read_text(encoding="utf-8"), base)
    except FileNotFoundError:
        if explicit:
            raise InputError(f"--ssh-config {path}: no such file") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ssh config: {exc}") from None
    try:
        return paramiko.SSHConfig.from_text(text)
    except Exception as exc:  # paramiko raises ConfigParseError and plain exceptions for bad lines
        raise InputError(f"{path}: bad ssh config: {' '.join(str(exc).split())}") from None


def _port(value: Any, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: port {value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise InputError(f"{where}: port {port} is out of range 1..65535")
    return port


def _hop_spec(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` of a ProxyJump entry (``ssh://`` URIs too)."""
    spec = spec.removeprefix("ssh://")
    user, _, rest = spec.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":") or None
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    return user or None, host, _port(port, f"ProxyJump {spec!r}") if port else None


def resolve(
    alias: str,
    configs: SSHConfigs,
    *,
    user: str | None = None,
    port: int | None = None,
    key_file: str | None = None,
    options: Mapping[str, str] | None = None,
    depth: int = 0,
) -> Target:
    """ssh's view of ``alias``: explicit values first, then the config files, then defaults."""
    if depth > _MAX_HOPS:
        raise InputError(f"ProxyJump chain for {alias} is longer than {_MAX_HOPS} hops (a loop?)")
    given = dict(options or {})
    found = configs.lookup(alias)

    def pick(key: str) -> Any:
        return given.get(key) if given.get(key) is not None else found.get(key)

    keys = [k for k in (key_file, given.get("identityfile")) if k] + list(found.get("identityfile", []))
    jump = pick("proxyjump")
    jumps: tuple[Target, ...] = ()
    if jump and jump.lower() != "none":
        jumps = tuple(_hop(spec.strip(), configs, depth) for spec in jump.split(","))
    command = pick("proxycommand")
    known = pick("userknownhostsfile")
    timeout = pick("connecttimeout")
    return Target(
        alias=alias,
        hostname=str(pick("hostname") or alias),
        port=port or _port(pick("port") or 22, f"ssh config for {alias}"),
        user=user or str(pick("user") or getpass.getuser()),
        key_files=tuple(dict.fromkeys(os.path.expanduser(k) for k in keys)),
        jumps=jumps,
        proxy_command=None if jumps or not command or command.lower() == "none" else str(command),
        known_hosts=tuple(str(known).split()) if known else DEFAULT_KNOWN_HOSTS,
        connect_timeout=float(timeout) if timeout else None,
    )


def _hop(spec: str, configs: SSHConfigs, depth: int) -> Target:
    user, host, port = _hop_spec(spec)
    if not host or host.startswith("-"):
        raise InputError(f"ProxyJump {spec!r}: not a host")
    return resolve(host, configs, user=user, port=port, depth=depth + 1)
