"""What the login may do on a host: root, sudo (with or without a password), neither; a shell or not.

Detected once per host before anything else, because it decides which evidence fix502 may collect
(the root evidence script, or only what the account itself can read) and which fixes it may make
(every fix, or only the WordPress-level ones the site owner can make in the account).  Nothing is
assumed from the inventory: ``ansible_become: true`` with a sudo that refuses is reported as such
and the run continues as the account, never as "root" that silently is not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from remediations.errors import CommandTimeout, Fix502Error
from remediations.transport import Runner

# One command as the login itself (no sudo): who we are, whether a shell ran at all, what sudo says.
# The marker proves a POSIX shell ran the command: an SFTP-only account (ForceCommand internal-sftp)
# runs the SFTP server instead and prints nothing of it.
MARKER = "fix502-shell-ok"
PROBE_SH = (
    f"echo {MARKER}; echo uid=$(id -u); echo user=$(id -un); echo home=$HOME; "
    "if command -v sudo >/dev/null 2>&1; then "
    "if sudo -n true >/dev/null 2>&1; then echo sudo=nopasswd; "
    'else echo "sudo=refused $(sudo -n true 2>&1 | head -n 1)"; fi; '
    "else echo sudo=absent; fi"
)


@dataclass
class Capability:
    login: str  # the user SSH logged in as
    home: str  # that user's $HOME (the account's journal and lock live there without root)
    shell: bool  # a POSIX shell runs our commands (False: SFTP-only, or the shell refuses)
    privilege: str  # "root" (root login) | "sudo" | "sudo-password" | "none"
    sudo: str  # what `sudo -n true` said as the login: nopasswd | refused ... | absent | n/a
    detail: str = ""  # why privilege is "none" when the inventory asked for become
    sftp: bool = False  # no shell, but the account's files are reachable over SFTP

    @property
    def root(self) -> bool:
        return self.privilege in ("root", "sudo", "sudo-password")

    def line(self) -> str:
        """One console line (the report carries the same as JSON)."""
        shell = "shell" if self.shell else "SFTP only" if self.sftp else "no shell (SFTP only?)"
        what = {
            "root": "root login",
            "sudo": "sudo without password",
            "sudo-password": "sudo with password",
            "none": "no root, no sudo",
        }[self.privilege]
        return f"access: {self.login}: {what}, {shell}" + (f" ({self.detail})" if self.detail else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "home": self.home,
            "shell": self.shell,
            "sftp": self.sftp,
            "privilege": self.privilege,
            "root": self.root,
            "sudo": self.sudo,
            "detail": self.detail,
        }


@contextlib.contextmanager
def as_login(t: Runner) -> Iterator[None]:
    """Commands inside run as the login itself: the transport wraps a command in sudo only when its
    host says ``become``, so that is switched off here and restored afterwards."""
    host = t.host
    t.host = dataclasses.replace(host, become=False)
    try:
        yield
    finally:
        t.host = host


def drop_become(t: Runner) -> None:
    """From now on every command runs as the login (sudo refused: do not try it on every command)."""
    t.host = dataclasses.replace(t.host, become=False)


def parse_probe(stdout: str, login_hint: str) -> Capability:
    """The login-level probe's output (pure, for tests)."""
    lines = stdout.split("\n")
    if MARKER not in (ln.strip() for ln in lines):
        return Capability(login_hint, "", False, "none", "n/a", "no shell ran the command")
    kv = {k: v for k, sep, v in (ln.partition("=") for ln in lines) if sep}
    login = kv.get("user", "").strip() or login_hint
    uid = kv.get("uid", "").strip()
    sudo = kv.get("sudo", "absent").strip()
    privilege = "root" if uid == "0" else "none"
    return Capability(login, kv.get("home", "").strip(), True, privilege, sudo)


def login_of(t: Runner, fallback: str) -> str:
    """The user SSH really logs in as (inventory, ssh config, or the controller's user for local)."""
    target = getattr(t, "target", None)
    if target is not None and getattr(target, "user", None):
        return str(target.user)
    return getpass.getuser() if t.host.connection == "local" else fallback


def detect(t: Runner, login_hint: str) -> Capability:
    """Ask the host (two commands at most): the login's own view, then — only when the inventory
    asks for become — whether sudo really makes us root.  A root login costs no command: the
    evidence script's round trips per host are what a fleet pays, and root needs no probing."""
    login = login_of(t, login_hint)
    if login == "root":
        return Capability("root", "", True, "root", "n/a", "")
    with as_login(t):
        try:
            out = t.run(PROBE_SH, stdin="", timeout=20)
        except CommandTimeout:
            return Capability(login, "", False, "none", "n/a", "the shell did not answer within 20 s")
    cap = parse_probe(out.stdout, login)
    if not cap.shell or cap.privilege == "root" or not t.host.become:
        return cap
    try:
        result = t.run("id -u", timeout=30)
    except Fix502Error as exc:
        cap.detail = f"become failed: {exc.message}"
        return cap
    if result.ok and result.stdout.strip() == "0":
        cap.privilege = "sudo" if cap.sudo == "nopasswd" else "sudo-password"
        return cap
    said = (result.stderr or result.stdout).strip().splitlines()
    cap.detail = "become failed: " + (said[-1][:200] if said else f"sudo exit {result.exit_status}")
    return cap
