"""Redaction by shape and by value (remediations/redact.py): the forms the old patterns missed,
and a secret value a host showed once, masked wherever it appears later (a dry-run diff, the JSON
report, a bundle), whatever surrounds it there."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from remediations.causes import Diagnosis
from remediations.inventory import Host
from remediations.redact import Redactor, redact, secret_values
from remediations.report import bundle_dict, report_dict
from remediations.results import FixResult, HostResult, Status
from tests.unit.evidence_text import FIXTURE_BOUNDARY, parse

PW = "s3cr3t-Pa55_9xq"
SPACED = "correct horse battery staple"
FULL = Path(__file__).parent / "fixtures" / "facts" / "full"


@pytest.mark.parametrize(
    ("form", "value"),
    [
        ("fastcgi_param DB_PASSWORD {v};", PW),
        ('fastcgi_param  DB_PASSWORD "{v}";', SPACED),
        ("env[DB_PASSWORD] = {v}", PW),
        ("env[DB_PASSWORD] = {v}", SPACED),
        ("SetEnv DB_PASSWORD {v}", PW),
        ('SetEnv DB_PASSWORD "{v}"', SPACED),
        ("define( 'WP_REDIS_PASSWORD', '{v}' );", PW),
        ("WP_REDIS_PASSWORD={v}", PW),
        ("mysql://wp:{v}@127.0.0.1:3306/wp", PW),
        ("redis://:{v}@127.0.0.1:6379/0", PW),
        ('Password = "{v}"', SPACED),
        ("'DB_PASSWORD' => '{v}',", SPACED),
        ('{{"api_token": "{v}"}}', PW),
    ],
)
def test_shapes_the_old_patterns_missed(form: str, value: str) -> None:
    text = "before\n" + form.format(v=value) + "\nafter"
    out = Redactor().text(text)
    assert value not in out and "[redacted]" in out, out
    assert all(word not in out for word in value.split() if len(word) > 4), out
    assert out.startswith("before\n") and out.endswith("\nafter")


def test_pgp_private_key_block() -> None:
    key = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGXyzABCDEF0123456789\n=abcd\n"
        "-----END PGP PRIVATE KEY BLOCK-----\n"
    )
    for text in (key, key[:60], "x " + key + " y"):
        assert "lQVYBGXyz" not in Redactor().text(text)


def test_a_value_seen_once_is_masked_everywhere() -> None:
    r = Redactor(secret_values(f"[www]\nenv[DB_PASSWORD] = {PW}\n"))
    diff = f"-    $password = '{PW}';\n+    connect({PW})\n"  # no secret-looking name around it
    assert PW not in r.text(diff) and r.text(diff).count("[redacted]") == 2


def test_not_secret_stays_readable() -> None:
    text = (
        "fastcgi_pass unix:/run/php/php8.2-fpm.sock;\n"
        "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
    )
    assert Redactor().text(text) == text
    assert list(secret_values(text)) == []


def pool_evidence() -> str:
    """A captured evidence run whose pool file carries env[DB_PASSWORD] (as a site's pool would)."""
    text = (FULL / "nginx_fpm_killed.txt").read_text()
    marker = f"\n==fix502:{FIXTURE_BOUNDARY} file /tmp/fix502facts/root/etc/php/8.2/fpm/pool.d/www.conf==\n"
    assert marker in text
    return text.replace(marker, marker + f"env[DB_PASSWORD] = {PW}\nenv[WP_REDIS_PASSWORD] = {SPACED}\n", 1)


def test_from_facts_masks_the_hosts_values_in_report_and_bundle() -> None:
    facts = parse(pool_evidence())
    assert any(PW in t for t in facts.files.values())  # the evidence really carries it
    r = HostResult("web61", status=Status.ESCALATED, causes=["fpm-down"])
    r.facts = facts
    r.diagnosis = Diagnosis(causes=[])
    # a plan whose diff quotes the value with nothing secret-looking around it
    r.actions = [FixResult("x", diff=f"-a {PW}\n+b {SPACED}\n", plan=f"run connect {PW}")]
    r.error = f"failed: {SPACED}"
    report = json.dumps(report_dict("run-1", "fix-502", True, {"web61": r}))
    bundle = json.dumps(bundle_dict("run-1", Host(name="web61", address="127.0.0.71"), r))
    for out in (report, bundle):
        assert PW not in out and SPACED not in out


def test_dry_run_console_masks_values_the_evidence_showed(tmp_path: Path) -> None:
    """The process-wide registry: a new process parses evidence, then prints a diff line."""
    code = (
        "import sys; from pathlib import Path; from tests.unit.evidence_text import parse; "
        "from remediations.report import Console; "
        "parse(Path(sys.argv[1]).read_text()); c = Console(sys.stdout, rich_ok=False); "
        f"c.line('-    listen = x {PW}'); c.line('+ {SPACED}')"
    )
    ev = tmp_path / "ev.txt"
    ev.write_text(pool_evidence())
    out = subprocess.run(["python3", "-c", code, str(ev)], capture_output=True, text=True, check=True).stdout
    assert PW not in out and SPACED not in out and out.count("[redacted]") == 2


@pytest.mark.parametrize(
    "line",
    [
        "realign-fastcgi-pass: point fastcgi_pass at unix:/opt/cpanel/ea-php81/root/usr/var/run/php-fpm/web81.sock",
        "proxy_pass: http://127.0.0.1:8080/",
        "uwsgi_pass: unix:/run/uwsgi.sock",
        # every escalation bundle's edge line: the origin's status was masked ("bypassing" holds "pass")
        "{'origin_status_bypassing_edge': 502, 'behind_edge': False}",
        "passenger_root /usr/lib/ruby/vendor_ruby/phusion_passenger;",
    ],
)
def test_where_requests_go_is_not_a_password(line: str) -> None:
    """A realign plan's first line used to reach the console as '[redacted]' ('-pass:' looked like
    a password's name)."""
    assert redact(line) == line


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("proxy_password: hunter22", "proxy_password: [redacted]"),
        ("fastcgi_passwd=hunter22", "fastcgi_passwd=[redacted]"),
        ("DB_PASS: hunter22", "DB_PASS: [redacted]"),
        ("SMTP_PASS=hunter22", "SMTP_PASS=[redacted]"),
        ("db-pass2: hunter22", "db-pass2: [redacted]"),
    ],
)
def test_passwords_named_after_them_still_are(line: str, masked: str) -> None:
    assert redact(line) == masked
