"""Capture the evidence of the simulated RHEL/cPanel/Plesk hosts (tests/lab/layouts.py) for the unit tier.

``python -m tests.lab.capture_layouts`` brings up web80-82 as those layouts, and for each of
healthy / fpm-killed / old-socket collects exactly what ``fix502 diagnose`` collects over real SSH,
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


def main(argv: list[str]) -> int:
    wanted = argv or list(HOSTS)
    for layout in wanted:
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
