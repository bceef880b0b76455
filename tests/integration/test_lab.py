"""The lab itself (issue 2): each fault produces its real 5xx and log line, a known manual fix over
real SSH brings WordPress back, and stopping a host leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import host
from tests.lab import faults, lab


def ssh(h: lab.LabHost, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-i",
            str(lab.KEY),
            f"root@{h.addr}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def visit(h: lab.LabHost, fault: str) -> list[int]:
    if fault == "pool-exhausted":
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(lambda _: h.http("/", timeout=30)[0], range(6)))
    return [h.http("/", timeout=30)[0]]


@pytest.mark.parametrize("fault", sorted(faults.EXPECT))
def test_fault_produces_its_real_status_and_log_line(fault: str) -> None:
    expect = faults.EXPECT[fault]
    h = host("web2" if fault.startswith("apache") else "web1", "apache" if fault.startswith("apache") else "nginx")
    faults.apply(h, fault)
    statuses = visit(h, fault)
    assert expect.status in statuses, statuses
    time.sleep(0.3)
    log = h.read(expect.log_file)
    assert re.search(expect.log, log), f"{expect.log!r} not in {expect.log_file}:\n{log[-2000:]}"


def test_healthy_host_serves_real_wordpress_over_its_own_address() -> None:
    h = host("web1")
    status, body = h.http("/")
    assert status == 200
    assert '<meta name="generator" content="WordPress' in body
    for slug in lab.PLUGINS:
        assert f"<!-- {slug} active -->" in body  # every lab plugin is active through WordPress itself


def test_ssh_is_key_only_strict_and_sees_its_own_machine() -> None:
    h = host("web1")
    out = ssh(h, "hostname; ls /run/php; cat /proc/1/cmdline | tr '\\0' ' '")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "web1"  # its own UTS namespace
    assert "php8.2-fpm.sock" in out.stdout  # its own /run
    assert "hostinit.py" in lines[-1]  # its own PID 1
    # No password login: a client without the key is refused.
    denied = subprocess.run(
        [
            "ssh",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            f"root@{h.addr}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr


def test_known_manual_fix_over_real_ssh_restores_wordpress() -> None:
    h = host("web1")
    faults.apply(h, "fpm-killed")
    assert h.http("/")[0] == 502
    out = ssh(h, "rm -f /run/php/php8.2-fpm.sock /run/php/php8.2-fpm.pid && service php8.2-fpm start")
    assert out.returncode == 0, out.stderr
    status, body = h.http("/")
    assert status == 200 and 'content="WordPress' in body


def _namespace_pids(init_pid: int) -> list[int]:
    ns = os.readlink(f"/proc/{init_pid}/ns/pid")
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == ns:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_stopping_a_host_leaves_no_process_behind() -> None:
    h = host("web9")
    init = h.init_pid
    assert init is not None
    pids = _namespace_pids(init)
    assert len(pids) >= 6  # init, sshd, nginx master+workers, FPM master+workers
    lab.stop_host(h)
    time.sleep(0.5)
    alive = [p for p in pids if os.path.exists(f"/proc/{p}") and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
    assert alive == []
    assert h.init_pid is None
