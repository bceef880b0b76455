"""Where a host's journals and lock are, for the login a connection has — one answer for every
caller that undoes a run outside the run itself (``fix502 rollback``, a distributed re-attempt):

- root (a root login, or sudo that works): ``/var/backups/fix502`` and ``/run/fix502.lock``;
- the site's account with a shell: ``~/.fix502/backups`` and ``~/.fix502/lock``, through its shell;
- the account with SFTP only: the same paths, through SFTP (:mod:`remediations.sftp_journal`).

A run made as the account is therefore found and undone as the account, never looked for in
root's directory (where it is not) — the mistake each caller used to be able to make on its own.
"""

from __future__ import annotations

import json
from typing import Any

from remediations import account, journal, sftp_journal
from remediations.capability import detect, drop_become
from remediations.inventory import Host
from remediations.remote import LOCK_DIR, release_lock, take_lock
from remediations.sftp_remote import SftpAccount
from remediations.transport import Runner, q


class HostJournals:
    """The journals of one host as this connection's login sees them."""

    def __init__(self, t: Runner, host: Host) -> None:
        self.t = t
        self.sftp: SftpAccount | None = None
        self.root: str | None = None  # None: root's BACKUP_ROOT
        self.lock_dir: str | None = None  # None: root's LOCK_DIR
        cap = detect(t, host.user or "")
        if not cap.shell and hasattr(t, "sftp"):
            self.sftp = SftpAccount.open(t, host, cap.login, write=True)
            self.root = self.sftp.root
        elif not cap.root and cap.shell and cap.home.startswith("/"):
            drop_become(t)
            self.root, self.lock_dir = account.backup_root(cap.home), account.lock_dir(cap.home)

    def lock(self, run_id: str, *, break_lock: bool) -> None:
        if self.sftp is not None:
            self.sftp.lock(run_id, break_lock=break_lock)
        else:
            take_lock(self.t, run_id, break_lock=break_lock, lock_dir=self.lock_dir)

    def unlock(self, run_id: str) -> None:
        if self.sftp is not None:
            self.sftp.unlock(run_id)
        else:
            release_lock(self.t, run_id, self.lock_dir)

    def lock_owner(self) -> dict[str, Any]:
        """Who holds the host lock now ({} when no one, or unreadable)."""
        if self.sftp is not None:
            return self.sftp.lock_owner()
        path = (self.lock_dir or LOCK_DIR) + "/owner"
        data = self.t.run(f"cat {q(path)} 2>/dev/null; true").stdout.strip()
        try:
            owner = json.loads(data) if data else {}
        except ValueError:
            return {}
        return owner if isinstance(owner, dict) else {}

    def runs(self) -> list[str]:
        if self.sftp is not None:
            return sftp_journal.list_runs(self.sftp.files, self.sftp.root)
        return journal.list_runs(self.t, root=self.root)

    def undo(self, run_id: str, fix_id: str | None = None) -> list[str]:
        if self.sftp is not None:
            return self.sftp.journal(run_id).undo(fix_id)
        return journal.undo_run(self.t, run_id, fix_id=fix_id, root=self.root)

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.close()
