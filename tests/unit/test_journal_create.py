"""The journal's CreateFile/DeleteFile (the bisection mu-plugin), run for real with LocalTransport
in a wp-content owned by the web user (uid 33): the file is made owned like its directory with the
mode asked, the directory too when it was missing, undo removes exactly what was made, and a
``mu-plugins`` that is a link in the web user's directory is never followed."""

from __future__ import annotations

import os
import shutil
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
