"""The SFTP journal against a real OpenSSH sftp-server: every op is journaled before it is made,
undo restores the tree byte for byte (and is safe to repeat), and each refusal leaves the target
untouched: a link where a file is written, a file changed since it was read, a file of another
owner, a name that already exists."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from remediations.errors import CommandFailed, Fix502Error, LockHeld
from remediations.facts.sftp import Seen
from remediations.journal import pending
from remediations.plan import Command, CreateFile, DeleteFile, MakeDir, Rename, WriteFile
from remediations.sftp_journal import SftpJournal, list_runs, undo_run
from remediations.sftp_remote import release_lock, take_lock
from tests.unit.sftp_server import sftp_files

# CRLF line ends and no final newline: both must survive the edit and the undo
CONFIG = "<?php\r\n// keep this comment\r\ndefine( 'DB_NAME', 'wp' );\r\nrequire_once ABSPATH . 'wp-settings.php';"


def tree(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        key = str(p.relative_to(root))
        if p.is_symlink():
            out[key] = "link:" + os.readlink(p)
        elif p.is_file():
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest() + f" {p.stat().st_mode:o}"
        else:
            out[key] = f"dir {p.stat().st_mode:o}"
    return out


@pytest.fixture
def site(tmp_path: Path) -> Path:
    wp = tmp_path / "www" / "wordpress"
    (wp / "wp-content" / "plugins" / "lab-gallery").mkdir(parents=True)
    (wp / "wp-content" / "plugins" / "lab-gallery" / "lab-gallery.php").write_text("<?php // gallery\n")
    (wp / "wp-content" / "object-cache.php").write_text("<?php // drop-in\n")
    (wp / "wp-config.php").write_text(CONFIG)
    os.chmod(wp / "wp-config.php", 0o640)
    return tmp_path


def journal(f: object, site: Path, uid: int | None = None) -> SftpJournal:
    return SftpJournal(f, "RUN1", str(site / "www" / ".fix502" / "backups"), os.getuid() if uid is None else uid)  # type: ignore[arg-type]


def test_every_op_is_undone_to_the_same_bytes_and_undo_repeats_safely(site: Path) -> None:
    wp, wc = site / "www" / "wordpress", site / "www" / "wordpress" / "wp-content"
    before = tree(wp)
    with sftp_files(site) as f:
        j = journal(f, site)
        j.begin("fix-502", "controller")
        j.apply(Rename(str(wc / "object-cache.php"), str(wc / "object-cache.php.fix502-off"), "drop-in"), "clear")
        j.apply(MakeDir(str(wc / "plugins.fix502-off"), str(wc / "plugins"), "park"), "bisect")
        j.apply(
            Rename(str(wc / "plugins/lab-gallery"), str(wc / "plugins.fix502-off/lab-gallery"), "culprit"), "bisect"
        )
        j.apply(CreateFile(str(wc / "mu-plugins/fix502-bisect.php"), "<?php // mu\n", str(wc), "640", "mu"), "bisect")
        after = CONFIG.replace("define( 'DB_NAME'", "define( 'WP_MEMORY_LIMIT', '256M' );\r\ndefine( 'DB_NAME'")
        j.apply(WriteFile(str(wp / "wp-config.php"), CONFIG, after, "memory"), "memory")
        assert (wp / "wp-config.php").read_bytes() == after.encode()
        assert (wp / "wp-config.php").stat().st_mode & 0o777 == 0o640  # mode kept
        assert oct((wc / "mu-plugins/fix502-bisect.php").stat().st_mode & 0o777) == "0o640"
        assert not list(wp.glob(".fix502.*")) and not list((wc / "mu-plugins").glob(".fix502.*"))
        records = j.records()
        assert [r["op"] for r in records] == ["begin", "rename", "mkdir", "rename", "create", "write"]
        assert records[4]["dir_made"] is True
        assert list_runs(f, j.root) == ["RUN1"]
        lines = j.undo()
        assert tree(wp) == before, lines
        assert lines[0] == f"restore {wp / 'wp-config.php'}"
        assert j.undo() == []  # every record is marked undone: nothing left
        assert pending(j.records()) == [records[0]]  # only "begin", which undoes nothing
    backup_dir = site / "www" / ".fix502" / "backups" / "RUN1"
    assert all(
        p.stat().st_mode & 0o077 == 0 for p in [backup_dir, backup_dir / "journal.jsonl", *backup_dir.glob("files/*")]
    )


def test_undo_of_one_fix_leaves_the_others(site: Path) -> None:
    wc = site / "www" / "wordpress" / "wp-content"
    with sftp_files(site) as f:
        j = journal(f, site)
        j.apply(Rename(str(wc / "object-cache.php"), str(wc / "object-cache.php.off"), "drop-in"), "clear")
        j.apply(MakeDir(str(wc / "parked"), str(wc / "plugins"), "park"), "bisect")
        assert undo_run(f, "RUN1", fix_id="clear", root=j.root, uid=os.getuid()) == [
            f"rename {wc / 'object-cache.php.off'} -> {wc / 'object-cache.php'}"
        ]
        assert (wc / "object-cache.php").exists() and (wc / "parked").is_dir()


def test_a_link_at_the_written_name_is_refused_and_nothing_changes(site: Path) -> None:
    wp = site / "www" / "wordpress"
    outside = site / "secret.txt"
    outside.write_text(CONFIG)
    (wp / "wp-config.php").unlink()
    (wp / "wp-config.php").symlink_to(outside)
    with sftp_files(site) as f:
        j = journal(f, site)
        with pytest.raises(Fix502Error, match="is a link: not followed"):
            j.apply(WriteFile(str(wp / "wp-config.php"), CONFIG, CONFIG + "x", "memory"), "memory")
    assert outside.read_bytes() == CONFIG.encode() and (wp / "wp-config.php").is_symlink()
    assert not (site / "www" / ".fix502").exists()  # refused before the journal even started


def test_a_file_changed_since_it_was_read_is_not_written(site: Path) -> None:
    wp = site / "www" / "wordpress"
    with sftp_files(site) as f:
        j = journal(f, site)
        with pytest.raises(Fix502Error, match="file changed on the host since it was read"):
            j.apply(WriteFile(str(wp / "wp-config.php"), CONFIG + "\n", "new", "memory"), "memory")
    assert (wp / "wp-config.php").read_bytes() == CONFIG.encode()


def test_another_owners_file_is_refused_because_sftp_cannot_keep_its_owner(site: Path) -> None:
    wp = site / "www" / "wordpress"
    with sftp_files(site) as f:
        j = journal(f, site, uid=os.getuid() + 4242)
        with pytest.raises(Fix502Error, match="could not keep its owner"):
            j.apply(WriteFile(str(wp / "wp-config.php"), CONFIG, "new", "memory"), "memory")
    assert (wp / "wp-config.php").read_bytes() == CONFIG.encode()


def test_create_never_follows_or_replaces_a_name_put_there(site: Path) -> None:
    wc = site / "www" / "wordpress" / "wp-content"
    (wc / "mu-plugins").mkdir()
    target = site / "elsewhere.php"
    (wc / "mu-plugins" / "fix502-bisect.php").symlink_to(target)  # dangling: O_CREAT would follow it
    with sftp_files(site) as f:
        j = journal(f, site)
        with pytest.raises(CommandFailed, match="already exists"):
            j.apply(CreateFile(str(wc / "mu-plugins/fix502-bisect.php"), "<?php", str(wc), "640", "mu"), "bisect")
        with pytest.raises(CommandFailed, match="already exists"):
            j.apply(Rename(str(wc / "object-cache.php"), str(wc / "mu-plugins/fix502-bisect.php"), "x"), "clear")
        with pytest.raises(Fix502Error, match="needs a shell"):
            j.apply(Command(("true",), None, "x"), "x")
    assert not target.exists() and (wc / "object-cache.php").exists()


def test_delete_removes_the_directory_its_create_made(site: Path) -> None:
    wc = site / "www" / "wordpress" / "wp-content"
    with sftp_files(site) as f:
        j = journal(f, site)
        mu = str(wc / "mu-plugins/fix502-bisect.php")
        j.apply(CreateFile(mu, "<?php", str(wc), "640", "mu"), "bisect")
        j.apply(DeleteFile(mu, "done"), "bisect")
    assert not (wc / "mu-plugins").exists()


def test_the_lock_is_exclusive_names_its_holder_and_is_released(site: Path) -> None:
    home = site / "www"
    (home / ".fix502").mkdir(mode=0o700)
    with sftp_files(site) as f:
        seen = Seen(home=str(home), now=0, uid=os.getuid())
        take_lock(f, seen, "RUN1", break_lock=False)
        owner = json.loads((home / ".fix502/lock/owner").read_text())
        assert owner["run_id"] == "RUN1" and oct((home / ".fix502/lock/owner").stat().st_mode & 0o777) == "0o600"
        with pytest.raises(LockHeld, match="locked by run RUN1"):
            take_lock(f, seen, "RUN2", break_lock=False)
        release_lock(f, seen, "RUN2")  # not the holder: the lock stays
        assert (home / ".fix502/lock").is_dir()
        take_lock(f, seen, "RUN3", break_lock=True)
        assert json.loads((home / ".fix502/lock/owner").read_text())["run_id"] == "RUN3"
        release_lock(f, seen, "RUN3")
    assert not (home / ".fix502/lock").exists()
