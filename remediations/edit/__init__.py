"""Surgical editors for nginx, PHP-FPM ini and Apache config text.

Every editor here is a pure function from file text to file text. A fix reads a file, calls one
of these and hands ``before``/``after`` to :class:`remediations.plan.WriteFile`; the diff the
user sees in ``--dry-run`` is then exactly the line(s) we meant to touch, and comments, layout
and the admin's other changes survive. When we cannot be sure which line is meant we refuse
(:class:`EditError`) instead of guessing: a wrong edit on a production web server is worse than
an escalation.

This module also holds the one place that turns a PHP-FPM ``listen`` value into the address a
web server must connect to, so nginx and Apache fixes agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "EditError",
    "Endpoint",
    "endpoint_from_fastcgi_pass",
    "endpoint_from_listen",
    "nginx_fastcgi_pass",
]


class EditError(ValueError):
    """The edit cannot be made safely: the target is missing, ambiguous, or the text does not parse.

    A ``ValueError`` (not a :class:`~remediations.errors.Fix502Error`) because it is a programming
    or planning problem of the calling fix, which decides whether to escalate.
    """


EndpointKind = Literal["unix", "tcp"]


@dataclass(frozen=True)
class Endpoint:
    """Where a client connects to reach a PHP-FPM pool.

    ``kind``/``address`` mirror :class:`remediations.facts.model.FastcgiTarget`: ``address`` is
    the socket path for ``unix`` and ``host:port`` (IPv6 hosts bracketed) for ``tcp``.
    """

    kind: EndpointKind
    address: str

    @property
    def nginx(self) -> str:
        """The ``fastcgi_pass`` argument: nginx needs the ``unix:`` prefix for sockets."""
        return f"unix:{self.address}" if self.kind == "unix" else self.address


_PORT = re.compile(r"[0-9]{1,5}")
# FPM binds every address for these; a client must pick a concrete one on the same host.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "[::]": "[::1]"}


def _checked_port(port: str, original: str) -> int:
    if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise EditError(f"bad port in {original!r}")
    return int(port)


def endpoint_from_listen(listen: str) -> Endpoint:
    """Turn a pool's ``listen`` value into the address a web server on the same host dials.

    Follows FPM's own reading (fpm_sockets.c): a bare number is a port on all addresses, anything
    with ``:`` is ``host:port`` (IPv6 in brackets), anything else is a socket path.
    """
    value = listen.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    if not value:
        raise EditError("empty listen value")
    if _PORT.fullmatch(value):
        return Endpoint("tcp", f"127.0.0.1:{_checked_port(value, listen)}")
    if value.startswith("["):
        close = value.find("]:")
        if close < 0:
            raise EditError(f"IPv6 listen value without ']:port': {listen!r}")
        host = value[: close + 1]
        port = _checked_port(value[close + 2 :], listen)
        return Endpoint("tcp", f"{_WILDCARD_HOSTS.get(host, host)}:{port}")
    if ":" in value:
        host, _, port_text = value.rpartition(":")
        if ":" in host:
            raise EditError(f"IPv6 listen address must be bracketed: {listen!r}")
        port = _checked_port(port_text, listen)
        return Endpoint("tcp", f"{_WILDCARD_HOSTS.get(host, host)}:{port}")
    if not value.startswith("/"):
        raise EditError(f"relative socket path {listen!r}: depends on FPM's prefix, give an absolute path")
    return Endpoint("unix", value)


def nginx_fastcgi_pass(listen: str) -> str:
    """The ``fastcgi_pass`` argument that reaches a pool listening on ``listen``."""
    return endpoint_from_listen(listen).nginx


def endpoint_from_fastcgi_pass(arg: str) -> Endpoint | None:
    """Read a ``fastcgi_pass`` argument back; ``None`` for upstream names and variables.

    nginx treats ``host`` without a port as an upstream name (or port 80), so only arguments we
    can compare with an FPM ``listen`` give an :class:`Endpoint`.
    """
    if arg.startswith("unix:"):
        path = arg[len("unix:") :]
        return Endpoint("unix", path) if path.startswith("/") else None
    if "$" in arg:
        return None
    if arg.startswith("["):
        close = arg.find("]:")
        if close < 0 or not _PORT.fullmatch(arg[close + 2 :]):
            return None
        return Endpoint("tcp", arg)
    host, sep, port = arg.rpartition(":")
    if not sep or not host or ":" in host or not _PORT.fullmatch(port):
        return None
    return Endpoint("tcp", arg)
