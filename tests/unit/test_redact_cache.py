"""The caches that keep redaction linear in the fleet: one scan per distinct text, one pattern per
report (not one per host), with exactly the values and masks the uncached code gave."""

from __future__ import annotations

import json
from pathlib import Path

from remediations import redact
from remediations.redact import KNOWN, Redactor, secret_values
from remediations.report import report_dict
from remediations.results import HostResult, Status
from tests.unit.evidence_text import parse

FIXTURES = Path(__file__).parent / "fixtures"
TEXTS = [
    "env[DB_PASSWORD] = s3cr3t-Pa55_9xq\nenv[PATH] = /usr/bin\n",
    "define( 'DB_PASSWORD', 'quoted pw here' );\ndefine('AUTH_KEY', \"k-e-y-1234\");\n",
    'fastcgi_param  WP_REDIS_PASSWORD "correct horse";\nSetEnv API_TOKEN tok-5678\n',
    "redis://user:pa55word@10.0.0.1:6379 --password=hunter22 x\r\nDB_PASS=ab cd\r\nX=1\r\n",
    "nothing secret here\n",
]


def _uncached(text: str) -> list[str]:
    return list(redact._text_values.__wrapped__(text))


def test_cached_values_are_the_uncached_ones_and_each_text_is_scanned_once() -> None:
    texts = TEXTS + [p.read_text(errors="replace") for p in sorted(FIXTURES.rglob("*.txt"))[:40]]
    redact._text_values.cache_clear()
    first = [list(secret_values(t)) for t in texts]
    misses = redact._text_values.cache_info().misses
    second = [list(secret_values(t)) for t in texts]
    assert first == second == [_uncached(t) for t in texts]
    assert redact._text_values.cache_info().misses == misses  # the second pass scanned nothing
    assert any(first)  # the shapes really found values in these texts


def test_one_report_redactor_is_known_itself_when_the_hosts_showed_nothing_new() -> None:
    results = [HostResult(f"web{i}", status=Status.HEALTHY) for i in range(5)]
    assert KNOWN.with_facts(r.facts for r in results) is KNOWN


def test_a_value_only_one_hosts_facts_show_is_masked_in_the_report() -> None:
    fresh = "only-in-late-conf-77Qz"
    facts = parse("")
    facts.files["/etc/php/8.2/fpm/pool.d/late.conf"] = f"env[API_TOKEN] = {fresh}\n"
    r = HostResult("web7", status=Status.FAILED, error=f"stderr said {fresh}")
    r.facts = facts
    assert KNOWN.text(f"x {fresh}") == f"x {fresh}"  # not taught to the process-wide redactor
    combined = KNOWN.with_facts([facts])
    assert combined is not KNOWN and isinstance(combined, Redactor)
    out = json.dumps(report_dict("run-1", "fix-502", True, {"web7": r, "web8": HostResult("web8")}))
    assert fresh not in out and "[redacted]" in out
    assert KNOWN.text(f"x {fresh}") == f"x {fresh}"  # the report did not widen KNOWN either
