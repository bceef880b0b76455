"""Hostile values (file names, service names, run ids, commands) never escape their quoting.

The journal's scripts are run for real — locally, through ``LocalTransport``, with the backup root
moved into a temp directory — on files whose *names* are hostile: quotes, ``$(...)``, backticks,
``;``, newlines, leading dashes.  If any value were pasted into a command unquoted, the canary
command inside it would run, or the edit/undo would hit the wrong file."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediations import journal as journal_mod
from remediations.inventory import Host
from remediations.journal import Journal, undo_run
from remediations.plan import Command, Rename, WriteFile
from remediations.transport import CmdResult, LocalTransport, SSHTransport, join, q

CANARY = "fix502-quoting-canary"  # relative: file names cannot hold '/'; tests run in a temp cwd
PAYLOADS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"x; touch {CANARY}",
    f"x\ntouch {CANARY}\n",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"x && touch {CANARY} #",
    "-rf",
    "--reference=..",
    "a b\tc",
    "*",
    "$HOME",
    "\\",
]
# Anything a file name may hold: no '/', no NUL.
name_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(
        alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=30,
    ).filter(lambda s: s not in (".", "..")),
)


@pytest.fixture(autouse=True)
def _no_canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    yield
    assert not list(tmp_path.rglob(CANARY)), "a hostile value was executed by the shell"


def local(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> LocalTransport:
    monkeypatch.setattr(journal_mod, "BACKUP_ROOT", str(tmp / "backups"))
    return LocalTransport(Host(name="web61", address="127.0.0.1", connection="local"))


@given(name=name_text)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_write_and_undo_with_hostile_file_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "site").mkdir()
    target = root / "site" / name
    neighbour = root / "site" / "neighbour"
    target.write_text("before\n")
    neighbour.write_text("untouched\n")
    os.chmod(target, 0o640)
    t = local(root, monkeypatch)
    j = Journal(t, "run-1")
    j.begin("pb", "controller")
    j.apply(WriteFile(str(target), "before\n", "after\n", "test"), "fix")
    assert target.read_text() == "after\n"
    assert target.stat().st_mode & 0o777 == 0o640
    recs = j.records()
    assert recs[-1]["path"] == str(target)  # the record survived JSON + shell quoting intact
    undo_run(t, "run-1")
    assert target.read_text() == "before\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in (root / "site").iterdir()) == sorted([name, "neighbour"])
    assert neighbour.read_text() == "untouched\n"
    backups = root / "backups"
    assert backups.stat().st_mode & 0o777 == 0o700
    for p in backups.rglob("*"):
        assert p.stat().st_mode & 0o777 == (0o700 if p.is_dir() else 0o600), p


@given(src=name_text, dst=name_text)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rename_and_undo_with_hostile_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, src: str, dst: str
) -> None:
    if src == dst:
        return
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "d").mkdir()
    (root / "d" / src).write_text("x")
    t = local(root, monkeypatch)
    j = Journal(t, "run-2")
    j.begin("pb", "c")
    j.apply(Rename(str(root / "d" / src), str(root / "d" / dst), "test"), "fix")
    assert [p.name for p in (root / "d").iterdir()] == [dst]
    undo_run(t, "run-2")
    assert [p.name for p in (root / "d").iterdir()] == [src]


@given(arg=name_text)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_command_argv_and_undo_stay_single_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arg: str) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    out = root / "argv.json"
    py = "import json,sys; open(sys.argv[1],'a').write(json.dumps(sys.argv[2:])+'\\n')"
    t = local(root, monkeypatch)
    j = Journal(t, "run-3")
    j.begin("pb", "c")
    j.apply(
        Command(("python3", "-c", py, str(out), arg), ("python3", "-c", py, str(out), "undo", arg), "test"),
        "fix",
    )
    undo_run(t, "run-3")
    assert [json.loads(line) for line in out.read_text().splitlines()] == [[arg], ["undo", arg]]


@given(value=name_text)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_q_and_join_round_trip_through_a_real_shell(value: str) -> None:
    assert shlex.split(q(value)) == [value]
    assert shlex.split(join("printf", "%s", value, value)) == ["printf", "%s", value, value]
    got = subprocess.run(["sh", "-c", "printf '%s' " + q(value)], capture_output=True, check=True)
    assert got.stdout == value.encode(errors="surrogateescape")


@given(command=st.sampled_from(PAYLOADS))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_become_wraps_the_whole_command_as_one_argument(command: str) -> None:
    """sudo gets the command as one ``sh -c`` argument, and the password only on stdin."""
    host = Host(name="web61", address="127.0.0.1", user="deploy", become=True, become_password="s3cret pw")
    t = SSHTransport(host)
    sent: dict[str, Any] = {}

    class Result:
        exited, stdout, stderr = 0, "", ""

    def fake_run(cmd: str, **kw: Any) -> Result:
        sent["cmd"], sent["in"] = cmd, kw.get("in_stream")
        return Result()

    t.open = lambda: None  # type: ignore[method-assign]
    t.conn.run = fake_run  # type: ignore[method-assign]
    assert t.run(command) == CmdResult(0, "", "")
    argv = shlex.split(sent["cmd"])
    runs = [i for i in range(len(argv) - 2) if argv[i : i + 2] == ["sh", "-c"]]
    assert len(runs) == 2 and all(argv[i + 2].removesuffix(";") == command for i in runs), argv
    assert "s3cret" not in sent["cmd"]
    assert sent["in"].read().startswith("s3cret pw\n")
