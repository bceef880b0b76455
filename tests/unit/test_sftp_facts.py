"""The account evidence read over SFTP (a real OpenSSH sftp-server) and the site probed from the
controller (a real HTTP server on loopback): the same facts the shell evidence gives, what cannot
be read named as unknown, and the classification of the account's view unchanged."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from remediations.account import classify_account
from remediations.facts.sftp import Seen, collect_sftp
from remediations.fixes.base import Probe
from remediations.httpprobe import run_probe
from tests.unit.sftp_server import sftp_files

NOW = time.time()


def php_time(t: float) -> str:
    return time.strftime("[%d-%b-%Y %H:%M:%S UTC]", time.gmtime(t))


class Site(BaseHTTPRequestHandler):
    """Answers like a site whose plugins crash PHP: the page 502, plain PHP 200."""

    seen: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:
        Site.seen.append((self.path, self.headers.get("Host", ""), self.headers.get("X-Test", "")))
        ok = self.path.startswith("/wp-includes/version.php") or "good" in self.path
        body = b'<html><head><meta name="generator" content="WordPress 6.4"><title>Lab</title></head></html>'
        self.send_response(200 if ok else 502)
        self.send_header("Server", "nginx")
        self.end_headers()
        self.wfile.write(body if ok else b"<title>502 Bad Gateway</title>")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def http_site() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Site.seen = []
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    wp = h / "public_html"
    wc = wp / "wp-content"
    for d in ("wp-includes", "wp-content/plugins/akismet", "wp-content/mu-plugins", "wp-content/cache/supercache/x"):
        (wp / d).mkdir(parents=True)
    (wp / "wp-load.php").write_text("<?php\n")
    (wp / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.4.2';\n")
    (wp / "wp-config.php").write_text("<?php\ndefine( 'DB_PASSWORD', 'not-shown-42' );\ndefine('WP_CACHE', true);\n")
    (wc / "plugins/hello.php").write_text("<?php\n")
    (wc / "plugins/index.php").write_text("<?php\n")
    (wc / "advanced-cache.php").write_text("<?php\n")
    (wc / "object-cache.php").symlink_to("/nonexistent/object-cache.php")
    for n in range(3):
        (wc / f"cache/supercache/x/{n}.html").write_text("cached")
    (wc / "plugins.fix502-off").mkdir()
    (wc / "debug.log").write_text(
        f"{php_time(NOW - 7200)} PHP Fatal error:  old news in /x.php\n"
        f"{php_time(NOW - 60)} PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted\n"
    )
    (h / "logs").mkdir()
    (h / "logs" / "bad\nname.log").write_text(f"{php_time(NOW - 5)} PHP Fatal error: forged\n")
    return h


def test_the_account_is_read_over_sftp_and_classified_like_the_shell_evidence(home: Path, http_site: int) -> None:
    with sftp_files(home) as f:
        seen = Seen(home=f.home(), now=NOW, uid=os.getuid())
        url = f"http://site.example:{http_site}/"
        facts = collect_sftp(f, seen, url, "127.0.0.1", "owner", "", since=None, window=900)
    wp, view = facts.wordpress, facts.account
    assert view is not None and seen.home == str(home)
    assert wp.root == str(home / "public_html") and wp.version == "6.4.2"
    assert wp.plugin_dirs == ["akismet", "hello.php"] and wp.plugins_parked == ["plugins.fix502-off"]
    assert wp.active_plugins is None and "SFTP only" in str(wp.data_error)
    assert wp.dropins["object-cache.php"][0] == "link" and wp.dropins["advanced-cache.php"][0] == "file"
    assert wp.wp_cache is True and wp.caches == {"cache/supercache": ("dir", 3)}
    assert wp.config_writable and "DB_PASSWORD" in facts.files[str(home / "public_html/wp-config.php")]
    # only the fresh line, and never one from a log whose name could break a line
    assert [ln.text.endswith("of 134217728 bytes exhausted") for ln in facts.logs] == [True]
    assert any("unprintable name" in n for n in facts.notes)
    assert any("active plugins and theme" in u for u in view.unknown)
    assert facts.local_probe is not None and facts.local_probe.status == 502
    assert view.php_probe is not None and view.php_probe.status == 200
    # the probes went to the address given, with the site's own name in Host
    assert ("/", f"site.example:{http_site}", "") in Site.seen
    diag = classify_account(facts)
    assert diag.ids == ["worker-crash"], diag


def test_a_probe_from_the_controller_carries_its_headers_and_query(http_site: int) -> None:
    base = f"http://site.example:{http_site}/"
    probe = Probe(
        path="/good", headers=(("X-Test", "signed"),), query="fix502-bisect=abc", expect_body='content="WordPress'
    )
    got = run_probe(base, "127.0.0.1", probe)
    assert got.ok and got.status == 200 and "from the controller" in got.detail
    assert Site.seen[-1] == ("/good?fix502-bisect=abc", f"site.example:{http_site}", "signed")
    bad = run_probe(base, "127.0.0.1", Probe(concurrency=3))
    assert not bad.ok and bad.detail.startswith("HTTP 502,502,502")


def test_no_answer_at_all_is_a_failed_probe_not_an_error() -> None:
    got = run_probe("http://site.example:9/", "127.0.0.1", Probe())  # discard port: nothing listens
    assert not got.ok and got.status is None and "no answer" in got.detail


def test_an_origin_that_gives_no_http_answer_is_not_php_down(home: Path, http_site: int) -> None:
    """SSH reached a gateway (or a jump host's private address) where nothing serves HTTP: the
    probes go to the site's own name instead, and say so — never "PHP itself does not answer"."""
    with sftp_files(home) as f:
        seen = Seen(home=f.home(), now=NOW, uid=os.getuid())
        url = f"http://127.0.0.1:{http_site}/"  # the site's name; 127.0.0.2 has nothing on that port
        facts = collect_sftp(f, seen, url, "127.0.0.2", "owner", "", since=None, window=900)
    assert seen.probe_via == "127.0.0.1"
    assert facts.local_probe is not None and facts.local_probe.status == 502
    assert facts.account is not None and facts.account.php_probe is not None
    assert facts.account.php_probe.status == 200
    assert any("127.0.0.2) gave no HTTP answer" in n for n in facts.notes), facts.notes
    assert classify_account(facts).ids == ["worker-crash"]
