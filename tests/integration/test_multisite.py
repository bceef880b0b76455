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


PORT_SITE = """\
# a second WordPress site on the same host, on its own port, with its own log
server {{
\tlisten {addr}:8080;
\troot /var/www/wordpress;
\tindex index.php;
\terror_log /var/log/nginx/port8080.error.log;

\tlocation ~ \\.php$ {{
\t\tinclude snippets/fastcgi-php.conf;
\t\tfastcgi_pass unix:/run/php/php8.1-fpm.sock;
\t}}
\tlocation / {{
\t\ttry_files $uri $uri/ /index.php?$args;
\t}}
}}
"""


HOME_FROM_REQUEST = """<?php
define('WP_HOME', 'http://' . $_SERVER['HTTP_HOST']);
define('WP_SITEURL', 'http://' . $_SERVER['HTTP_HOST']);"""


def test_sites_var_diagnoses_fixes_and_reports_each_site(tmp_path: Path) -> None:
    """``sites: [url, url]``: each site's own server block is diagnosed and realigned, the report
    has one entry per site, and a rollback of the run restores both files byte for byte."""
    h = host("web23")
    h.write("/etc/nginx/sites-available/port8080", PORT_SITE.format(addr=h.addr))
    h.path("/etc/nginx/sites-enabled/port8080").symlink_to("/etc/nginx/sites-available/port8080")
    # the common multi-domain wp-config: WordPress answers on whatever host:port it is asked on
    # (else it would redirect :8080 to the main URL and that site could never probe 200)
    faults.edit(h, "/var/www/wordpress/wp-config.php", lambda t: t.replace("<?php", HOME_FROM_REQUEST, 1))
    faults.apply(h, "old-php-socket")  # the main site too: both now dial the dead 8.1 socket
    main_site, port_site = h.url, f"http://{h.addr}:8080/"
    files = [h.path("/etc/nginx/sites-available/wordpress"), h.path("/etc/nginx/sites-available/port8080")]
    broken = [sha(p) for p in files]
    inv = lab.write_inventory([h], tmp_path / "inv.yml")
    inv.write_text(inv.read_text() + f'          sites: ["{main_site}", "{port_site}"]\n')
    out = tmp_path / "r.json"
    res = fix502("fix-502", "--host", h.name, "--inventory", str(inv), "--yes", "--report-json", str(out))
    assert res.returncode == 0, res.stdout[-3000:]
    r = json.loads(out.read_text())["hosts"][h.name]
    assert r["status"] == "fixed" and set(r["sites"]) == {main_site, port_site}, r
    for url, path in zip((main_site, port_site), files, strict=True):
        one = r["sites"][url]
        assert one["status"] == "fixed" and "socket-mismatch" in one["causes"], (url, one)
        assert [a["id"] for a in one["actions"] if a["changed"]] == ["realign-fastcgi-pass"], one["actions"]
        assert path.name in one["actions"][0]["diff"], one["actions"][0]["diff"]  # its own file, not the other's
        status, _ = h.http("/") if url == main_site else (_status(h, url), "")
        assert status == 200, url
    assert f"{h.name} {port_site}" in res.stdout  # the recap has a row per site
    rb = fix502("rollback", "--host", h.name, "--inventory", str(inv), timeout=180)
    assert rb.returncode == 0, rb.stdout[-2000:]
    assert [sha(p) for p in files] == broken  # both sites' edits undone, each from its own record


def _status(h: lab.LabHost, url: str) -> int:
    out = lab.sh(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", url])
    return int(out.stdout or 0)


def test_a_site_file_without_final_newline_is_edited_keeping_every_other_byte() -> None:
    """A third of real site files end without a newline (or in blank lines, or with CRLF):
    the edit's ``before`` must be the file's bytes as they are, or the journal refuses it."""
    h = host("web23")
    site = h.path("/etc/nginx/sites-available/wordpress")
    faults.apply(h, "old-php-socket")
    broken = site.read_bytes().rstrip(b"\n").replace(b"\n", b"\r\n", 3)  # CRLF on the comment lines too
    site.write_bytes(broken)
    faults.reload_web(h)
    res = fix502("fix-502", "--host", h.name, "--inventory", inventory(), "--yes")
    assert res.returncode == 0, res.stdout[-3000:]
    fixed = site.read_bytes()
    assert fixed == broken.replace(b"php8.1-fpm.sock;", b"php8.2-fpm.sock;"), fixed[-300:]
    assert h.http("/")[0] == 200
