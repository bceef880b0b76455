"""The account-level view (issue 15): real captures of lab faults read as the site's own account
(tests/lab/capture_account.py) → facts → causes, and the bundle a support ticket gets."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remediations.account import NEEDS_ROOT, classify_account
from remediations.facts.account import account_command, parse_account
from remediations.facts.model import HostFacts
from remediations.facts.parsers import frame, php_log_time, tzinfo_of
from remediations.inventory import Host
from remediations.report import bundle_dict, bundle_markdown
from remediations.results import HostResult
from tests.unit.evidence_text import FIXTURE_BOUNDARY

CAPTURES = Path(__file__).parent / "fixtures" / "account"


def facts_of(name: str, extra: str = "") -> HostFacts:
    text = (CAPTURES / f"{name}.txt").read_text()
    return parse_account(text + extra, FIXTURE_BOUNDARY, window_seconds=10**9)


@pytest.mark.parametrize(
    ("capture", "cause", "php"),
    [
        ("healthy", "healthy", 200),
        ("segfault-plugin", "worker-crash", 200),
        ("cache-dropin", "worker-crash", 200),
        ("stale-page-cache+segfault-plugin", "worker-crash", 200),
        ("fpm-stopped", "unknown", 502),
    ],
)
def test_each_capture_names_what_the_account_can_prove(capture: str, cause: str, php: int) -> None:
    facts = facts_of(capture)
    assert facts.account is not None and facts.account.user == "www-data" and facts.account.home == "/var/www"
    assert facts.account.php_probe is not None and facts.account.php_probe.status == php
    assert facts.wordpress.root == "/var/www/wordpress" and facts.wordpress.active_plugins  # read as the account
    assert facts.fpm == [] and facts.web.fastcgi_targets == []  # never guessed
    assert any(n.startswith("unknown: PHP-FPM") for n in facts.notes)
    assert classify_account(facts).ids == [cause]


def test_drop_ins_and_caches_are_the_evidence_when_present() -> None:
    dropin = classify_account(facts_of("cache-dropin")).causes[0]
    assert [e.source for e in dropin.evidence][-1] == "/var/www/wordpress/wp-content/object-cache.php"
    stale = facts_of("stale-page-cache+segfault-plugin")
    assert stale.wordpress.caches == {"cache/supercache": ("dir", 1)}
    plain = classify_account(facts_of("segfault-plugin")).causes[0]
    assert "plugins, then the theme" in plain.summary and "drop-in present" not in str(plain.evidence)


def test_fpm_down_from_the_account_is_unknown_and_says_it_needs_root() -> None:
    cause = classify_account(facts_of("fpm-stopped")).causes[0]
    assert NEEDS_ROOT in cause.summary and "only root can read" in cause.summary
    assert [e.source for e in cause.evidence] == ["local probe /", "plain PHP probe /wp-includes/version.php"]


def test_php_error_log_lines_in_the_window_are_evidence() -> None:
    text = (CAPTURES / "segfault-plugin.txt").read_text()
    now = facts_of("segfault-plugin").now

    def stamp(ago: int) -> str:
        return datetime.fromtimestamp(now - ago, UTC).strftime("[%d-%b-%Y %H:%M:%S UTC]")

    log = (
        f"{stamp(3600)} PHP Notice: old\n"
        f"{stamp(60)} PHP Fatal error: Allowed memory size of 134217728 bytes exhausted "
        "in /var/www/wordpress/wp-content/plugins/lab-gallery/lab-gallery.php on line 9\n"
    )
    extra = frame([("log /var/www/wordpress/wp-content/debug.log", "", log)], FIXTURE_BOUNDARY)
    facts = parse_account(text + extra, FIXTURE_BOUNDARY, window_seconds=1800)
    assert [ln.text[:26] for ln in facts.logs] == [stamp(60)]  # the line of an hour ago is history
    cause = classify_account(facts).causes[0]
    assert any("Allowed memory size" in e.line for e in cause.evidence)


def test_php_log_times_use_the_zone_the_line_names() -> None:
    utc = php_log_time("[01-Dec-2026 12:00:00 UTC] PHP Warning: x", tzinfo_of("+0000"))
    berlin = php_log_time("[01-Dec-2026 13:00:00 Europe/Berlin] PHP Warning: x", tzinfo_of("+0000"))
    assert utc is not None and utc == berlin


def test_a_hostile_url_or_root_stays_one_argument() -> None:
    url, root = "http://x/'; rm -rf ~ #", "/home/a b/$(id)"
    argv = shlex.split(account_command(url, root))
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["fix502-account", url, "400", root]


def test_the_bundle_is_pasteable_and_says_what_needs_root() -> None:
    facts = facts_of("fpm-stopped")
    diag = classify_account(facts)
    r = HostResult("web100", causes=diag.ids, facts=facts, diagnosis=diag)
    r.evidence = [{"cause": "unknown", "source": e.source, "line": e.line} for e in diag.causes[0].evidence]
    r.capability = {"login": "www-data", "privilege": "none", "shell": True}
    b = bundle_dict("RUN", Host("web100", "127.0.0.110", vars={"site_url": "http://127.0.0.110/"}), r)
    assert b["needs_root"] and b["site_answered"]["plain_php"].startswith("HTTP 502")
    assert b["plugins"]["active"] and b["time"] and b["timezone"]
    md = bundle_markdown(b)
    for text in ("needs root", "www-data (none)", "plain php: HTTP 502", "Not readable from this login", "PHP-FPM"):
        assert text in md, text
    assert b["stack"]["php_fpm"] == "unknown (needs root)"  # not "none": the account cannot see it
    assert any("only root can read" in w for w in b["why"]) and "## Why" in md


def test_a_journal_inside_the_document_root_is_refused() -> None:
    """A home that is the site's docroot (a jail landing in public_html) would put wp-config.php's
    backups where the web server serves them."""
    from remediations.account import served_state
    from remediations.facts.model import HostFacts, Resources, WebServer, WordPress

    def facts(root: str | None) -> HostFacts:
        return HostFacts(0, "+0000", WebServer("none"), [], [], [], [], 0, False, Resources(), WordPress(root=root))

    said = served_state("/home/site/public_html", facts("/home/site/public_html"))
    assert said and "could be fetched over HTTP" in said and "nothing changed" in said
    assert served_state("/", facts("/")) is not None  # a jail whose root is the docroot
    assert served_state("/home/site", facts("/home/site/public_html")) is None
    assert served_state("/home/site", facts("/home/site2")) is None  # a prefix, not a parent
    assert served_state("/home/site", facts(None)) is None
