"""The signed header of per-request plugin bisection, from both sides.

The Python side is checked against the format written down in ``signature``'s docstring with an
independent HMAC computation; then, when php-cli is installed, the real mu-plugin (the asset with a
key filled in) is run under ``php`` with WordPress's two hook functions stubbed, to prove it
accepts exactly what the Python side signs and nothing else: a changed subset, an expired or
far-future expiry, another key, a request from elsewhere, every visitor without the header."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from remediations.fixes import REGISTRY
from remediations.fixes.bisect_plugins import HEADER, TTL, Signer, echo_marker, mu_plugin_source, signature
from remediations.fixes.driver import plan_only
from remediations.plan import CreateFile
from tests.unit.test_fix_plans import context

KEY = "k" * 8 + "0123456789abcdef" * 3
ACTIVE = ["akismet/akismet.php", "lab-gallery/lab-gallery.php", "hello.php", "lab-seo/lab-seo.php"]


def parts(value: str) -> list[str]:
    fields = value.split(".")
    assert len(fields) == 6 and fields[0] == "v1", value
    return fields


def test_the_header_is_the_documented_format_with_an_independent_hmac() -> None:
    value = signature(KEY, "off", 1_900_000_000, "00ff00ff00ff00ff", ["lab-gallery", "hello.php"])
    _, mode, expiry, nonce, off64, sig = parts(value)
    assert (mode, expiry, nonce) == ("off", "1900000000", "00ff00ff00ff00ff")
    assert base64.urlsafe_b64decode(off64).decode() == "lab-gallery\nhello.php"
    message = b"fix502-bisect-v1\noff\n1900000000\n00ff00ff00ff00ff\n" + off64.encode()
    assert sig == hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()
    # another subset, mode or expiry is another signature: none can be reused for a different request
    others = {
        signature(KEY, "off", 1_900_000_000, "00ff00ff00ff00ff", ["lab-gallery"]),
        signature(KEY, "echo", 1_900_000_000, "00ff00ff00ff00ff", ["lab-gallery", "hello.php"]),
        signature(KEY, "off", 1_900_000_001, "00ff00ff00ff00ff", ["lab-gallery", "hello.php"]),
        signature("x" + KEY[1:], "off", 1_900_000_000, "00ff00ff00ff00ff", ["lab-gallery", "hello.php"]),
    }
    assert sig not in {parts(o)[5] for o in others}


def test_hostile_plugin_names_cannot_break_the_header_line() -> None:
    value = signature(KEY, "off", 1, "0" * 16, ["evil\r\nX-Injected: 1", "..", "ünï cødé"])
    assert re.fullmatch(r"[A-Za-z0-9._=-]+", value), value
    assert base64.urlsafe_b64decode(parts(value)[4]).decode().split("\n")[-1] == "ünï cødé"


def test_expiry_counts_on_the_hosts_clock_and_every_probe_is_new() -> None:
    host_now = time.time() + 3600  # the host's clock is an hour ahead of ours
    signer = Signer(KEY, host_now)
    a, b = signer.probe("off", ["lab-gallery"]), signer.probe("off", ["lab-gallery"])
    for probe in (a, b):
        headers = dict(probe.headers)
        assert headers["Cache-Control"] == "no-cache"
        expiry = int(parts(headers[HEADER])[2])
        assert host_now + TTL - 5 <= expiry <= host_now + TTL + 5
    assert a.query != b.query and a.query.startswith("fix502-bisect=")
    assert dict(a.headers)[HEADER] != dict(b.headers)[HEADER]
    echo = signer.probe("echo", [])
    nonce = parts(dict(echo.headers)[HEADER])[3]
    assert echo.expect_body == f"fix502-bisect-echo:{echo_marker(KEY, nonce)}"
    assert signer.sent == 3


def test_dry_run_shows_the_mu_plugin_but_never_the_key() -> None:
    ctx = context({"capture": "segfault-plugin"})
    fix = REGISTRY["bisect-plugins"]()
    shown = plan_only(fix, ctx, after_others=False)
    assert "+++ b/var/www/wordpress/wp-content/mu-plugins/fix502-bisect.php" in shown.diff
    assert "'<secret>'" in shown.diff and "hash_equals" in shown.diff
    assert fix.key not in shown.diff + shown.plan + shown.note
    create = next(fix.steps(ctx)).ops[0]
    assert isinstance(create, CreateFile) and fix.key in create.content and "@KEY@" not in create.content
    assert create.mode == "640"


# --- the mu-plugin itself, under php-cli -------------------------------------------------------
HARNESS = r"""
define( 'ABSPATH', '/' );
$GLOBALS['fix502_filters'] = array();
function add_filter( $name, $fn ) { $GLOBALS['fix502_filters'][ $name ] = $fn; }
function nocache_headers() { $GLOBALS['fix502_nocache'] = true; }
$case = json_decode( $argv[2], true );
$_SERVER = array_merge( $_SERVER, $case['server'] );
register_shutdown_function( function () use ( $case ) {
    $f = $GLOBALS['fix502_filters'];
    $sitewide = array_fill_keys( $case['active'], 1700000000 );
    echo "\n", json_encode( array(
        'active' => isset( $f['option_active_plugins'] ) ? $f['option_active_plugins']( $case['active'] ) : null,
        'sitewide' => isset( $f['site_option_active_sitewide_plugins'] )
            ? array_keys( $f['site_option_active_sitewide_plugins']( $sitewide ) ) : null,
        'nocache' => ! empty( $GLOBALS['fix502_nocache'] ) && defined( 'DONOTCACHEPAGE' ),
    ) );
} );
include $argv[1];
"""

php = pytest.mark.skipif(shutil.which("php") is None, reason="php-cli not installed")


def run_mu(tmp_path: Path, header: str | None, remote: str = "127.0.0.5", local: str = "127.0.0.5") -> dict:
    mu = tmp_path / "fix502-bisect.php"
    mu.write_text(mu_plugin_source(KEY))
    server = {"REMOTE_ADDR": remote, "SERVER_ADDR": local}
    if header is not None:
        server["HTTP_X_FIX502_BISECT"] = header
    case = json.dumps({"server": server, "active": ACTIVE})
    out = subprocess.run(
        ["php", "-d", "display_errors=stderr", "-r", HARNESS, "--", str(mu), case],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and not out.stderr, out.stderr
    first, _, last = out.stdout.rpartition("\n")
    result: dict = json.loads(last)
    result["printed"] = first
    return result


def fresh(off: list[str], mode: str = "off", ttl: int = TTL, key: str = KEY) -> str:
    return signature(key, mode, int(time.time()) + ttl, "0123456789abcdef", off)


@php
def test_php_accepts_what_python_signs_and_filters_only_that_request(tmp_path: Path) -> None:
    r = run_mu(tmp_path, fresh(["lab-gallery", "hello.php"]))
    assert r["active"] == ["akismet/akismet.php", "lab-seo/lab-seo.php"]
    assert r["sitewide"] == ["akismet/akismet.php", "lab-seo/lab-seo.php"]
    assert r["nocache"] is True
    everything_off = run_mu(tmp_path, fresh(["akismet", "lab-gallery", "hello.php", "lab-seo"]))
    assert everything_off["active"] == [] and everything_off["sitewide"] == []
    assert run_mu(tmp_path, fresh([]))["active"] == ACTIVE


@php
@pytest.mark.parametrize(
    "why",
    ["visitor", "tampered-subset", "other-key", "expired", "far-future", "from-elsewhere", "garbage"],
)
def test_php_ignores_every_request_that_is_not_a_valid_signed_probe(tmp_path: Path, why: str) -> None:
    good = fresh(["lab-gallery"])
    header: str | None = {
        "visitor": None,
        "tampered-subset": ".".join([*parts(good)[:4], base64.urlsafe_b64encode(b"lab-seo").decode(), parts(good)[5]]),
        "other-key": fresh(["lab-gallery"], key="0" * 64),
        "expired": fresh(["lab-gallery"], ttl=-5),
        "far-future": fresh(["lab-gallery"], ttl=3600),
        "from-elsewhere": good,
        "garbage": "v1.off.1.2.3.4.5",
    }[why]
    remote = "203.0.113.9" if why == "from-elsewhere" else "127.0.0.5"
    r = run_mu(tmp_path, header, remote=remote, local="127.0.0.5" if why != "from-elsewhere" else "10.0.0.1")
    assert r["active"] is None and r["sitewide"] is None and r["nocache"] is False and r["printed"] == ""


@php
def test_php_echo_answers_the_marker_python_expects(tmp_path: Path) -> None:
    signer = Signer(KEY, time.time())
    probe = signer.probe("echo", [])
    r = run_mu(tmp_path, dict(probe.headers)[HEADER], remote="192.0.2.7", local="192.0.2.7")
    assert probe.expect_body is not None and r["printed"].strip() == probe.expect_body
    assert r["active"] is None  # echo exits before any plugin loads


def test_the_plan_a_person_approves_is_the_plan_a_later_run_renders() -> None:
    """``serve``'s approve mode applies a fix only when its plan renders byte for byte as the
    approved one: the per-run key (and each probe's nonce and expiry) must not be part of it."""
    ctx = context({"capture": "segfault-plugin"})
    first, second = REGISTRY["bisect-plugins"](), REGISTRY["bisect-plugins"]()
    assert first.key != second.key
    assert next(first.steps(ctx)).render() == next(second.steps(ctx)).render()
