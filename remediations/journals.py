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

from remediations import account, journal, sftp_journal, sftp_remote
from remediations.capability import detect, drop_become
from remediations.facts.sftp import Seen
from remediations.inventory import Host
from remediations.remote import LOCK_DIR, release_lock, take_lock
from remediations.sftpfs import Files
from remediations.transport import Runner, q


class HostJournals:
    """The journals of one host as this connection's login sees them."""

    def __init__(self, t: Runner, host: Host) -> None:
        self.t = t
        self.files: Files | None = None
        self.seen: Seen | None = None
        self.root: str | None = None  # None: root's BACKUP_ROOT
        self.lock_dir: str | None = None  # None: root's LOCK_DIR
        cap = detect(t, host.user or "")
        opener = getattr(t, "sftp", None)
        if not cap.shell and opener is not None:
            self.files = Files(opener(), host.name)
            self.seen = sftp_remote.open_account(self.files, cap.login, write=True)
            self.root = account.backup_root(self.seen.home)
        elif not cap.root and cap.shell and cap.home.startswith("/"):
            drop_become(t)
            self.root, self.lock_dir = account.backup_root(cap.home), account.lock_dir(cap.home)
        self.how = "over SFTP" if self.files else "as the account" if self.root else "as root"

    def lock(self, run_id: str, *, break_lock: bool) -> None:
        if self.files is not None and self.seen is not None:
            sftp_remote.take_lock(self.files, self.seen, run_id, break_lock=break_lock)
        else:
            take_lock(self.t, run_id, break_lock=break_lock, lock_dir=self.lock_dir)

    def unlock(self, run_id: str) -> None:
        if self.files is not None and self.seen is not None:
            sftp_remote.release_lock(self.files, self.seen, run_id)
        else:
            release_lock(self.t, run_id, self.lock_dir)

    def lock_owner(self) -> dict[str, Any]:
        """Who holds the host lock now ({} when no one, or unreadable)."""
        if self.files is not None and self.seen is not None:
            data = self.files.read(account.lock_dir(self.seen.home) + "/owner", 4096) or b""
        else:
            path = (self.lock_dir or LOCK_DIR) + "/owner"
            data = self.t.run(f"cat {q(path)} 2>/dev/null; true").stdout.strip().encode()
        try:
            owner = json.loads(data) if data else {}
        except ValueError:
            return {}
        return owner if isinstance(owner, dict) else {}

    def runs(self) -> list[str]:
        if self.files is not None and self.root:
            return sftp_journal.list_runs(self.files, self.root)
        return journal.list_runs(self.t, root=self.root)

    def undo(self, run_id: str, fix_id: str | None = None) -> list[str]:
        if self.files is not None and self.seen is not None and self.root:
            return sftp_journal.undo_run(self.files, run_id, fix_id=fix_id, root=self.root, uid=self.seen.uid)
        return journal.undo_run(self.t, run_id, fix_id=fix_id, root=self.root)

    def close(self) -> None:
        if self.files is not None:
            self.files.close()
