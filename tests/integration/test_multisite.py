"""A host that serves two sites (issue 11): the server block nginx serves the inventory's site_url
from decides which fastcgi_pass, pool and error log count.  The other site is broken too (it
points at the same dead socket) and stays byte-identical; its 502 lines are not this site's evidence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.integration.conftest import fix502, host, inventory
from tests.lab import faults, lab

SECOND = """\
# another site on the same host, not the inventory's
server {{
\tlisten {addr}:80;
\tserver_name second.lab.test;
\troot /var/www/wordpress;
\terror_log /var/log/nginx/second.error.log;

\tlocation ~ \\.php$ {{
\t\tinclude snippets/fastcgi-php.conf;
\t\tfastcgi_pass unix:/run/php/php8.1-fpm.sock;
\t}}
}}
"""


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_only_the_sites_own_chain_is_diagnosed_and_changed(tmp_path: Path) -> None:
    h = host("web23")
    h.write("/etc/nginx/sites-available/second", SECOND.format(addr=h.addr))
    h.path("/etc/nginx/sites-enabled/second").symlink_to("/etc/nginx/sites-available/second")
    faults.apply(h, "old-php-socket")  # reloads nginx: both sites now point at the dead 8.1 socket
    h.sh(f"curl -s -o /dev/null -H 'Host: second.lab.test' http://{h.addr}/index.php")  # its own 502 line
    second = h.path("/etc/nginx/sites-available/second")
    before = sha(second)
    out = tmp_path / "r.json"
    res = fix502("fix-502", "--host", h.name, "--inventory", inventory(), "--yes", "--report-json", str(out))
    r = json.loads(out.read_text())["hosts"][h.name]
    assert res.returncode == 0, res.stdout[-3000:]
    assert r["status"] == "fixed" and "socket-mismatch" in r["causes"]
    sources = {e["source"] for e in r["evidence"]}
    assert not any("second" in s for s in sources), sources  # the other site's file and log are not evidence
    assert any("sites-enabled/wordpress" in s for s in sources), sources
    assert sha(second) == before
    status, _ = h.http("/")
    assert status == 200
    still = lab.sh(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Host: second.lab.test",
            f"http://{h.addr}/index.php",
        ]
    )
    assert still.stdout == "502"  # untouched: not the inventory's site
