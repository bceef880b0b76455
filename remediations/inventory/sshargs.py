"""``ansible_ssh_common_args`` / ``ansible_ssh_extra_args``: the ``-o Key=Value`` and ``-J`` parts.

Ansible appends these to its ssh command line; ssh keeps the *first* value it sees for an
option, common args before extra args.  fix502 does not run the ssh binary, so it honours the
options its transport implements and refuses any other one by name (silently ignoring
``-o ProxyJump=...`` would connect straight to the target instead).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import Any

SUPPORTED = frozenset(
    {
        "proxyjump",
        "proxycommand",
        "user",
        "port",
        "identityfile",
        "stricthostkeychecking",
        "userknownhostsfile",
        "connecttimeout",
        "hostname",
        "identitiesonly",
    }
)
ARG_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")


def _pairs(text: str) -> list[tuple[str, str]]:
    """-o/-J options in order; ValueError for anything else."""
    tokens = shlex.split(text)
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("-o", "-J"):
            if i + 1 >= len(tokens):
                raise ValueError(f"{token} needs a value")
            value, i = tokens[i + 1], i + 2
        elif token.startswith(("-o", "-J")) and len(token) > 2:
            value, i = token[2:], i + 1
        else:
            raise ValueError(f"{token!r} is not supported (only -o Key=Value and -J)")
        if token.startswith("-J"):
            out.append(("proxyjump", value))
            continue
        key, sep, val = value.partition("=")
        if not sep:
            key, _, val = value.partition(" ")
        out.append((key.strip().lower(), val.strip()))
    return out


def ssh_options(values: Mapping[str, Any], bad: Callable[[str, str], None]) -> tuple[tuple[str, str], ...]:
    seen: dict[str, str] = {}
    for var in ARG_VARS:
        text = values.get(var)
        if text is None or text == "":
            continue
        if not isinstance(text, str) or "\n" in text or "\x00" in text:
            bad(var, "must be one line of ssh options")
            continue
        try:
            pairs = _pairs(text)
        except ValueError as exc:
            bad(var, str(exc))
            continue
        for key, value in pairs:
            if key not in SUPPORTED:
                bad(var, f"ssh option {key!r} is not supported by fix502's transport")
            elif not value:
                bad(var, f"ssh option {key!r} has no value")
            else:
                seen.setdefault(key, value)
    return tuple(seen.items())
