"""Per-host CPU of ``--executor`` workers on the lab, against the one-controller (in-process) run
of the same hosts: ``python3 -m tests.integration.dist_measure --hosts 20 --workers 2 --faulty 10``
(under the lab lock; hosts web120.. of the distributed tests' own range).

Worker CPU is user+sys of each worker process from /proc/PID/stat (all its threads; paramiko runs
in-process, so there are no ssh children), read before and after the run: the workers' idle
polling during the run is included.  The controller's CPU is user+sys of the CLI process tree
(getrusage of waited-for children).  Each mode starts from freshly reset hosts with the same faults.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.integration.conftest import REPO, host
from tests.integration.test_distributed import Worker, inventory_of, wait_ready
from tests.lab import faults
from tests.unit.test_distributed_state import redis_server

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / TICK


def peak_rss(pid: int) -> int:
    """VmHWM in KiB: the process's peak resident set."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def fleet(n: int, faulty: int, tmp: Path) -> tuple[list[str], Path]:
    names = [f"web{120 + i}" for i in range(n)]
    hosts = [host(name) for name in names]
    for h in hosts[:faulty]:
        faults.apply(h, "fpm-killed")
    return names, inventory_of(tmp, hosts)


def controller(names: list[str], inv: Path, report: Path, *extra: str) -> tuple[float, float, dict[str, int]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    args = ["fix-502", "--limit", ",".join(names), "--inventory", str(inv), "--yes", "--forks", str(len(names))]
    subprocess.run(
        [sys.executable, "-m", "invoke", *args, "--report-json", str(report), *extra],
        cwd=REPO,
        capture_output=True,
        timeout=600,
        check=False,
    )
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(report.read_text())["counts"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--faulty", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, redis_server() as url:
        tmp = Path(d)
        names, inv = fleet(a.hosts, a.faulty, tmp)
        wall, cpu, counts = controller(names, inv, tmp / "r0.json")
        print(
            f"in-process: {a.hosts} hosts {counts}: wall {wall:.1f}s, controller CPU {cpu:.2f}s = "
            f"{1000 * cpu / a.hosts:.0f} ms/host"
        )
        names, inv = fleet(a.hosts, a.faulty, tmp)
        per = -(-a.hosts // a.workers)
        workers = [Worker(url, inv, tmp / f"w{i}.log", concurrency=per) for i in range(a.workers)]
        try:
            wait_ready(url, a.workers)
            start = [cpu_of(w.proc.pid) for w in workers]
            wall, cpu, counts = controller(names, inv, tmp / "r1.json", "--executor", url)
            used = [cpu_of(w.proc.pid) - s for w, s in zip(workers, start, strict=True)]
            peak = [peak_rss(w.proc.pid) for w in workers]
        finally:
            for w in workers:
                w.stop()
        total = sum(used)
        print(
            f"--executor, {a.workers} workers: {a.hosts} hosts {counts}: wall {wall:.1f}s, "
            f"worker CPU {total:.2f}s = {1000 * total / a.hosts:.0f} ms/host "
            f"(per worker: {', '.join(f'{u:.2f}s' for u in used)}), "
            f"controller CPU {cpu:.2f}s = {1000 * cpu / a.hosts:.0f} ms/host; "
            f"worker peak RSS {', '.join(f'{p // 1024} MiB' for p in peak)}"
        )


if __name__ == "__main__":
    main()
