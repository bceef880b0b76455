"""Capture the account-level evidence of lab faults, as fix502 reads it without root, for the unit tier.

``python -m tests.lab.capture_account [FAULT[+FAULT] ...]`` rebuilds lab host web100 with the site's
own account as the login (``login="owner"``: www-data, a shell, no sudo), injects the fault(s), lets
a visitor hit the site, then runs exactly what ``fix502`` runs as that account (``account.sh``) over
real SSH and stores the raw output under tests/unit/fixtures/account/NAME.txt.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from remediations.facts.account import account_command
from remediations.facts.script import evidence_stdin
from remediations.inventory import load_inventory
from remediations.transport import connect
from tests.lab import faults, lab
from tests.unit.evidence_text import FIXTURE_BOUNDARY

OUT = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "account"
HOST = "web100"
DEFAULT = ("healthy", "segfault-plugin", "cache-dropin", "stale-page-cache+segfault-plugin", "fpm-stopped")


def collect(host: lab.LabHost) -> str:
    inv = load_inventory(str(lab.inventory_path()))
    t = connect(inv.select(host=host.name, group=None, limit=None)[0])
    try:
        return t.run(account_command(host.url), stdin=evidence_stdin(FIXTURE_BOUNDARY), timeout=90).stdout
    finally:
        t.close()


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (host,) = lab.up(names=[HOST], login="owner")
    for name in argv or DEFAULT:
        lab.reset(host.name)
        faults.apply(host, *name.split("+"))
        status = host.http("/", timeout=30)[0]
        time.sleep(1.1)
        (OUT / f"{name}.txt").write_text(collect(host))
        print(name, status, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
