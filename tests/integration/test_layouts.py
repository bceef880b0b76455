"""FPM laid out as RHEL/Alma/Rocky, cPanel EA4 and Plesk lay it out (simulated: Debian's php-fpm8.2
started with those layouts' paths, pool names, users and init scripts; tests/lab/layouts.py), on
real lab hosts web80-82.  A killed master is started with the layout's own service and config; a
site pointing at the previous PHP's socket is a mismatch (never "fpm-down" while FPM runs) and the
site's fastcgi_pass is what changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import fix502, inventory, snapshot
from tests.lab import faults, lab, layouts

HOSTS = {"rhel": "web80", "cpanel": "web81", "plesk": "web82"}
SITE = "/etc/nginx/sites-available/wordpress"


def layout_host(layout: str) -> lab.LabHost:
    """The layout's host, rebuilt healthy for this test."""
    name = HOSTS[layout]
    existing = lab.load_hosts().get(name)
    if existing is None or existing.layout != layout or existing.init_pid is None:
        lab.up(names=[name], layout=layout)
        return lab.get(name)
    return lab.reset(name)


def run(name: str, out: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = fix502("fix-502", "--host", name, "--inventory", inventory(), "--report-json", str(out), *extra)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res.returncode, json.loads(out.read_text())["hosts"][name]


def config_trees(h: lab.LabHost, lay: layouts.Layout) -> dict[str, str]:
    """Every config file of the host: nginx, the /etc overlay, the layout's own FPM config dir."""
    conf_dir = lay.conf.rsplit("/", 1)[0]
    extra = ("etc-upper",) if conf_dir.startswith("/etc") else ("etc-upper", conf_dir.lstrip("/"))
    return snapshot(h, ("/etc", "/var/www", *extra))


def masters(h: lab.LabHost) -> list[str]:
    return [ln.strip() for ln in h.sh("ps -eo user=,args=").stdout.splitlines() if "php-fpm: master" in ln]


@pytest.mark.parametrize("layout", list(HOSTS))
def test_a_killed_master_is_started_with_the_layouts_service_and_config(layout: str, tmp_path: Path) -> None:
    h, lay = layout_host(layout), layouts.LAYOUTS[layout]
    faults.fpm_killed(h)
    assert h.http("/")[0] == 502 and masters(h) == []
    code, r = run(h.name, tmp_path / "1.json", "--yes")
    assert code == 0 and r["status"] == "fixed" and r["causes"][0] == "fpm-down", r
    start = next(a for a in r["actions"] if a["id"] == "restart-fpm")
    assert start["verified"], start
    assert f"service {lay.service} start" in start["plan"], start["plan"]
    assert f"-t -y {lay.conf}" in start["plan"] and f"remove {lay.socket}" in start["plan"], start["plan"]
    assert masters(h) == [f"root     php-fpm: master process ({lay.conf})"]
    assert h.http("/")[0] == 200


@pytest.mark.parametrize("layout", list(HOSTS))
def test_an_old_socket_is_a_mismatch_and_only_the_sites_fastcgi_pass_changes(layout: str, tmp_path: Path) -> None:
    h, lay = layout_host(layout), layouts.LAYOUTS[layout]
    pool_file = f"{lay.pool_dir}/{lay.pool}.conf"
    pool_before = h.read(pool_file)
    layouts.old_socket(h)
    assert h.http("/")[0] == 502
    before = config_trees(h, lay)
    code, r = run(h.name, tmp_path / "dry.json", "--dry-run")
    assert "socket-mismatch" in r["causes"] and "fpm-down" not in r["causes"], r
    assert config_trees(h, lay) == before  # a dry run changes nothing
    code, r = run(h.name, tmp_path / "1.json", "--yes")
    assert code == 0 and r["status"] == "fixed", r
    realign = next(a for a in r["actions"] if a["id"] == "realign-fastcgi-pass")
    assert realign["verified"] and f"+\t\tfastcgi_pass unix:{lay.socket};" in realign["diff"], realign
    assert f"(pool {lay.pool} of {lay.service})" in realign["plan"], realign["plan"]
    after = config_trees(h, lay)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"etc/nginx/sites-available/wordpress"}, changed
    assert f"fastcgi_pass unix:{lay.socket};" in h.read(SITE) and h.read(pool_file) == pool_before
    assert h.http("/")[0] == 200
    code, r = run(h.name, tmp_path / "2.json", "--yes")
    assert code == 0 and r["status"] == "healthy" and config_trees(h, lay) == after, r
