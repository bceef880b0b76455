"""Every inventory value that reaches ssh or a shell, vetted at load time.

Host names, users, addresses and key paths end up as ssh arguments, so anything that could be
read as an option (leading ``-``) or by a shell (metacharacters, newlines, NUL) is refused with
the file:line:col where the value was set.  ``site_url`` becomes a curl argument on the host, so
it must be a plain http(s) URL.

Which variable wins is ansible-core's rule for connection options: the plugin lists its
variables (ssh: ``ansible_user``, ``ansible_ssh_user``) and the *last* one that is set wins, so
``ansible_ssh_user`` beats ``ansible_user`` (``ConfigManager._loop_entries``).  Nothing set
means nothing: user and port are left to ssh (``~/.ssh/config``, then the local user / 22).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from remediations.yamlpos import yaml_repr

SHELL_META = frozenset(";&|$`<>()\\'\"*?[]{}!#~^")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
ADDRESS_RE = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9_.:%-]*")
TRUE = frozenset({"yes", "on", "1", "true", "y", "t"})
FALSE = frozenset({"no", "off", "0", "false", "n", "f", ""})

# Ansible's variable lists per option, in plugin order (last set wins).
HOST_VARS = ("ansible_host", "ansible_ssh_host")
PORT_VARS = ("ansible_port", "ansible_ssh_port")
USER_VARS = ("ansible_user", "ansible_ssh_user")
KEY_VARS = ("ansible_private_key_file", "ansible_ssh_private_key_file")
BECOME_PASS_VARS = ("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")

SECRET_VARS: frozenset[str] = frozenset(
    {*BECOME_PASS_VARS, "ansible_password", "ansible_ssh_pass", "ansible_ssh_password"}
)


def path_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "is empty"
    if "\n" in value or "\r" in value:
        return "contains a newline"
    if "\x00" in value:
        return "contains a NUL byte"
    if value.startswith("-"):
        return "starts with '-' (would be read as an ssh option)"
    return None


def token_problem(value: Any, allowed: re.Pattern[str]) -> str | None:
    """Why ``value`` may not become an ssh argument, or None."""
    problem = path_problem(value)
    if problem is not None:
        return problem
    if allowed.fullmatch(value):
        return None
    meta = next((c for c in value if c in SHELL_META), None)
    if meta is not None:
        return f"contains shell metacharacter {meta!r}"
    if any(c.isspace() for c in value):
        return "contains whitespace"
    odd = next((c for c in value if not allowed.fullmatch("a" + c)), None)
    if odd is not None:
        return f"contains disallowed character {odd!r}"
    return "is not allowed"


def url_problem(value: Any) -> str | None:
    """Why ``value`` is not a URL fix502 may hand to curl on the host, or None."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if value.startswith("-"):
        return "starts with '-' (would be read as a curl option)"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains whitespace or a control character"
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host name"
    if port is not None and not 1 <= port <= 65535:
        return f"port {port} is out of range 1..65535"
    if port == 0:
        return "port 0 is out of range 1..65535"
    return None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
    return None


def last_set(values: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any] | None:
    """The last of ``names`` whose value is not null (ansible-core's ``_loop_entries``)."""
    found: tuple[str, Any] | None = None
    for name in names:
        if values.get(name) is not None:
            found = (name, values[name])
    return found


Bad = Callable[[str, str], None]  # (variable, message)


def address(name: str, values: Mapping[str, Any], bad: Bad) -> str:
    found = last_set(values, HOST_VARS)
    if not found:
        return name
    key, value = found
    problem = token_problem(value, ADDRESS_RE)
    if problem:
        bad(key, f"{value!r} {problem}")
        return name
    return str(value)


def port(values: Mapping[str, Any], bad: Bad) -> int | None:
    found = last_set(values, PORT_VARS)
    if not found:
        return None
    key, value = found
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        bad(key, f"{yaml_repr(found[1])} must be an integer port")
        return None
    if not 1 <= value <= 65535:
        bad(key, f"{value} is out of range 1..65535")
        return None
    return value


def user(values: Mapping[str, Any], bad: Bad) -> str | None:
    found = last_set(values, USER_VARS)
    if not found:
        return None
    key, value = found
    problem = token_problem(value, USER_RE)
    if problem:
        bad(key, f"{value!r} {problem}")
        return None
    return str(value)


def key_file(values: Mapping[str, Any], bad: Bad) -> str | None:
    found = last_set(values, KEY_VARS)
    if not found:
        return None
    key, value = found
    problem = path_problem(value)
    if problem:
        bad(key, f"{value!r} {problem}")
        return None
    return os.path.expanduser(str(value))


def become(values: Mapping[str, Any], bad: Bad) -> bool:
    value = values.get("ansible_become")
    if value is None:
        return False
    flag = boolean(value)
    if flag is None:
        bad("ansible_become", f"{yaml_repr(value)} is not a boolean")
        return False
    return flag


def become_user(values: Mapping[str, Any], bad: Bad) -> str:
    value = values.get("ansible_become_user")
    if value is None or value == "root":
        return "root"
    bad("ansible_become_user", f"{value!r} is not supported: fix502 becomes root or nobody")
    return "root"


def become_password(values: Mapping[str, Any], bad: Bad) -> str | None:
    found = last_set(values, BECOME_PASS_VARS)
    if not found:
        return None
    key, value = found
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        bad(key, "must be a string")
        return None
    if "\n" in value or "\r" in value or "\x00" in value:
        bad(key, "contains a newline or NUL byte")  # never echo the secret itself
        return None
    return value


def connection(values: Mapping[str, Any], bad: Bad) -> str:
    value = values.get("ansible_connection")
    if value is None or value in ("ssh", "paramiko", "smart"):
        return "ssh"
    if value == "local":
        return "local"
    bad("ansible_connection", f"{value!r} is not supported (use ssh or local)")
    return "ssh"


def site_url(values: Mapping[str, Any], bad: Bad) -> None:
    value = values.get("site_url")
    if value is None:
        return
    problem = url_problem(value)
    if problem:
        bad("site_url", f"{value!r} {problem}")


MAX_SITES = 50


def sites(values: Mapping[str, Any], bad: Bad) -> None:
    """``sites: [url, ...]``: several WordPress sites on one host, each diagnosed (and fixed) through
    its own server block, reported per site.  Each URL is vetted like ``site_url``; the list is
    bounded because every site costs an evidence round trip under the host's lock."""
    value = values.get("sites")
    if value is None:
        return
    if not isinstance(value, list) or not value:
        bad("sites", f"must be a non-empty list of URLs, not {type(value).__name__}")
        return
    if len(value) > MAX_SITES:
        bad("sites", f"lists {len(value)} sites; at most {MAX_SITES} per host")
        return
    for i, url in enumerate(value):
        problem = url_problem(url)
        if problem:
            bad("sites", f"item {i + 1} {url!r} {problem}")
            return
    if len(set(value)) != len(value):
        bad("sites", "lists the same URL twice")
