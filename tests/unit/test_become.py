"""The sudo wrapping: the become password never becomes part of what a command reads, whether
sudo asks for it or a NOPASSWD rule lets it through; SSH_CONNECTION survives sudo's env_reset.

A stub ``sudo`` on PATH stands in for the real one (the lab's sudo host tests the real one):
``-n true`` answers as the sudoers rule would, ``-S`` reads one line as the password only when the
rule asks for one (with NOPASSWD the real sudo reads nothing: that is how the old wrapping leaked
the password into every file write)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from remediations.transport import become

STUB = r"""#!/bin/sh
# stub sudo: $NOPASSWD=1 mimics a NOPASSWD rule
if [ "$1" = -n ] && [ "$2" = true ]; then [ "$NOPASSWD" = 1 ]; exit; fi
while [ $# -gt 0 ]; do
  case $1 in
    -n) [ "$NOPASSWD" = 1 ] || { echo "sudo: a password is required" >&2; exit 1; }; shift ;;
    -k|-p) [ "$1" = -p ] && shift; shift ;;
    -S) # like the real sudo: a NOPASSWD rule means no prompt, so nothing is read from stdin
        if [ "$NOPASSWD" != 1 ]; then
          IFS= read -r pw; [ "$pw" = "s3cret pass" ] || { echo "sudo: wrong password" >&2; exit 1; }
        fi; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
exec "$@"
"""


def run(tmp_path: Path, nopasswd: bool, password: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sudo").write_text(STUB)
    (tmp_path / "sudo").chmod(0o755)
    command, stdin = become('printf "%s|" "$SSH_CONNECTION"; cat', "file content\n", password)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "NOPASSWD": "1" if nopasswd else "0"}
    env["SSH_CONNECTION"] = "10.0.0.1 5555 192.0.2.7 22"
    return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True, env=env, timeout=10)


@pytest.mark.parametrize("nopasswd", [True, False])
def test_the_password_is_consumed_and_never_reaches_the_command(tmp_path: Path, nopasswd: bool) -> None:
    out = run(tmp_path, nopasswd, "s3cret pass")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "10.0.0.1 5555 192.0.2.7 22|file content\n"
    assert "s3cret" not in out.stdout


def test_without_a_password_sudo_must_not_ask(tmp_path: Path) -> None:
    assert run(tmp_path, True, None).stdout == "10.0.0.1 5555 192.0.2.7 22|file content\n"
    refused = run(tmp_path, False, None)
    assert refused.returncode != 0 and "password is required" in refused.stderr


def test_the_password_is_never_on_the_command_line() -> None:
    command, _ = become("true", None, "s3cret pass")
    assert "s3cret" not in command
