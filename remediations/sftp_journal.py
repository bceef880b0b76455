"""The journal for an account without a shell: the same records, backups and undo as
:mod:`remediations.journal`, made through SFTP instead of one shell script per change.

Same layout in the account (``~/.fix502/backups/RUN_ID/journal.jsonl``, ``files/N`` and
``files/N.meta``), so a run journaled over SFTP reads like any other and ``fix502 rollback``
undoes it.  The order is the shell journal's: backup, then the record, then the change; a
failure before the record leaves the target untouched.

What differs, because nothing can be run:
- a file is replaced by writing a fresh name beside it (O_EXCL, its mode set first), reading it
  back, then ``posix-rename`` over the target: never a half-written wp-config.php;
- a file owned by someone else is refused (SFTP cannot chown; its owner could not be kept), and so
  is a link at any name we write (the account owns these files: nothing here follows one);
- services and commands are refused: they need a shell (and none of the WordPress-level fixes
  the account may make uses them).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from typing import Any

from remediations.errors import BackupFailed, CommandFailed, Fix502Error
from remediations.journal import Applied, pending
from remediations.plan import CreateFile, DeleteFile, MakeDir, Op, RemoveStale, Rename, WriteFile
from remediations.sftpfs import Entry, Files


def _mode(text: str) -> int:
    if len(text) != 3 or any(c not in "01234567" for c in text):
        raise Fix502Error(f"mode {text} not supported")
    return int(text, 8)


class SftpJournal:
    """Applies plan ops on one host through SFTP, journaling each first (``Journal``'s interface)."""

    def __init__(self, files: Files, run_id: str, root: str, uid: int) -> None:
        self.f = files
        self.run_id = run_id
        self.root = root
        self.dir = f"{root}/{run_id}"
        self.uid = uid  # the login's: the only owner whose files may be replaced
        self.seq = 0
        self._ready = False

    # -- recording ----------------------------------------------------------------------------
    def _prepare(self) -> None:
        if self._ready:
            return
        try:
            for d in [*_parents(self.root), self.dir, self.dir + "/files"]:
                got = self.f.lstat(d)
                if got is None:
                    self.f.mkdir(d, 0o700)
                elif not got.is_dir:
                    raise BackupFailed(f"{d} is not a directory; nothing changed", where=self.f.where)
            for d in (self.root, self.dir, self.dir + "/files"):
                self.f.chmod(d, 0o700)
            if self.f.lstat(self._j) is None:
                self.f.create(self._j, b"", 0o600)
        except CommandFailed as exc:
            raise BackupFailed(
                f"cannot start the journal in {self.dir}: {exc.message}; nothing changed", where=self.f.where
            ) from None
        self._ready = True

    @property
    def _j(self) -> str:
        return self.dir + "/journal.jsonl"

    def _record(self, rec: dict[str, Any]) -> None:
        self._prepare()
        self.seq += 1
        line = json.dumps({"seq": self.seq, "time": time.time(), **rec}, sort_keys=True) + "\n"
        try:
            self.f.append(self._j, line.encode())
        except CommandFailed as exc:
            raise BackupFailed(
                f"cannot write the journal {self._j}: {exc.message}; nothing changed", where=self.f.where
            ) from None

    def begin(self, playbook: str, controller: str) -> None:
        self._record({"op": "begin", "run_id": self.run_id, "playbook": playbook, "controller": controller})

    def mark(self, what: str, **fields: Any) -> None:
        self._record({"op": "mark", "what": what, **fields})

    # -- applying -----------------------------------------------------------------------------
    def apply(self, op: Op, fix_id: str) -> Applied:
        if isinstance(op, WriteFile):
            self._write(op, fix_id)
        elif isinstance(op, CreateFile):
            self._create(op, fix_id)
        elif isinstance(op, DeleteFile):
            self._delete(op, fix_id)
        elif isinstance(op, Rename):
            self._rename(op, fix_id)
        elif isinstance(op, MakeDir):
            self._mkdir(op, fix_id)
        elif isinstance(op, RemoveStale):
            self._remove(op, fix_id)
        else:
            raise Fix502Error(f"{op.describe()}: needs a shell, and this login has only SFTP", where=self.f.where)
        return Applied(op, True)

    def _need(self, path: str) -> Entry:
        got = self.f.lstat(path)
        if got is None:
            raise CommandFailed(f"{path} does not exist", where=self.f.where)
        return got

    def _rename(self, op: Rename, fix_id: str) -> None:
        self._need(op.src)
        if self.f.lstat(op.dst) is not None:
            raise CommandFailed(f"{op.dst} already exists", where=self.f.where)
        self._record({"op": "rename", "fix": fix_id, "src": op.src, "dst": op.dst})
        self.f.rename(op.src, op.dst)

    def _mkdir(self, op: MakeDir, fix_id: str) -> None:
        like = self.f.stat(op.like)
        mode = like.perm if like is not None and like.is_dir else 0o755
        self._record({"op": "mkdir", "fix": fix_id, "path": op.path})
        self.f.mkdir(op.path, mode)
        self._check_dir(op.path)

    def _check_dir(self, path: str) -> None:
        got = self.f.lstat(path)
        if got is None or not got.is_dir:
            raise CommandFailed(f"{path} changed under us", where=self.f.where)

    def _backup(self, path: str, n: int, original: bytes, entry: Entry) -> str:
        name = f"files/{n}"
        try:
            self.f.create(f"{self.dir}/{name}", original, 0o600)
            self.f.create(f"{self.dir}/{name}.meta", f"{entry.perm:o} {entry.uid} {entry.gid}\n".encode(), 0o600)
        except CommandFailed as exc:
            raise BackupFailed(
                f"cannot back up {path} to {self.dir}: {exc.message}; nothing changed", where=self.f.where
            ) from None
        return name

    def _owned_file(self, path: str) -> Entry:
        got = self._need(path)
        if got.is_link:
            raise Fix502Error(f"{path} is a link: not followed over SFTP; nothing changed", where=self.f.where)
        if not got.is_file:
            raise Fix502Error(f"{path} is not a regular file; nothing changed", where=self.f.where)
        if got.uid != self.uid:
            raise Fix502Error(
                f"{path} belongs to uid {got.uid}, not this login: SFTP could not keep its owner; nothing changed",
                where=self.f.where,
            )
        return got

    def _write(self, op: WriteFile, fix_id: str) -> None:
        entry = self._owned_file(op.path)
        original = self.f.read(op.path, entry.size + 1) or b""
        if hashlib.sha256(original).digest() != hashlib.sha256(op.before.encode()).digest():
            raise Fix502Error(
                f"{op.describe()}: file changed on the host since it was read; nothing changed", where=self.f.where
            )
        self._prepare()
        backup = self._backup(op.path, self.seq + 1, original, entry)
        self._record({"op": "write", "fix": fix_id, "path": op.path, "backup": backup})
        self._put(op.path, op.after.encode(), entry.perm)

    def _put(self, path: str, data: bytes, mode: int) -> None:
        """``data`` at ``path`` in one atomic step: a verified fresh file renamed over it."""
        temp = self.f.temp_beside(path)
        self.f.create(temp, data, mode)
        try:
            self.f.replace(temp, path)
        except Fix502Error:
            self.f.remove(temp, missing_ok=True)
            raise

    def _create(self, op: CreateFile, fix_id: str) -> None:
        directory, mode = posixpath.dirname(op.path), _mode(op.mode)
        made = self.f.lstat(directory) is None
        self._record({"op": "create", "fix": fix_id, "path": op.path, "dir_made": made})
        if made:
            like = self.f.stat(op.like)
            self.f.mkdir(directory, like.perm if like is not None and like.is_dir else 0o755)
        self._check_dir(directory)
        if self.f.lstat(op.path) is not None:
            raise CommandFailed(f"{op.path} already exists", where=self.f.where)
        temp = self.f.temp_beside(op.path)
        self.f.create(temp, op.content.encode(), mode)
        try:
            self.f.rename(temp, op.path)  # refuses a name that appeared meanwhile
        except Fix502Error:
            self.f.remove(temp, missing_ok=True)
            raise

    def _delete(self, op: DeleteFile, fix_id: str) -> None:
        self._record({"op": "delete", "fix": fix_id, "path": op.path})
        self.f.remove(op.path, missing_ok=True)
        made = (r for r in self.records() if r.get("op") == "create" and r.get("path") == op.path)
        if any(r.get("dir_made") in (True, "true") for r in made):  # the shell journal writes "true"
            self.f.rmdir(posixpath.dirname(op.path))

    def _remove(self, op: RemoveStale, fix_id: str) -> None:
        got = self.f.lstat(op.path)
        if got is None:
            return
        self._prepare()
        n = self.seq + 1
        rec = {"op": "remove", "fix": fix_id, "path": op.path, "backup": f"files/{n}"}
        if got.is_file:
            self._backup(op.path, n, self.f.read(op.path, got.size + 1) or b"", got)
        self._record(rec)
        self.f.remove(op.path, missing_ok=True)

    # -- undoing ------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        return read_journal(self.f, self.run_id, self.root)

    def undo(self, fix_id: str | None = None) -> list[str]:
        return undo_run(self.f, self.run_id, fix_id=fix_id, root=self.root, uid=self.uid)


def _parents(root: str) -> list[str]:
    """``~/.fix502`` then ``~/.fix502/backups``: the directories above the run's, outermost first."""
    parent = posixpath.dirname(root)
    return [parent, root] if parent.endswith("/.fix502") else [root]


def read_journal(f: Files, run_id: str, root: str) -> list[dict[str, Any]]:
    data = f.read(f"{root}/{run_id}/journal.jsonl", 64 << 20)
    if data is None:
        raise CommandFailed(f"no journal for run {run_id} in {root}", where=f.where)
    records = []
    for line in data.decode(errors="replace").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a record cut short by a dying connection: its change never started
    return records


def list_runs(f: Files, root: str) -> list[str]:
    return sorted(e.name for e in f.listdir(root) or [] if e.is_dir and not e.name.startswith("."))


def undo_run(f: Files, run_id: str, *, fix_id: str | None = None, root: str, uid: int) -> list[str]:
    """Reverse the journal of ``run_id``, newest first.  Safe to repeat: each step checks first."""
    j = SftpJournal(f, run_id, root, uid)
    j._ready = True  # the run's directory exists: its journal was just read
    lines: list[str] = []
    failed: list[str] = []
    for rec in pending(j.records(), fix_id):
        try:
            said = _undo_one(j, rec)
        except Fix502Error as exc:
            failed.append(exc.message)
            continue
        if said is None:
            continue
        lines.append(said)
        f.append(j._j, (json.dumps({"op": "undone", "undoes": rec.get("seq"), "time": time.time()}) + "\n").encode())
    if failed:
        raise CommandFailed(f"rollback of {run_id} incomplete: {'; '.join(failed)}", where=f.where)
    return lines


def _undo_one(j: SftpJournal, rec: dict[str, Any]) -> str | None:
    f, op = j.f, rec.get("op")
    if op == "write" or op == "remove":
        return _restore(j, rec)
    if op == "rename":
        src, dst = str(rec["src"]), str(rec["dst"])
        if f.lstat(dst) is not None and f.lstat(src) is None:
            f.rename(dst, src)
        return f"rename {dst} -> {src}"
    if op == "mkdir":
        path = str(rec["path"])
        got = f.lstat(path)
        if got is not None and got.is_link:
            f.remove(path)
        elif got is not None:
            f.rmdir(path)
        return f"remove dir {path}"
    if op == "create":
        path = str(rec["path"])
        parent = f.lstat(posixpath.dirname(path))
        if parent is not None and parent.is_dir:
            f.remove(path, missing_ok=True)
            if rec.get("dir_made") in (True, "true"):
                f.rmdir(posixpath.dirname(path))
        return f"remove {path}"
    return None


def _restore(j: SftpJournal, rec: dict[str, Any]) -> str:
    f, path = j.f, str(rec["path"])
    backup = f"{j.dir}/{rec['backup']}"
    original = f.read(backup, 64 << 20)
    if original is None:
        return f"restore {path}"  # nothing was backed up (a removed link): nothing to restore
    meta = (f.read(backup + ".meta", 100) or b"600").decode().split()
    mode = int(meta[0], 8) if meta and meta[0].isdigit() else 0o600
    got = f.lstat(path)
    if rec["op"] == "remove" and got is not None:
        return f"restore {path}"  # something took its place since: leave it
    if got is not None and got.is_link:
        raise CommandFailed(f"{path} is a link now: not followed, not restored", where=f.where)
    j._put(path, original, mode)
    return f"restore {path}"
