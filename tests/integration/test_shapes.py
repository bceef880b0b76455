"""Host shapes beyond the stock one (issue 11), on real lab hosts: two pools where only one
corresponds to the dead socket, and headers that need the buffer ladder's second step."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import fix502, host, inventory, snapshot
from tests.lab import faults


def run(name: str, out: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = fix502("fix-502", "--host", name, "--inventory", inventory(), "--report-json", str(out), *extra)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res.returncode, json.loads(out.read_text())["hosts"][name]


def test_two_pools_the_corresponding_one_is_chosen_without_asking(tmp_path: Path) -> None:
    h = host("web24")
    faults.apply(h, "two-pools-old-store-socket")
    code, r = run(h.name, tmp_path / "1.json", "--yes")
    assert code == 0 and r["status"] == "fixed", r
    realign = next(a for a in r["actions"] if a["id"] == "realign-fastcgi-pass")
    assert realign["verified"] and "+\t\tfastcgi_pass unix:/run/php/php8.2-fpm-store.sock;" in realign["diff"]
    assert "fastcgi_pass unix:/run/php/php8.2-fpm-store.sock;" in h.read("/etc/nginx/sites-available/wordpress")
    before = snapshot(h)
    code, r = run(h.name, tmp_path / "2.json", "--yes")
    assert code == 0 and r["status"] == "healthy" and snapshot(h) == before


def test_headers_too_big_for_32k_step_up_to_64k_in_one_run(tmp_path: Path) -> None:
    h = host("web25")
    faults.apply(h, "huge-headers-plugin")
    code, r = run(h.name, tmp_path / "dry.json", "--dry-run")
    dry = next(a for a in r["actions"] if a["id"] == "raise-fastcgi-buffers")
    assert "try 32k, 64k, 128k, 256k" in dry["plan"]  # the arithmetic is in the dry run
    code, r = run(h.name, tmp_path / "1.json", "--yes")
    assert code == 0 and r["status"] == "fixed", r
    buffers = next(a for a in r["actions"] if a["id"] == "raise-fastcgi-buffers")
    assert buffers["verified"] and "fit at fastcgi_buffer_size 64k" in buffers["note"], buffers
    site = h.read("/etc/nginx/sites-available/wordpress")
    assert "fastcgi_buffer_size 64k;" in site and "32k" not in site


UPSTREAM = "upstream php {\n\tserver unix:/run/php/php8.1-fpm.sock max_fails=3;\n}\n"
SNIPPET = (
    "# the PHP location every site includes (WordOps' common/php.conf shape)\n"
    "location ~ \\.php$ {\n\tinclude snippets/fastcgi-php.conf;\n\tfastcgi_pass php;\n}\n"
)


def test_upstream_and_snippet_the_upstreams_server_line_is_what_changes(tmp_path: Path) -> None:
    """WordOps/EasyEngine/Trellis: the site includes a snippet whose fastcgi_pass names an upstream
    in conf.d; after a PHP upgrade only the upstream's server line changes, the include structure and
    the snippet stay byte for byte."""
    h = host("web26")
    h.write("/etc/nginx/conf.d/upstream.conf", UPSTREAM)
    h.write("/etc/nginx/common/php.conf", SNIPPET)
    site = "/etc/nginx/sites-available/wordpress"
    text = h.read(site)
    start, end = text.index("\tlocation ~ \\.php$ {"), text.index("\tlocation ~ /\\.ht {")
    h.write(site, text[:start] + "\tinclude common/php.conf;\n\n" + text[end:])
    faults.reload_web(h)
    assert h.http("/")[0] == 502
    snippet_before, site_before = h.read("/etc/nginx/common/php.conf"), h.read(site)
    code, r = run(h.name, tmp_path / "1.json", "--yes")
    assert code == 0 and r["status"] == "fixed", r
    assert "socket-mismatch" in r["causes"]
    assert h.read("/etc/nginx/conf.d/upstream.conf") == UPSTREAM.replace("php8.1-fpm", "php8.2-fpm")
    assert h.read("/etc/nginx/common/php.conf") == snippet_before and h.read(site) == site_before
    assert h.http("/")[0] == 200
