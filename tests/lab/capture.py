"""Capture what real software answers and logs for each lab fault.

``python -m tests.lab.capture [FAULT ...]`` resets a lab host per fault, injects it, requests the
site the way a visitor would (several at once for pool exhaustion) and stores the real HTTP status
and every new log line under tests/unit/fixtures/captured/FAULT.json.  Those files are the ground
truth the unit corpus and tests/lab/faults.py's expectations are checked against.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.lab import faults, lab

OUT = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "captured"
LOGS = [
    "/var/log/nginx/wordpress.error.log",
    "/var/log/nginx/error.log",
    "/var/log/apache2/error.log",
    f"/var/log/php{lab.PHP}-fpm.log",
]


def visit(host: lab.LabHost, fault: str) -> list[int]:
    if fault == "pool-exhausted":
        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(lambda _: host.http("/", timeout=30)[0], range(6)))
    return [host.http("/", timeout=30)[0]]


def capture(fault: str, host: lab.LabHost) -> dict[str, object]:
    lab.reset(host.name)
    faults.apply(host, fault)
    sizes = {p: host.path(p).stat().st_size if host.path(p).exists() else 0 for p in LOGS}
    statuses = visit(host, fault)
    time.sleep(0.5)
    lines: dict[str, list[str]] = {}
    for p in LOGS:
        f = host.path(p)
        if f.exists():
            new = f.read_bytes()[sizes[p] :].decode(errors="replace").splitlines()
            if new:
                lines[p] = new
    fpm_test = host.sh(f"php-fpm{lab.PHP} -t 2>&1; echo exit=$?", check=False).stdout.strip().splitlines()
    return {
        "fault": fault,
        "web": host.web,
        "statuses": statuses,
        "logs": lines,
        "php_fpm_t": fpm_test,
        "captured_from": f"lab host {host.name} ({host.web}, PHP-FPM {lab.PHP}, Debian 12 packages)",
    }


def main(argv: list[str]) -> int:
    wanted = argv or list(faults.FAULTS)
    OUT.mkdir(parents=True, exist_ok=True)
    hosts = {h.name: h for h in lab.up(names=["web1", "web2"], apache=[2])}
    for fault in wanted:
        host = hosts["web2"] if fault.startswith("apache") else hosts["web1"]
        data = capture(fault, host)
        name = fault if host.web == "nginx" or fault.startswith("apache") else f"{fault}"
        (OUT / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
        print(fault, data["statuses"], sum(len(v) for v in data["logs"].values()), "lines")  # type: ignore[attr-defined]
    for fault in ("fpm-stopped", "fpm-killed", "segfault-plugin", "socket-permissions"):
        if fault in wanted:  # the same faults behind Apache answer differently
            data = capture(fault, hosts["web2"])
            (OUT / f"apache-{fault}.json").write_text(json.dumps(data, indent=1) + "\n")
            print("apache", fault, data["statuses"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
