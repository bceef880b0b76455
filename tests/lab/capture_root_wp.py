"""Capture the root evidence of the WordPress-level lab faults, for the unit tier (issue 15).

``python -m tests.lab.capture_root_wp [FAULT[+FAULT] ...]`` rebuilds lab host web140 with root as the
login, injects the fault(s), lets a visitor hit the site, then collects exactly what ``fix502`` collects
as root (the evidence script and, the site being unhealthy, WordPress's own data) over real SSH and
stores the raw output under tests/unit/fixtures/evidence/root-wp-NAME.txt: the drop-ins, page caches,
the site's own PHP logs and wp-config.php read as root, never through WordPress's PHP.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from remediations.facts.script import evidence_command, evidence_stdin, parse_evidence, site_user, wordpress_command
from remediations.inventory import load_inventory
from remediations.transport import connect
from tests.lab import faults, lab
from tests.unit.evidence_text import FIXTURE_BOUNDARY

OUT = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "evidence"
HOST = "web140"
DEFAULT = ("cache-dropin", "memory-hungry-plugin", "stale-page-cache+segfault-plugin")


def collect(host: lab.LabHost) -> str:
    # our own inventory: the lab's shared one is rewritten by whichever lab.py brought a host up last
    inv_path = lab.write_inventory([host], Path(tempfile.mkdtemp()) / "inventory.yml")
    t = connect(load_inventory(str(inv_path)).select(host=host.name, group=None, limit=None)[0])
    stdin = evidence_stdin(FIXTURE_BOUNDARY)
    try:
        out = t.run(evidence_command(host.url), stdin=stdin, timeout=90).stdout
        facts = parse_evidence(out, FIXTURE_BOUNDARY)
        if facts.wordpress.root and facts.wordpress.data_deferred:
            out += t.run(wordpress_command(host.url, facts.wordpress.root, site_user(facts)), stdin=stdin).stdout
        return out
    finally:
        t.close()


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    existing = lab.load_hosts().get(HOST)
    if existing is None or existing.login != "root" or existing.web != "nginx" or existing.init_pid is None:
        lab.up(names=[HOST])
    for name in argv or DEFAULT:
        host = lab.reset(HOST)
        faults.apply(host, *name.split("+"))
        status = host.http("/", timeout=30)[0]
        time.sleep(1.1)
        (OUT / f"root-wp-{name}.txt").write_text(collect(host))
        print(name, status, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
