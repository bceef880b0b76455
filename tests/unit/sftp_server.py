"""A real OpenSSH ``sftp-server`` on one end of a socket pair, paramiko's SFTP client on the other:
the protocol and the file system semantics of the server fix502 meets on hosts, without sshd."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
import pytest

from remediations.sftpfs import Files

SERVERS = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server")


class _Sock(socket.socket):
    def get_name(self) -> str:  # paramiko's SFTP logging asks its channel for a name
        return "sftp-server"


def server_binary() -> str:
    for path in SERVERS:
        if Path(path).is_file():
            return path
    found = shutil.which("sftp-server")
    if found is None:
        pytest.skip("OpenSSH's sftp-server is not installed")
    return found


@contextmanager
def sftp_files(cwd: Path) -> Iterator[Files]:
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([server_binary()], stdin=theirs, stdout=theirs, cwd=cwd)
    theirs.close()
    client = paramiko.SFTPClient(_Sock(fileno=ours.detach()))  # type: ignore[arg-type]
    files = Files(client, "test-host")
    try:
        yield files
    finally:
        files.close()
        proc.wait(timeout=10)
