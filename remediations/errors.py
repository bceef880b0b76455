"""One exception family for everything fix502 reports to a user.

Library errors (paramiko, socket, invoke, ruamel) are translated into these once, at the seam
where they occur (transport, loaders), so the CLI can print one line and pick an exit code
without knowing which library failed.
"""

from __future__ import annotations


class Fix502Error(Exception):
    """Base of every error fix502 shows as a single line."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

    def one_line(self) -> str:
        text = str(self)
        return " ".join(text.split())


# --- bad input: exit 2 -------------------------------------------------------------------------
class InputError(Fix502Error):
    """Something the user gave us (file, option, pattern) is wrong; nothing was touched."""

    exit_code = 2


class InventoryError(InputError):
    pass


class PlaybookError(InputError):
    """Carries every problem found in a playbook, each already prefixed with file:line:col."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def one_line(self) -> str:  # several problems → several lines, each one line
        return "\n".join(" ".join(p.split()) for p in self.problems)


class OptionError(InputError):
    pass


# --- talking to hosts: exit 3 ------------------------------------------------------------------
class TransportError(Fix502Error):
    """The host could not be reached or would not let us in."""

    exit_code = 3
    kind = "transport"


class Unreachable(TransportError):
    kind = "unreachable"


class AuthFailed(TransportError):
    kind = "auth-failed"


class HostKeyError(TransportError):
    kind = "host-key"


class CommandTimeout(Fix502Error):
    """A command ran past its timeout on a host that *was* reached: not "unreachable".

    Deliberately not a TransportError (which callers read as "never got in"): the connection
    worked, the host may have been changed, so the run treats it as a failed step."""

    exit_code = 1
    kind = "timeout"


class CommandFailed(Fix502Error):
    """A remote command exited non-zero where success was required."""

    kind = "command-failed"

    def __init__(
        self, message: str, *, where: str | None = None, exit_status: int | None = None, stderr: str = ""
    ) -> None:
        super().__init__(message, where=where)
        self.exit_status = exit_status
        self.stderr = stderr


# --- run-time safety -------------------------------------------------------------------------
class LockHeld(Fix502Error):
    kind = "locked"


class BackupFailed(Fix502Error):
    kind = "backup-failed"
