"""Capture the evidence of the simulated RHEL/cPanel/Plesk hosts (tests/lab/layouts.py) for the unit tier.

``python -m tests.lab.capture_layouts [rhel cpanel plesk rhel-httpd]`` brings up web80-83 as those
layouts, and for each of healthy / fpm-killed / old-socket (rhel-httpd: healthy / old-socket)
collects exactly what ``fix502 diagnose`` collects over real SSH,
stored as tests/unit/fixtures/evidence/layout-LAYOUT-FAULT.txt (process table, the master's
binary and stat, the init scripts found, php-fpm.conf and pools, nginx -T, sockets, logs).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tests.lab import capture, faults, lab, layouts
from tests.lab.capture_evidence import OUT, collect

HOSTS = {"rhel": "web80", "cpanel": "web81", "plesk": "web82"}
FAULTS: dict[str, Callable[[lab.LabHost], None]] = {
    "healthy": faults.healthy,
    "fpm-killed": faults.fpm_killed,
    "old-socket": layouts.old_socket,
}


HTTPD_FAULTS: dict[str, Callable[[lab.LabHost], None]] = {
    "healthy": faults.healthy,
    "old-socket": layouts.old_handler_socket,
}


def httpd() -> None:
    """web83: RHEL's FPM layout behind RHEL's httpd layout (layout-rhel-httpd-*.txt)."""
    lab.up(names=["web83"], layout="rhel", apache=[83])
    for fault, inject in HTTPD_FAULTS.items():
        host = lab.reset("web83")
        inject(host)
        statuses = capture.visit(host, fault)
        time.sleep(1.1)
        (OUT / f"layout-rhel-httpd-{fault}.txt").write_text(collect(host))
        print("rhel-httpd", fault, statuses, flush=True)


def main(argv: list[str]) -> int:
    wanted = argv or [*HOSTS, "rhel-httpd"]
    if "rhel-httpd" in wanted:
        httpd()
    for layout in (x for x in wanted if x in HOSTS):
        lab.up(names=[HOSTS[layout]], layout=layout)
        for fault, inject in FAULTS.items():
            host = lab.reset(HOSTS[layout])
            inject(host)
            statuses = capture.visit(host, fault)
            time.sleep(1.1)
            (OUT / f"layout-{layout}-{fault}.txt").write_text(collect(host))
            print(layout, fault, statuses, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
