"""Files over SFTP: the seam for accounts that have no shell (``ForceCommand internal-sftp``, a
panel's SFTP-only user), where nothing can be *run* — only files read, written and renamed.

paramiko's SFTP client (fabric's ``Connection.sftp()``) speaks the protocol; every library error
is mapped here, once, into the family in ``errors.py``: a missing name is ``None`` to the caller
(it is an answer, not a failure), a refused operation is :class:`CommandFailed` naming the
operation and the path, and a dead channel is :class:`TransportError`.

Safety that holds because of how SFTP works, and is relied on by the callers:
- ``rename`` is the protocol's own SSH_FXP_RENAME: OpenSSH's server refuses an existing target
  (it links the new name, then unlinks the old), so a name that appeared meanwhile is never
  replaced; ``replace`` is ``posix-rename@openssh.com`` (rename(2): atomic over the target);
- ``create`` opens with O_CREAT|O_EXCL: it never follows a link at the final name and never
  truncates a file someone put there;
- ``lstat``, ``remove`` and ``rename`` act on the name itself, never on what a link points to.
"""

from __future__ import annotations

import errno
import hashlib
import posixpath
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import paramiko

from remediations.errors import CommandFailed, Fix502Error, TransportError

READ_CHUNK = 32768


@dataclass(frozen=True)
class Entry:
    """One name as ``lstat`` sees it (links are links)."""

    name: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: float

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def perm(self) -> int:
        return stat.S_IMODE(self.mode)


def _entry(name: str, a: paramiko.SFTPAttributes) -> Entry:
    return Entry(
        name, int(a.st_mode or 0), int(a.st_uid or 0), int(a.st_gid or 0), int(a.st_size or 0), float(a.st_mtime or 0)
    )


# The channel is gone (not "the server refused": paramiko raises that as a plain OSError/IOError).
_DEAD = (EOFError, ConnectionError, TimeoutError, paramiko.SSHException)


