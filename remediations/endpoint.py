"""Where PHP requests go: the one model of a FastCGI endpoint.

Three writers name the same place in three syntaxes — PHP-FPM's ``listen``, nginx's
``fastcgi_pass`` and Apache's ``SetHandler``/``ProxyPassMatch`` handler URL — and a 502 is very
often two of them disagreeing.  Facts, diagnosis and fixes all read them through this module, so
"does the pool accept what the web server dials?" has exactly one answer.

``address`` is the socket path for ``unix`` and ``host:port`` for ``tcp`` (IPv6 hosts bracketed).
A pool's endpoint may bind a wildcard host (``*:9000`` for FPM's bare ``listen = 9000``);
:meth:`Endpoint.dial` is then what a client on the same host connects to.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Endpoint", "EndpointError", "EndpointKind"]

EndpointKind = Literal["unix", "tcp"]

_PORT = re.compile(r"[0-9]{1,5}")
# Hosts that FPM binds as "every address", and the concrete address a local client dials instead.
_WILDCARDS = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}
# Names of the host itself: nginx and Apache resolve ``localhost`` to the loopback address.
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})
_FCGI_DEFAULT_PORT = 8000  # mod_proxy_fcgi's port when fcgi://host has none (DEFAULT_FCGI_PORT)
_APACHE_HANDLER = re.compile(
    r"(?:proxy:)?(?:unix:(?P<path>[^|]*)\|fcgi://[^/]*|fcgi://(?P<host>\[[^\]]*\]|[^/:\[]*)(?::(?P<port>[0-9]+))?)",
    re.IGNORECASE,
)


class EndpointError(ValueError):
    """A value that names no endpoint we can be sure of (bad port, relative socket, ...)."""


def _port(text: str, original: str) -> int:
    if not _PORT.fullmatch(text) or not 0 < int(text) < 65536:
        raise EndpointError(f"bad port in {original!r}")
    return int(text)


def _split_hostport(value: str, original: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` → (host as written, bracketed for IPv6; port)."""
    if value.startswith("["):
        close = value.find("]:")
        if close < 0:
            raise EndpointError(f"IPv6 address without ']:port': {original!r}")
        return value[: close + 1], _port(value[close + 2 :], original)
    host, sep, port = value.rpartition(":")
    if not sep:
        raise EndpointError(f"no port in {original!r}")
    if ":" in host:
        raise EndpointError(f"IPv6 address must be bracketed: {original!r}")
    return host, _port(port, original)


def _same_socket(a: str, b: str) -> bool:
    """Debian and RHEL make /var/run a symlink to /run: both spellings name one socket."""

    def norm(p: str) -> str:
        p = posixpath.normpath(p)
        return "/run" + p[len("/var/run") :] if p == "/var/run" or p.startswith("/var/run/") else p

    return norm(a) == norm(b)


@dataclass(frozen=True)
class Endpoint:
    kind: EndpointKind
    address: str

    # -- readers, one per syntax ----------------------------------------------------------
    @classmethod
    def from_listen(cls, listen: str, prefix: str | None = None) -> Endpoint:
        """A pool's ``listen`` as FPM reads it (fpm_sockets.c): a bare number is a port on every
        address, ``host:port`` (IPv6 bracketed) a TCP socket, anything else a socket path —
        relative paths are relative to the pool's ``prefix``."""
        value = listen.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].strip()
        if not value:
            raise EndpointError("empty listen value")
        if _PORT.fullmatch(value):
            return cls("tcp", f"*:{_port(value, listen)}")
        if value.startswith("[") or (":" in value and not value.startswith("/")):
            host, port = _split_hostport(value, listen)
            return cls("tcp", f"{host or '*'}:{port}")
        if not value.startswith("/"):
            if not prefix:
                raise EndpointError(f"relative socket path {listen!r}: depends on FPM's prefix, which is unknown")
            value = posixpath.join(prefix, value)
        return cls("unix", posixpath.normpath(value))

    @classmethod
    def from_fastcgi_pass(cls, arg: str) -> Endpoint | None:
        """nginx's ``fastcgi_pass`` argument; ``None`` for upstream names and variables (the
        caller resolves those: an ``upstream`` block's ``server`` lines, or nothing certain)."""
        value = arg.strip()
        if value.startswith("unix:"):
            path = value[len("unix:") :]
            return cls("unix", posixpath.normpath(path)) if path.startswith("/") else None
        if "$" in value or not value:
            return None
        if _PORT.fullmatch(value):
            return cls("tcp", f"127.0.0.1:{_port(value, arg)}")
        try:
            host, port = _split_hostport(value, arg)
        except EndpointError:
            return None  # a bare name: nginx looks it up as an upstream
        return cls("tcp", f"{host}:{port}") if host else None

    @classmethod
    def from_upstream_server(cls, arg: str) -> Endpoint | None:
        """An ``upstream`` block's ``server`` address: like fastcgi_pass, but a name without a
        port is a host on port 80 (nginx's default for upstream servers)."""
        found = cls.from_fastcgi_pass(arg)
        if found is not None or "$" in arg or arg.startswith("unix:"):
            return found
        return cls("tcp", f"{arg.strip()}:80") if re.fullmatch(r"[A-Za-z0-9_.-]+", arg.strip()) else None

    @classmethod
    def from_apache_handler(cls, raw: str) -> Endpoint | None:
        """``proxy:unix:/p.sock|fcgi://name/...`` or ``fcgi://host[:port]/...`` (SetHandler,
        ProxyPass[Match]); ``None`` for anything that is not a FastCGI target."""
        m = _APACHE_HANDLER.match(raw.strip().strip("\"'"))
        if m is None:
            return None
        if m["path"] is not None:
            return cls("unix", posixpath.normpath(m["path"])) if m["path"].startswith("/") else None
        if not m["host"]:
            return None
        port = _port(m["port"], raw) if m["port"] else _FCGI_DEFAULT_PORT
        return cls("tcp", f"{m['host']}:{port}")

    # -- what it means ----------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "" if self.kind == "unix" else self.address.rpartition(":")[0]

    @property
    def port(self) -> int | None:
        return None if self.kind == "unix" else int(self.address.rpartition(":")[2])

    @property
    def by_name(self) -> bool:
        """A TCP target written with a host *name* (``wordpress:9000``, ``example.com_php:9000``:
        a container or another server), not an address and not ``localhost``.  fix502 cannot tell
        from the host it logged in to whether that name is this machine, so it never replaces one
        with a local pool."""
        if self.kind != "tcp":
            return False
        host = self.host.strip("[]")
        if host in ("localhost", "*") or host in _WILDCARDS:
            return False
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return True
        return False

    def dial(self) -> Endpoint:
        """What a client on the same host connects to (a wildcard bind becomes loopback)."""
        if self.kind == "tcp" and self.host in _WILDCARDS:
            return Endpoint("tcp", f"{_WILDCARDS[self.host]}:{self.port}")
        return self

    def accepts(self, client: Endpoint) -> bool:
        """Does something listening on ``self`` take a connection to ``client``?"""
        if self.kind != client.kind:
            return False
        if self.kind == "unix":
            return _same_socket(self.address, client.address)
        if self.port != client.port:
            return False
        mine, theirs = self.host, client.host
        return mine == theirs or mine in _WILDCARDS or (mine in _LOOPBACK and theirs in _LOOPBACK)

    @property
    def nginx(self) -> str:
        """The ``fastcgi_pass`` argument that reaches this endpoint."""
        dial = self.dial()
        return f"unix:{dial.address}" if dial.kind == "unix" else dial.address

    def __str__(self) -> str:
        return self.address
