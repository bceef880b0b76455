"""What the `fix502 serve` integration test and bench/serve_latency.py share: a notification sink,
`fix502 serve` as a real process, and the real Prometheus Alertmanager on loopback in a temp dir."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.lab import lab

REPO = Path(__file__).resolve().parents[2]
AM_BIN = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
TOKEN = "t0ken-for-the-serve-integration-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class Sink:
    """The notification receiver: every POST body, by path."""

    def __init__(self) -> None:
        self.got: list[tuple[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.got.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, path: str, run_id: str) -> list[Any]:
        return [b for p, b in self.got if p == path and run_id in json.dumps(b)]


class Serve:
    """`fix502 serve` as a real process on a fixed port (Alertmanager's receiver URL)."""

    def __init__(self, tmp: Path, port: int, sink: Sink) -> None:
        self.tmp, self.port, self.sink = tmp, port, sink
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self, state: Path, *extra: str) -> None:
        log = open(self.tmp / f"serve-{state.name}.log", "a")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "serve", "--inventory", str(self.tmp / "inv.yml"),
             "--listen", f"127.0.0.1:{self.port}", "--token-file", str(self.tmp / "token"),
             "--state", str(state), "--notify", f"http://127.0.0.1:{self.sink.port}/json",
             "--notify", f"slack+http://127.0.0.1:{self.sink.port}/slack", *extra],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        wait_for("serve /healthz", lambda: self.get("/healthz", auth=False)[0] == 200, timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=300)

    def request(self, method: str, path: str, body: Any = None, auth: str | None = "bearer") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if auth == "bearer":
            headers["Authorization"] = f"Bearer {TOKEN}"
        elif auth == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(f"am:{TOKEN}".encode()).decode()
        elif auth:
            headers["Authorization"] = auth
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read().decode(), exc.code
        except OSError:
            return 0, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def get(self, path: str, auth: bool = True) -> tuple[int, Any]:
        return self.request("GET", path, auth="bearer" if auth else None)

    def runs(self, name: str) -> list[dict[str, Any]]:
        return list(self.get(f"/runs?host={name}")[1]["runs"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/runs/{run_id}")[1])

    def finished_run(self, name: str, timeout: float = 180) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            runs = self.runs(name)
            return self.run(runs[0]["run_id"]) if runs and runs[0]["state"] in ("done", "awaiting-approval") else None

        return dict(wait_for(f"a finished run on {name}", done, timeout=timeout))

    def metric(self, line_start: str) -> float:
        text = self.get("/metrics", auth=False)[1]
        values = [float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(line_start)]
        return sum(values)


class Alertmanager:
    """The real Alertmanager: its own config and --storage.path, clustering off, 127.0.0.1 only.
    Short timers (group_wait 1s, group_interval 1s, repeat_interval 5s) keep runs bounded."""

    def __init__(self, tmp: Path, receiver: str, token_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "am.yml").write_text(
            f"""route:
  receiver: fix502
  group_by: [alertname, fix502_host]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 5s
receivers:
  - name: fix502
    webhook_configs:
      - url: {receiver}
        send_resolved: false
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
"""
        )
        log = open(tmp / "alertmanager.log", "w")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(
            [AM_BIN, f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=debug"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for("alertmanager ready", self.ready, timeout=30)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def fire(self, name: str, alertname: str = "WordPress5xx") -> None:
        """POST /api/v2/alerts, as Prometheus does."""
        body = [
            {
                "labels": {"alertname": alertname, "fix502_host": name, "severity": "page"},
                "annotations": {"summary": f"{name} answers 502"},
                "startsAt": datetime.now(UTC).isoformat(),
                "generatorURL": "http://127.0.0.1/graph",
            }
        ]
        req = urllib.request.Request(
            self.url + "/api/v2/alerts", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def write_inventory(path: Path, modes: dict[str, str]) -> None:
    """The lab hosts' connection facts, each with its fix502_mode."""
    lines = ["all:", "  children:", "    lab:", "      hosts:"]
    for name, mode in modes.items():
        h = lab.get(name)
        lines += [
            f"        {name}:",
            f"          ansible_host: {h.addr}",
            "          ansible_user: root",
            f"          ansible_ssh_private_key_file: {lab.KEY}",
            f'          site_url: "{h.url}"',
            f"          fix502_mode: {mode}",
        ]
    path.write_text("\n".join(lines) + "\n")