class Files:
    """One SFTP session on one host.  ``where`` (the host's name) goes into every error."""

    def __init__(self, client: paramiko.SFTPClient, where: str) -> None:
        self.client = client
        self.where = where
        self.ops = 0  # SFTP requests made, for the report's round-trip count

    # -- the error map ------------------------------------------------------------------------
    def _call(self, what: str, path: str, fn: Any, *args: Any) -> Any:
        self.ops += 1
        try:
            return fn(*args)
        except FileNotFoundError:
            raise
        except PermissionError:
            raise CommandFailed(f"sftp {what} {path}: permission denied", where=self.where) from None
        except _DEAD as exc:
            raise TransportError(f"sftp {what} {path}: connection lost ({exc})", where=self.where) from None
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise FileNotFoundError(path) from None
            reason = exc.strerror or (str(exc.args[0]) if exc.args else type(exc).__name__)
            raise CommandFailed(f"sftp {what} {path}: {reason}", where=self.where) from None

    # -- reading --------------------------------------------------------------------------------
    def home(self) -> str:
        """Where the login lands (its $HOME; "/" inside a ChrootDirectory)."""
        return str(self._call("realpath", ".", self.client.normalize, "."))

    def lstat(self, path: str) -> Entry | None:
        try:
            a = self._call("lstat", path, self.client.lstat, path)
        except FileNotFoundError:
            return None
        return _entry(posixpath.basename(path), a)

    def stat(self, path: str) -> Entry | None:
        """Follows links: only for reading (a link may name the file a panel keeps elsewhere)."""
        try:
            a = self._call("stat", path, self.client.stat, path)
        except FileNotFoundError:
            return None
        return _entry(posixpath.basename(path), a)

    def listdir(self, path: str) -> list[Entry] | None:
        try:
            attrs = self._call("list", path, self.client.listdir_attr, path)
        except FileNotFoundError:
            return None
        return sorted((_entry(a.filename, a) for a in attrs), key=lambda e: e.name)

    def read(self, path: str, limit: int = 1 << 20, *, tail: bool = False) -> bytes | None:
        """At most ``limit`` bytes: the first ones, or with ``tail`` the last ones (a log's end)."""
        try:
            fh = self._call("open", path, self.client.open, path, "rb")
        except FileNotFoundError:
            return None
        with fh:
            if tail:
                size = int(self._call("stat", path, fh.stat).st_size or 0)
                self._call("seek", path, fh.seek, max(0, size - limit))
            out = bytearray()
            while len(out) < limit:
                chunk = self._call("read", path, fh.read, min(READ_CHUNK, limit - len(out)))
                if not chunk:
                    break
                out += chunk
            return bytes(out)

    # -- changing ---------------------------------------------------------------------------
    def create(self, path: str, data: bytes, mode: int) -> None:
        """A new file (O_EXCL: refuses any existing name, a link included), ``mode`` set before a
        byte is written, then read back: a short write never passes for the content."""
        fh = self._call("create", path, self.client.open, path, "wbx")
        try:
            with fh:
                self._call("chmod", path, fh.chmod, mode)
                self._call("write", path, fh.write, data)
        except Fix502Error:
            self.remove(path, missing_ok=True)
            raise
        got = self.read(path, len(data) + 1)
        if got is None or hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
            self.remove(path, missing_ok=True)
            raise CommandFailed(f"sftp write {path}: the content did not arrive whole", where=self.where)

    def append(self, path: str, data: bytes) -> None:
        with self._call("open", path, self.client.open, path, "ab") as fh:
            self._call("write", path, fh.write, data)

    def rename(self, src: str, dst: str) -> None:
        self._call("rename", f"{src} -> {dst}", self.client.rename, src, dst)

    def replace(self, src: str, dst: str) -> None:
        self._call("rename", f"{src} -> {dst}", self.client.posix_rename, src, dst)

    def mkdir(self, path: str, mode: int) -> None:
        self._call("mkdir", path, self.client.mkdir, path, mode)
        self._call("chmod", path, self.client.chmod, path, mode)  # the server's umask applied to mkdir

    def chmod(self, path: str, mode: int) -> None:
        self._call("chmod", path, self.client.chmod, path, mode)

    def remove(self, path: str, *, missing_ok: bool = False) -> None:
        try:
            self._call("remove", path, self.client.remove, path)
        except FileNotFoundError:
            if not missing_ok:
                raise CommandFailed(f"sftp remove {path}: no such file", where=self.where) from None

    def rmdir(self, path: str) -> bool:
        """Remove an empty directory; False when it is not empty or gone."""
        try:
            self._call("rmdir", path, self.client.rmdir, path)
        except (FileNotFoundError, CommandFailed):
            return False
        return True

    def temp_beside(self, path: str) -> str:
        return posixpath.join(posixpath.dirname(path), f".fix502.{secrets.token_hex(4)}")

    def clock(self, directory: str) -> Entry:
        """The host's clock and the login's uid/gid, which SFTP cannot ask for directly: a file
        created now says both (its mtime, its owner).  Made and removed in ``directory``."""
        path = posixpath.join(directory, f".fix502-clock.{secrets.token_hex(4)}")
        self.create(path, b"", 0o600)
        try:
            got = self.lstat(path)
        finally:
            self.remove(path, missing_ok=True)
        if got is None:
            raise CommandFailed(f"sftp {path} vanished right after it was made", where=self.where)
        return got

    def close(self) -> None:
        try:
            self.client.close()
        except _DEAD:
            pass


def walk_files(f: Files, top: str, limit: int) -> Iterator[Entry]:
    """Regular files under ``top`` (links not followed), at most ``limit`` of them."""
    stack, seen = [top], 0
    while stack and seen < limit:
        here = stack.pop()
        for e in f.listdir(here) or []:
            if e.is_dir:
                stack.append(posixpath.join(here, e.name))
            elif e.is_file:
                seen += 1
                yield e
                if seen >= limit:
                    return
