"""The journal's Rename as root in a directory the web user owns: run for real with LocalTransport
in a wp-content owned by uid 33.  The web user can swap the parked-plugins directory (made one
command earlier) for a link to a root-only directory; root's ``mv`` would then move a file the
web user chose (a single-file plugin) into it.  The rename runs as the directory's owner, so the
link leads nowhere that user could not already write."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations import journal as journal_mod
from remediations.errors import Fix502Error
from remediations.journal import undo_run
from remediations.plan import MakeDir, Rename
from tests.unit.test_journal_create import journal  # the same local journal on BACKUP_ROOT


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root (chown) and setpriv")
    base = Path(tempfile.mkdtemp(prefix="fix502-rename-", dir="/tmp"))
    os.chmod(base, 0o755)
    wc = base / "wp-content"
    (wc / "plugins").mkdir(parents=True)
    (wc / "plugins" / "evil.sh").write_text("#!/bin/sh\necho pwned\n")
    for p in (wc, wc / "plugins", wc / "plugins" / "evil.sh"):
        os.chown(p, 33, 33)
    (base / "rootonly").mkdir(mode=0o755)  # root's, like /etc/profile.d
    monkeypatch.setattr(journal_mod, "BACKUP_ROOT", str(base / "backups"))
    yield base
    shutil.rmtree(base)


def test_a_parked_directory_swapped_for_a_link_does_not_carry_roots_rename(site: Path) -> None:
    wc, rootonly = site / "wp-content", site / "rootonly"
    parked = wc / "plugins.fix502-off"
    j, _ = journal("r1")
    j.apply(MakeDir(str(parked), str(wc / "plugins"), "park"), "bisect-plugins")
    parked.rmdir()  # the web user wins the race: its own link where the directory was
    parked.symlink_to(rootonly)
    os.lchown(parked, 33, 33)
    with pytest.raises(Fix502Error):
        j.apply(Rename(str(wc / "plugins/evil.sh"), str(parked / "evil.sh"), "culprit"), "bisect-plugins")
    assert list(rootonly.iterdir()) == [] and (wc / "plugins/evil.sh").exists()


def test_a_rename_in_the_web_users_directory_works_as_that_user_and_undoes(site: Path) -> None:
    wc = site / "wp-content"
    j, t = journal("r2")
    j.apply(MakeDir(str(wc / "plugins.fix502-off"), str(wc / "plugins"), "park"), "bisect-plugins")
    j.apply(Rename(str(wc / "plugins/evil.sh"), str(wc / "plugins.fix502-off/evil.sh"), "culprit"), "bisect-plugins")
    moved = wc / "plugins.fix502-off/evil.sh"
    assert moved.exists() and moved.stat().st_uid == 33
    undo_run(t, "r2")
    assert (wc / "plugins/evil.sh").exists() and not (wc / "plugins.fix502-off").exists()


def test_root_owned_directories_rename_as_root(site: Path) -> None:
    a, b = site / "rootonly" / "a", site / "rootonly" / "b"
    a.write_text("x")
    j, t = journal("r3")
    j.apply(Rename(str(a), str(b), "root's own"), "fix")
    assert b.read_text() == "x" and not a.exists()
    undo_run(t, "r3")
    assert a.read_text() == "x"
