"""The signed probe as the host runs it: ``probe_on_host``'s real script through LocalTransport and
real curl against a loopback HTTP server that records what arrived.  The signature must reach the
site as a header (with ``Cache-Control: no-cache`` and the fresh query argument, also when the
playbook moves the path) and never appear on a command line, where every local user can read it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from remediations.fixes.base import Probe
from remediations.fixes.bisect_plugins import HEADER, Signer
from remediations.inventory import Host
from remediations.remote import probe_on_host
from remediations.transport import CmdResult, LocalTransport

SEEN: list[tuple[str, dict[str, str]]] = []
BODY = b'<meta name="generator" content="WordPress 6.4" />'


class Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append((self.path, {k: v for k, v in self.headers.items()}))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def site() -> Iterator[int]:
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class Recording(LocalTransport):
    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.commands: list[str] = []

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CmdResult:
        self.commands.append(command)
        return super().run(command, stdin=stdin, timeout=timeout)


def test_the_signature_travels_as_a_header_and_never_on_a_command_line(site: int) -> None:
    host = Host(name="web90", address="127.0.0.1", connection="local", vars={"site_url": f"http://127.0.0.1:{site}/"})
    t = Recording(host)
    probe = Signer("ab" * 32, 0.0).probe("off", ["lab-gallery"])
    moved = Probe(**{**probe.__dict__, "path": "/shop/"})  # a playbook's verify: {path: /shop/}
    result = probe_on_host(t, host, moved)
    assert result.ok and result.status == 200, result
    (path, headers) = SEEN[-1]
    signature = dict(probe.headers)[HEADER]
    assert path == f"/shop/?{probe.query}"
    assert headers[HEADER] == signature and headers["Cache-Control"] == "no-cache"
    assert all(signature not in c for c in t.commands)


def test_a_plain_probe_sends_no_extra_header(site: int) -> None:
    host = Host(name="web90", address="127.0.0.1", connection="local", vars={"site_url": f"http://127.0.0.1:{site}/"})
    assert probe_on_host(LocalTransport(host), host, Probe()).ok
    path, headers = SEEN[-1]
    assert path == "/" and HEADER not in headers and "Cache-Control" not in headers
