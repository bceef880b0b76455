"""What :mod:`remediations.remote` asks a host, for a login that has SFTP only: the evidence, the
probe, the clock and the lock — each through SFTP requests or from the controller, never a command.

The lock is the shell lock's protocol on the same path (``~/.fix502/lock``, an atomic ``mkdir``
with an ``owner`` file), so a shell run and an SFTP run of the same account exclude each other.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from remediations import account
from remediations.causes import Diagnosis
from remediations.errors import CommandFailed, Fix502Error, LockHeld
from remediations.facts.model import HostFacts
from remediations.facts.sftp import Seen, collect_sftp
from remediations.fixes.base import Probe, ProbeResult
from remediations.httpprobe import run_probe
from remediations.inventory import Host
from remediations.remote import _dead_here, _held_message, site_url
from remediations.sftp_journal import SftpJournal
from remediations.sftpfs import Files


def origin(t: Any, host: Host) -> str:
    """The address SSH reached (after ssh_config's HostName): the site's origin for the probes."""
    target = getattr(t, "target", None)
    return str(getattr(target, "hostname", "") or host.address)


def open_account(f: Files, login: str, *, write: bool) -> Seen:
    """The login's home, and (``write``: a real run) its ``.fix502`` made and the host's clock and
    the login's uid read from a file made there.  A dry run writes nothing: the clock is the
    controller's and the uid the home's owner, both said in the notes."""
    home = f.home()
    state = account.state_dir(home)
    if write:
        got = f.lstat(state)
        if got is None:
            f.mkdir(state, 0o700)
        elif not got.is_dir:
            raise Fix502Error(f"{state} is not a directory: fix502's journal and lock cannot live there", where=f.where)
        e = f.clock(state)
        return Seen(home=home, now=e.mtime, uid=e.uid)
    owner = f.lstat(home.rstrip("/") or "/")
    notes = ["dry run over SFTP: the clock is the controller's, the login's uid is its home's owner"]
    return Seen(home=home, now=time.time(), uid=owner.uid if owner else -1, notes=notes)


def now(f: Files, seen: Seen) -> float:
    """The host's clock again (a fresh file's mtime), for the evidence window after a change."""
    return f.clock(account.state_dir(seen.home)).mtime


def collect(
    f: Files, seen: Seen, t: Any, host: Host, *, since: float | None, window: int
) -> tuple[HostFacts, Diagnosis]:
    url = site_url(host)
    hint = str(host.vars.get("wp_root") or "")
    seen.files.clear()
    facts = collect_sftp(f, seen, url, origin(t, host), seen_login(t, host), hint, since=since, window=window)
    seen.notes = [n for n in seen.notes if n.startswith("dry run")]
    return facts, account.classify_account(facts)


def seen_login(t: Any, host: Host) -> str:
    target = getattr(t, "target", None)
    return str(getattr(target, "user", "") or host.user or "")


def probe(t: Any, host: Host, seen: Seen, p: Probe) -> ProbeResult:
    return run_probe(site_url(host), seen.probe_via or origin(t, host), p)


# -- the lock ---------------------------------------------------------------------------------
def take_lock(f: Files, seen: Seen, run_id: str, *, break_lock: bool, stale_after: int = 3600) -> None:
    lock = account.lock_dir(seen.home)
    if break_lock:
        _remove_lock(f, lock)
    try:
        f.mkdir(lock, 0o700)
    except CommandFailed as exc:
        got = f.lstat(lock)
        if got is None or not got.is_dir:
            raise LockHeld(f"cannot take the host lock {lock}: {exc.message}", where=f.where) from None
        holder = _holder(f, lock)
        if not break_lock and _dead_here(holder):
            take_lock(f, seen, run_id, break_lock=True, stale_after=stale_after)
            return
        age = int(now(f, seen) - got.mtime)
        raise LockHeld(_held_message(holder, age, stale_after, lock), where=f.where) from None
    owner = {"run_id": run_id, "controller": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    f.create(f"{lock}/owner", json.dumps(owner).encode(), 0o600)


def _holder(f: Files, lock: str) -> dict[str, Any]:
    data = f.read(f"{lock}/owner", 4096)
    try:
        holder = json.loads(data or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _remove_lock(f: Files, lock: str) -> None:
    for e in f.listdir(lock) or []:
        f.remove(f"{lock}/{e.name}", missing_ok=True)
    f.rmdir(lock)


def release_lock(f: Files, seen: Seen, run_id: str) -> None:
    lock = account.lock_dir(seen.home)
    if _holder(f, lock).get("run_id") == run_id:
        _remove_lock(f, lock)


@dataclass
class SftpAccount:
    """One SFTP-only login on one host: its files and what its session learnt (home, uid, the
    host's clock) — what the engine holds instead of a shell for such a host."""

    files: Files
    seen: Seen

    @classmethod
    def open(cls, t: Any, host: Host, login: str, *, write: bool) -> SftpAccount:
        files = Files(t.sftp(), host.name)
        try:
            return cls(files, open_account(files, login, write=write))
        except Fix502Error:
            files.close()
            raise

    @property
    def root(self) -> str:
        """Where the account's journals are."""
        return account.backup_root(self.seen.home)

    def lock(self, run_id: str, *, break_lock: bool) -> None:
        take_lock(self.files, self.seen, run_id, break_lock=break_lock)

    def unlock(self, run_id: str) -> None:
        release_lock(self.files, self.seen, run_id)

    def lock_owner(self) -> dict[str, Any]:
        return _holder(self.files, account.lock_dir(self.seen.home))

    def now(self) -> float:
        return now(self.files, self.seen)

    def journal(self, run_id: str) -> SftpJournal:
        return SftpJournal(self.files, run_id, self.root, self.seen.uid)

    def collect(self, t: Any, host: Host, *, since: float | None, window: int) -> tuple[HostFacts, Diagnosis]:
        return collect(self.files, self.seen, t, host, since=since, window=window)

    def probe(self, t: Any, host: Host, p: Probe) -> ProbeResult:
        return probe(t, host, self.seen, p)

    def close(self) -> None:
        self.files.close()
