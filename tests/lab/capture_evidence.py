"""Capture the whole evidence of each lab fault, as fix502 reads it, for the unit tier.

``python -m tests.lab.capture_evidence [FAULT ...]`` resets a lab host per fault, injects it, lets
a visitor hit the site, then collects exactly what ``fix502 diagnose`` collects over real SSH (the
evidence script and, when the site is unhealthy, WordPress's own data) and stores the raw output
under tests/unit/fixtures/evidence/FAULT.txt.  Fix plan cases (tests/unit/fixes/) start from these
captures, so every plan is computed from facts that went through the real parser.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from remediations.facts.script import evidence_command, evidence_stdin, parse_evidence, site_user, wordpress_command
from remediations.inventory import load_inventory
from remediations.transport import connect
from tests.lab import capture, faults, lab
from tests.unit.evidence_text import FIXTURE_BOUNDARY

OUT = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "evidence"


def collect(host: lab.LabHost) -> str:
    inv = load_inventory(str(lab.inventory_path()))
    target = inv.select(host=host.name, group=None, limit=None)[0]
    t = connect(target)
    try:
        # framed with the fixture boundary, the one the unit tier parses captures with
        stdin = evidence_stdin(FIXTURE_BOUNDARY)
        out = t.run(evidence_command(host.url), stdin=stdin, timeout=90).stdout
        facts = parse_evidence(out, FIXTURE_BOUNDARY)
        if (
            facts.wordpress.root
            and facts.wordpress.data_deferred
            and facts.local_probe
            and facts.local_probe.status != 200
        ):
            command = wordpress_command(host.url, facts.wordpress.root, site_user(facts))
            out += t.run(command, stdin=stdin, timeout=60).stdout
        return out
    finally:
        t.close()


def main(argv: list[str]) -> int:
    wanted = argv or list(faults.FAULTS)
    OUT.mkdir(parents=True, exist_ok=True)
    hosts = {h.name: h for h in lab.up(names=["web1", "web2"], apache=[2])}
    for fault in wanted:
        host = hosts["web2"] if fault.startswith("apache") else hosts["web1"]
        lab.reset(host.name)
        faults.apply(host, fault)
        statuses = capture.visit(host, fault)
        time.sleep(1.1)
        (OUT / f"{fault}.txt").write_text(collect(host))
        print(fault, statuses, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
