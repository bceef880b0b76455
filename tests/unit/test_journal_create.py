"""The journal's CreateFile/DeleteFile (the bisection mu-plugin), run for real with LocalTransport
in a wp-content owned by the web user (uid 33): the file is made owned like its directory with the
mode asked, the directory too when it was missing, undo removes exactly what was made, and a
``mu-plugins`` that is a link in the web user's directory is never followed."""

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
from remediations.plan import CreateFile, DeleteFile
from remediations.transport import LocalTransport

CONTENT = "<?php\n// fix502 test\n"
WEB_USER = ["setpriv", "--reuid=33", "--regid=33", "--clear-groups", "--"]


@pytest.fixture
def content_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root (chown)")
    base = Path(tempfile.mkdtemp(prefix="fix502-create-", dir="/tmp"))
    os.chmod(base, 0o755)
    wc = base / "wp-content"
    wc.mkdir()
    os.chmod(wc, 0o755)
    os.chown(wc, 33, 33)
    monkeypatch.setattr(journal_mod, "BACKUP_ROOT", str(base / "backups"))
    yield wc
    shutil.rmtree(base)


def journal(run: str) -> tuple[Journal, LocalTransport]:
    t = LocalTransport(Host(name="web90", address="127.0.0.1", connection="local"))
    j = Journal(t, run)
    j.begin("pb", "controller")
    return j, t


def create(wc: Path) -> CreateFile:
    return CreateFile(str(wc / "mu-plugins" / "fix502-bisect.php"), CONTENT, str(wc), "640", "test", ())


def test_create_makes_the_directory_and_file_like_wp_content_and_undo_removes_both(content_dir: Path) -> None:
    j, t = journal("c1")
    j.apply(create(content_dir), "bisect-plugins")
    mu = content_dir / "mu-plugins"
    st, dst = (mu / "fix502-bisect.php").lstat(), mu.lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (33, 33, 0o640)
    assert (dst.st_uid, dst.st_gid, dst.st_mode & 0o7777) == (33, 33, 0o755)
    assert (mu / "fix502-bisect.php").read_text() == CONTENT
    assert not [p for p in mu.iterdir() if p.name.startswith(".fix502.")]
    undo_run(t, "c1")
    assert not mu.exists()


def test_create_then_delete_leaves_wp_content_as_it_was_and_undo_still_succeeds(content_dir: Path) -> None:
    j, t = journal("c5")
    j.apply(create(content_dir), "bisect-plugins")
    j.apply(DeleteFile(str(content_dir / "mu-plugins" / "fix502-bisect.php"), "done"), "bisect-plugins")
    assert list(content_dir.iterdir()) == []  # the directory this run made is gone with the file
    undo_run(t, "c5")
    assert list(content_dir.iterdir()) == []


def test_an_existing_directory_and_its_other_files_stay(content_dir: Path) -> None:
    mu = content_dir / "mu-plugins"
    mu.mkdir()
    (mu / "keep.php").write_text("<?php // site's own\n")
    j, t = journal("c2")
    j.apply(create(content_dir), "bisect-plugins")
    j.apply(DeleteFile(str(mu / "fix502-bisect.php"), "done"), "bisect-plugins")
    assert sorted(p.name for p in mu.iterdir()) == ["keep.php"]
    undo_run(t, "c2")  # the delete has no undo; the create's undo finds nothing left to remove
    assert sorted(p.name for p in mu.iterdir()) == ["keep.php"]


def test_an_existing_file_is_never_replaced(content_dir: Path) -> None:
    mu = content_dir / "mu-plugins"
    mu.mkdir()
    (mu / "fix502-bisect.php").write_text("someone else's\n")
    j, _ = journal("c3")
    with pytest.raises(Fix502Error, match="already exists"):
        j.apply(create(content_dir), "bisect-plugins")
    assert (mu / "fix502-bisect.php").read_text() == "someone else's\n"


def test_a_linked_mu_plugins_in_the_web_users_directory_is_not_followed(content_dir: Path) -> None:
    target = content_dir.parent / "rootonly"
    target.mkdir(mode=0o700)
    os.symlink(target, content_dir / "mu-plugins")
    j, t = journal("c4")
    with pytest.raises(Fix502Error, match="not followed"):
        j.apply(create(content_dir), "bisect-plugins")
    assert list(target.iterdir()) == []
    undo_run(t, "c4")
    assert (content_dir / "mu-plugins").is_symlink() and target.is_dir()


RACER = r"""
import os, sys, time
wc, secret, rootdir, stop = sys.argv[1:5]
end = time.time() + 60
swaps = 0
while time.time() < end and not os.path.exists(stop):
    for d in (wc, os.path.join(wc, "mu-plugins")):
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            fresh = e.name.startswith(".fix502.") or e.name in ("mu-plugins", "fix502-bisect.php")
            if not fresh or e.is_symlink():
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    os.rename(e.path, e.path + ".gone")
                    os.symlink(rootdir, e.path)
                else:
                    os.unlink(e.path)
                    os.symlink(secret, e.path)
                swaps += 1
            except OSError:
                pass
print(swaps)
"""


def test_a_racing_web_user_cannot_turn_the_mu_plugin_into_a_root_write(content_dir: Path) -> None:
    """uid 33 swaps every name fix502 makes in wp-content and mu-plugins (the directory, the temp
    file, the plugin) for a link to a root-only file: that file must come out untouched."""
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv")
    secret = content_dir.parent / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    rootdir = content_dir.parent / "rootdir"
    rootdir.mkdir(mode=0o755)  # root's: the web user cannot write here, a link to it must not let root
    stop = content_dir.parent / "stop"
    racer = subprocess.Popen(
        [*WEB_USER, sys.executable, "-c", RACER, str(content_dir), str(secret), str(rootdir), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    done = refused = 0
    try:
        for i in range(30):
            for left in [*content_dir.iterdir(), *content_dir.glob("mu-plugins/*")]:  # a fresh race each time
                if left.is_symlink():
                    left.unlink()
                elif left.name.endswith(".gone"):
                    shutil.rmtree(left)
            j, t = journal(f"race{i}")
            try:
                j.apply(create(content_dir), "bisect-plugins")
                made = content_dir / "mu-plugins" / "fix502-bisect.php"
                if made.exists() and not made.is_symlink():
                    st = made.lstat()
                    assert (st.st_uid, st.st_mode & 0o7777) == (33, 0o640)
                j.apply(DeleteFile(str(made), "done"), "bisect-plugins")
                done += 1
            except Fix502Error:
                refused += 1
            try:
                undo_run(t, f"race{i}")
            except Fix502Error:
                pass
    finally:
        stop.touch()
        out, _ = racer.communicate(timeout=70)
    print(f"racer swaps: {out.strip()}, applied: {done}, refused: {refused}")
    assert int(out) > 0, "the racer never swapped anything: the test proved nothing"
    assert done + refused == 30
    st = secret.lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
    assert secret.read_text() == "root only\n"
    assert list(rootdir.iterdir()) == []
