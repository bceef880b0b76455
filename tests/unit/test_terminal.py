"""Host text on a real terminal: the real CLI (``python -m invoke diagnose``) on a pseudo-terminal,
against a local host (``ansible_connection: local``, the evidence script run for real under a
temporary FIX502_ROOT) whose site answers with a hostile <title>: an OSC sequence that retitles
the terminal, rich markup (``[/]`` used to crash ``diagnose`` with a traceback, ``[www]`` vanished)
and a C1 CSI byte.  The site is a loopback HTTP server started by the test."""

from __future__ import annotations

import http.server
import io
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediations.report import Console, terminal_safe

REPO = Path(__file__).resolve().parents[2]
TITLE = "\x1b]0;PWNED\x07 [/] [www] [bold]loud[/bold] \x9b2J end"


class _Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<html><head><title>{TITLE}</title></head><body>bad gateway</body></html>".encode()
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def run_on_pty(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True)
    os.close(slave)
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), out


def test_diagnose_on_a_tty_shows_hostile_title_inert(site: int, tmp_path: Path) -> None:
    if shutil.which("dash") is None or shutil.which("curl") is None:
        pytest.skip("needs dash and curl")
    root = Path(tempfile.mkdtemp(prefix="fix502-tty-", dir="/tmp"))
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "all:\n  hosts:\n    web41:\n      ansible_connection: local\n      ansible_host: 127.0.0.1\n"
        f"      site_url: http://127.0.0.1:{site}/\n"
    )
    env = {
        **os.environ,
        "FIX502_ROOT": str(root),
        "FIX502_PROBE_ADDR": "127.0.0.1",
        "TERM": "xterm-256color",
        "COLUMNS": "250",
        "LINES": "50",
    }
    try:
        code, raw = run_on_pty(
            [sys.executable, "-m", "invoke", "diagnose", "--host", "web41", "--inventory", str(inv)], env
        )
    finally:
        shutil.rmtree(root)
    text = raw.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    assert code in (0, 1), (code, text)
    assert "\x1b]0;PWNED" not in text and "\x9b" not in text  # never sent to the terminal ...
    assert "\\x1b]0;PWNED\\x07" in text and "\\x9b2J" in text  # ... shown instead
    assert "[/] [www] [bold]loud[/bold]" in text, text  # markup shown as text, not obeyed


def test_plain_console_escapes_controls_and_keeps_markup_text() -> None:
    stream = io.StringIO()
    c = Console(stream, rich_ok=False)
    c.event("web41", "title " + TITLE + "\nforged [web2] fixed")
    out = stream.getvalue()
    assert out.count("\n") == 1 and "\x1b" not in out and "\\n" in out
    assert terminal_safe("a\tb\nc\rd\u202ee") == "a\tb\nc\\x0dd\\u202ee"


def test_rich_console_table_takes_markup_literally() -> None:
    stream = io.StringIO()
    c = Console(stream, rich_ok=True)
    c.table("pool [www]", ["check", "message"], [["probe", TITLE]])
    out = stream.getvalue()
    assert "[www]" in out and "[/]" in out and "PWNED" in out and "\x1b]0;" not in out
