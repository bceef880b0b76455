"""Capability detection: what the login may do, from what the host really answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from remediations.capability import MARKER, detect, parse_probe
from remediations.inventory import Host
from remediations.transport import CmdResult

OWNER = f"{MARKER}\nuid=33\nuser=www-data\nhome=/var/www\nsudo=refused sudo: a password is required\n"


@dataclass
class Scripted:
    """A transport that answers each command from a script and records whether sudo was asked for."""

    host: Host
    answers: list[CmdResult]
    seen: list[tuple[str, bool]] = field(default_factory=list)
    connections_opened: int = 0
    round_trips: int = 0

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        self.seen.append((command, self.host.become))
        return self.answers.pop(0)

    def close(self) -> None:
        return None


def test_the_site_owner_without_sudo_is_none_with_a_shell() -> None:
    cap = parse_probe(OWNER, "www-data")
    assert (cap.login, cap.home, cap.shell, cap.privilege, cap.root) == ("www-data", "/var/www", True, "none", False)
    assert cap.sudo.startswith("refused")
    assert cap.line() == "access: www-data: no root, no sudo, shell"


def test_no_marker_means_no_shell_ran_the_command() -> None:
    # what ForceCommand internal-sftp gives an exec request: the SFTP server, not our command
    cap = parse_probe("", "site")
    assert not cap.shell and cap.privilege == "none" and "no shell" in cap.line()


def test_a_root_login_is_root_without_a_command() -> None:
    # a fleet pays every round trip on every host: root needs no probing
    t = Scripted(Host("h", "127.0.0.1", user="root"), [])
    cap = detect(t, "root")
    assert cap.privilege == "root" and cap.root and t.seen == []


def test_uid_0_under_another_name_is_root() -> None:
    t = Scripted(Host("h", "127.0.0.1", user="toor"), [CmdResult(0, f"{MARKER}\nuid=0\nuser=toor\nhome=/root\n", "")])
    assert detect(t, "toor").privilege == "root" and len(t.seen) == 1


def test_become_is_checked_not_assumed_and_a_refusal_is_reported() -> None:
    host = Host("h", "127.0.0.1", user="deploy", become=True)
    refused = CmdResult(1, "", "sudo: a password is required\n")
    t = Scripted(host, [CmdResult(0, OWNER.replace("www-data", "deploy"), ""), refused])
    cap = detect(t, "deploy")
    assert [b for _, b in t.seen] == [False, True]  # the login's own view first, then through sudo
    assert t.host.become  # restored after the login-level probe
    assert cap.privilege == "none" and cap.detail == "become failed: sudo: a password is required"


def test_working_sudo_is_named_with_or_without_password() -> None:
    host = Host("h", "127.0.0.1", user="deploy", become=True)
    nopw = OWNER.replace("sudo=refused sudo: a password is required", "sudo=nopasswd")
    t = Scripted(host, [CmdResult(0, nopw, ""), CmdResult(0, "0\n", "")])
    assert detect(t, "deploy").privilege == "sudo"
    t = Scripted(host, [CmdResult(0, OWNER, ""), CmdResult(0, "0\n", "")])
    assert detect(t, "deploy").privilege == "sudo-password"
