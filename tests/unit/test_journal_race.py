"""The journal in a directory the web user can write, with a real uid-33 process racing it.

A compromised site owns wp-content: between two commands of a journal script it can replace any
name there with a symlink.  Before, ``chown/chmod --reference`` on the temp file and ``mkdir`` then
``chown`` followed such a link (a root 0600 file became www-data's 0755 one in 3 of 5 tries).  Here
the journal's real scripts run locally (``LocalTransport``) in a temp dir owned by www-data while a
child running as uid 33 (setpriv) swaps every name fix502 creates there for a link to a root-only
file; that file must come out untouched, whatever the journal managed to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations import journal as journal_mod
from remediations.errors import Fix502Error
from remediations.inventory import Host
from remediations.journal import Journal, undo_run
from remediations.plan import MakeDir, WriteFile
from remediations.transport import LocalTransport

RACER = r"""
import os, sys, time
site, secret, stop = sys.argv[1:4]
end = time.time() + 60
swaps = 0
while time.time() < end and not os.path.exists(stop):
    for e in os.scandir(site):
        if e.name.startswith(".fix502.") or e.name.startswith("newdir"):
            if e.is_symlink():
                continue
            try:
                (os.rmdir if e.is_dir(follow_symlinks=False) else os.unlink)(e.path)
                os.symlink(secret, e.path)
                swaps += 1
            except OSError:
                pass
print(swaps)
"""


@pytest.fixture
def arena(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv")
    base = Path(tempfile.mkdtemp(prefix="fix502-race-", dir="/tmp"))
    os.chmod(base, 0o755)
    site = base / "site"
    site.mkdir()
    os.chown(site, 33, 33)  # the web user's directory (wp-content)
    secret = base / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    monkeypatch.setattr(journal_mod, "BACKUP_ROOT", str(base / "backups"))
    yield site, secret
    shutil.rmtree(base)


def test_a_racing_web_user_cannot_redirect_the_journal(arena: tuple[Path, Path]) -> None:
    site, secret = arena
    conf = site / "conf"
    conf.write_text("v0\n")
    os.chmod(conf, 0o644)
    stop = site.parent / "stop"
    racer = subprocess.Popen(
        [
            "setpriv",
            "--reuid=33",
            "--regid=33",
            "--clear-groups",
            "--",
            sys.executable,
            "-c",
            RACER,
            str(site),
            str(secret),
            str(stop),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    t = LocalTransport(Host(name="web40", address="127.0.0.1", connection="local"))
    j = Journal(t, "race")
    j.begin("pb", "controller")
    done = refused = 0
    try:
        for i in range(40):
            before = conf.read_text() if conf.is_file() and not conf.is_symlink() else None
            op: WriteFile | MakeDir = (
                WriteFile(str(conf), before, f"v{i + 1}\n", "race")
                if before is not None and i % 2 == 0
                else MakeDir(str(site / f"newdir{i}"), str(site), "race")
            )
            try:
                j.apply(op, "fix")
                done += 1
            except Fix502Error:
                refused += 1
    finally:
        stop.touch()
        out, _ = racer.communicate(timeout=70)
    st = secret.lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
    assert secret.read_text() == "root only\n"
    assert int(out) > 0, "the racer never swapped anything: the test proved nothing"
    assert done + refused == 40
    if conf.is_file() and not conf.is_symlink():
        cst = conf.lstat()
        assert (cst.st_uid, cst.st_mode & 0o777) == (0, 0o644)
    for d in site.glob("newdir*"):  # a directory we made is exactly like its reference
        if d.is_dir() and not d.is_symlink():
            dst = d.lstat()
            assert (dst.st_uid, dst.st_gid, dst.st_mode & 0o777) == (33, 33, 0o755)
    try:  # the racer may have left a link at conf's place: undo must refuse to follow it
        undo_run(t, "race")
    except Fix502Error as exc:
        assert "not followed" in str(exc)
    assert secret.read_text() == "root only\n"
    assert secret.lstat().st_mode & 0o7777 == 0o600 and secret.lstat().st_uid == 0
