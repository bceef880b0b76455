"""The site's probe made from the controller, for a login that cannot run ``curl`` on the host
(SFTP only): the request goes to the address SSH reached, with the site's own name in ``Host``
(and in TLS's SNI), as ``curl --resolve`` does on the host — so an edge or a CDN in front of the
site cannot answer in its place.  When that address does not answer HTTP at all (an SFTP gateway
that is not the web server), the caller may fall back to the URL as visitors reach it, and says so.

A signed bisection probe's header goes into the request here, from the controller's memory: it is
never written to the host, and only this request carries it.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from remediations.facts.model import HttpProbe
from remediations.fixes.base import Probe, ProbeResult

BODY_LIMIT = 262144  # what the on-host probe reads too (generator tag, title)
GENERATOR = 'content="WordPress'
TITLE = re.compile(r"<title[^>]*>([^<]{0,200})</title>", re.IGNORECASE)


class _TLSTo(http.client.HTTPSConnection):
    """HTTPS to ``address`` that says ``name`` in SNI; certificates are not checked (the on-host
    probe passes ``curl -k``: a broken certificate is not what makes a 502)."""

    def __init__(self, address: str, port: int, name: str, timeout: float) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        super().__init__(address, port, timeout=timeout, context=ctx)
        self._name = name
        self._ctx = ctx

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)


def _connection(url: str, address: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    name = parts.hostname or address
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host_header = name if parts.port is None else f"{name}:{parts.port}"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _TLSTo(address, port, name, timeout)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host_header)
    return conn, target


def fetch(
    url: str, address: str, headers: tuple[tuple[str, str], ...] = (), timeout: float = 20.0
) -> tuple[HttpProbe, str]:
    """One GET of ``url`` sent to ``address``: (what it answered, the first 256 KiB of its body)."""
    start = time.monotonic()
    try:
        conn, _ = _connection(url, address, timeout)
        try:
            conn.putheader("User-Agent", "fix502-probe")
            for key, value in headers:
                conn.putheader(key, value)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read(BODY_LIMIT).decode(errors="replace")
            status, server = resp.status, resp.getheader("Server")
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return HttpProbe(
            url=url, status=None, seconds=time.monotonic() - start, error=str(exc) or type(exc).__name__
        ), ""
    seconds = time.monotonic() - start
    title = TITLE.search(body[:65536])
    hint = " ".join(title.group(1).split()) if title else None
    probe = HttpProbe(url, status, seconds, server=server, body_hint=hint, wordpress=GENERATOR in body)
    return probe, body


def probe_url(base: str, probe: Probe) -> str:
    url = base.rstrip("/") + "/" + probe.path.lstrip("/")
    return url + (("&" if "?" in url else "?") + probe.query if probe.query else "")


def run_probe(base: str, address: str, probe: Probe) -> ProbeResult:
    """A fix's verification probe, made from the controller (see the module's docstring)."""
    url = probe_url(base, probe)
    n = max(1, int(probe.concurrency))
    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(lambda _: fetch(url, address, probe.headers), range(n)))
    ok = True
    for got, body in answers:
        wanted = got.status is not None if probe.expect_status is None else got.status == probe.expect_status
        ok = ok and wanted and (probe.expect_body is None or probe.expect_body in body)
    shown = ",".join(str(g.status) if g.status else "no answer" for g, _ in answers)
    return ProbeResult(ok=ok, status=answers[0][0].status, detail=f"HTTP {shown} (from the controller)")
