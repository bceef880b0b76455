"""Each section parser against real captured output (fixtures/facts/sections/*.json).

The JSON ``fact`` pins the whole parse; the named tests below also assert by hand the values a
diagnosis depends on, so a fixture regenerated with a wrong parser cannot silently pass.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from remediations.facts import parsers as p
from remediations.facts.model import TcpListener

SECTIONS = Path(__file__).parent / "fixtures" / "facts" / "sections"
PRISTINE = Path(__file__).parent / "fixtures" / "facts" / "pristine"
UTC = p.tzinfo_of("+0000")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SECTIONS / f"{name}.json").read_text())
    return data


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def no_errors(cfg: p.WebConfig) -> dict[str, Any]:
    return {k: v for k, v in plain(cfg).items() if k != "errors"}


def reparse(name: str, data: dict[str, Any]) -> Any:
    out = data["output"]
    if name == "meta":
        return p.parse_meta(out)
    if name.startswith("probe_"):
        return p.parse_probe(out)
    if name == "nginx_T":
        head, files = p.split_nginx_dump(out)
        return {"test_output": head, "files": sorted(files), **no_errors(p.parse_nginx_config(files))}
    if name == "nginx_pristine_default":
        return no_errors(p.parse_nginx_config({data["path"]: out}))
    if name == "apache_S":
        return p.parse_apache_run(out)
    if name == "apache_M":
        return p.parse_apache_modules(out)
    if name == "apache_pristine_php_fpm_conf":
        return no_errors(p.parse_apache_config({data["path"]: out}))
    if name == "apache_lab_vhost":
        return no_errors(p.parse_apache_config({data["path"]: out}, data["log_dir"]))
    if name == "fpm_ini_pristine":
        return p.parse_fpm_ini(json.loads(out))
    if name == "ps":
        return p.parse_ps(out)
    if name == "ss_t":
        return p.parse_ss_tcp(out)
    if name == "ss_x":
        return p.parse_ss_unix(out)
    if name.startswith("stat_"):
        return p.parse_stat(out)
    if name == "log_dmesg":
        return p.parse_log("dmesg", out, p.tzinfo_of(data["tz"]), data["boot"])
    if name.startswith("log_"):
        source = data["command"].split()[-1]
        return p.parse_log(source, out, p.tzinfo_of(data["tz"]))
    if name == "meminfo":
        return p.parse_meminfo(out)
    if name.startswith("wordpress_"):
        return p.parse_wordpress(out, data["now"])
    raise AssertionError(f"no parser mapped for fixture {name}")


NAMED_ONLY = {"apache_configtest", "fpm_t_bad", "fpm_t_good"}  # command results, asserted by hand below


@pytest.mark.parametrize("name", sorted(f.stem for f in SECTIONS.glob("*.json") if f.stem not in NAMED_ONLY))
def test_fixture_parses_to_its_fact(name: str) -> None:
    data = load(name)
    assert data["output"], "fixture has no captured output"
    assert plain(reparse(name, data)) == data["fact"]


def test_probe_tells_wordpress_from_a_502_page_and_no_answer() -> None:
    ok = p.parse_probe(load("probe_200_wordpress")["output"])
    assert (ok.status, ok.wordpress, ok.body_hint, ok.server) == (200, True, "Fix502 Lab", "nginx/1.22.1")
    bad = p.parse_probe(load("probe_502")["output"])
    assert (bad.status, bad.wordpress, bad.body_hint) == (502, False, "502 Bad Gateway")
    down = p.parse_probe(load("probe_refused")["output"])
    assert down.status is None and down.server is None
    assert down.error is not None and "Couldn't connect" in down.error
    assert p.parse_probe(load("probe_apache_503")["output"]).status == 503


def test_nginx_dump_gives_fastcgi_pass_with_file_and_line() -> None:
    head, files = p.split_nginx_dump(load("nginx_T")["output"])
    assert "test is successful" in head
    site = "/tmp/fix502facts/root/etc/nginx/sites-enabled/wordpress"
    cfg = p.parse_nginx_config(files)
    [target] = cfg.fastcgi_targets
    assert (target.kind, target.address) == ("unix", "/tmp/fix502facts/root/run/php/php8.2-fpm.sock")
    assert (target.directive.file, target.directive.line) == (site, 16)
    assert files[site].splitlines()[15].strip().startswith("fastcgi_pass unix:")
    assert {d.name: d.args for d in cfg.buffer_directives} == {
        "fastcgi_buffers": ("16", "16k"),
        "fastcgi_buffer_size": ("32k",),
    }
    assert [d.args[0] for d in cfg.roots] == ["/tmp/fix502facts/root/var/www/wordpress"]
    assert "/tmp/fix502facts/root/var/log/nginx/wp.test.error.log" in cfg.error_logs


def test_nginx_upstream_names_resolve_to_their_server_lines() -> None:
    text = (PRISTINE / "nginx_sites-available_default").read_text()
    text += "\nupstream php {\n\tserver 127.0.0.1:9000;\n\tserver unix:/run/php/b.sock;\n}\n"
    text += "server {\n\tlocation ~ \\.php$ { fastcgi_pass php; }\n}\n"
    cfg = p.parse_nginx_config({"/etc/nginx/sites-enabled/x": text})
    assert [(t.kind, t.address) for t in cfg.fastcgi_targets] == [
        ("tcp", "127.0.0.1:9000"),
        ("unix", "/run/php/b.sock"),
    ]
    first_server = cfg.fastcgi_targets[0].directive
    assert first_server.name == "server"
    assert text.splitlines()[first_server.line - 1].strip() == "server 127.0.0.1:9000;"


def test_pristine_debian_nginx_default_has_no_php() -> None:
    fact = load("nginx_pristine_default")["fact"]
    assert fact["fastcgi_targets"] == []
    assert fact["roots"][0]["args"] == ["/var/www/html"]


def test_apache_sethandler_and_proxypassmatch_targets() -> None:
    [t] = p.parse_apache_config({"f": load("apache_pristine_php_fpm_conf")["output"]}).fastcgi_targets
    assert (t.kind, t.address, t.directive.line) == ("unix", "/run/php/php8.2-fpm.sock", 12)
    text = (
        '<FilesMatch \\.php$>\n  SetHandler "proxy:fcgi://127.0.0.1:9000"\n</FilesMatch>\n'
        "ProxyPassMatch ^/(.*\\.php)$ fcgi://127.0.0.1:9001/var/www/$1\n"
        "# SetHandler proxy:unix:/commented.sock|fcgi://localhost\n"
    )
    got = [(t.kind, t.address, t.directive.line) for t in p.parse_apache_config({"v": text}).fastcgi_targets]
    assert got == [("tcp", "127.0.0.1:9000", 2), ("tcp", "127.0.0.1:9001", 4)]


def test_apache_lab_vhost_expands_log_dir() -> None:
    data = load("apache_lab_vhost")
    cfg = p.parse_apache_config({data["path"]: data["output"]}, data["log_dir"])
    assert cfg.error_logs == ["/tmp/fix502facts/root/var/log/apache2/wp.test.error.log"]
    assert cfg.fastcgi_targets[0].address == "/tmp/fix502facts/root/run/php/php8.2-fpm.sock"


def test_apache_modules_and_run_settings() -> None:
    mods = p.parse_apache_modules(load("apache_M")["output"])
    assert {"php_module", "proxy_fcgi_module", "mpm_prefork_module"} <= set(mods)
    assert p.parse_apache_run(load("apache_S")["output"])["User"] == "www-data"


def test_pristine_fpm_ini_pool_and_globals_with_lines() -> None:
    ini = p.parse_fpm_ini(json.loads(load("fpm_ini_pristine")["output"]))
    [pool] = ini.pools
    assert (pool.name, pool.listen, pool.max_children, pool.pm) == (
        "www",
        "/run/php/php8.2-fpm.sock",
        5,
        "dynamic",
    )
    assert (pool.listen_owner, pool.listen_group, pool.listen_mode) == ("www-data", "www-data", None)
    assert pool.directives["listen"].line == 41
    assert ini.globals["pid"].args == ("/run/php/php8.2-fpm.pid",)
    assert ini.includes[0].args == ("/etc/php/8.2/fpm/pool.d/*.conf",)
    assert "emergency_restart_threshold" not in ini.globals  # commented out on Debian


def test_fpm_ini_globals_and_broken_value() -> None:
    text = "[global]\nemergency_restart_threshold = 10\nemergency_restart_interval = 1m ; comment\n"
    ini = p.parse_fpm_ini({"/c": text})
    assert ini.globals["emergency_restart_threshold"].line == 2
    assert ini.globals["emergency_restart_interval"].args == ("1m",)
    broken = (SECTIONS.parent / "lab" / "broken_www.conf").read_text()
    [pool] = p.parse_fpm_ini({"/w": broken}).pools
    assert pool.max_children is None and pool.directives["pm.max_children"].args == ("five",)


def test_fpm_t_outputs_are_real() -> None:
    assert load("fpm_t_good")["fact"]["ok"] is True
    bad = load("fpm_t_bad")
    assert bad["fact"] == {"ok": False, "rc": 78}
    assert "unable to parse value for entry 'pm.max_children'" in bad["output"]


def test_ps_sees_masters_workers_and_zombies() -> None:
    procs = p.parse_ps(load("ps")["output"])
    masters = [x for x in procs if x.args.startswith("php-fpm: master process")]
    assert masters and all(x.user == "root" for x in masters)
    assert any(x.args == "php-fpm: pool www" and x.rss_kb > 0 for x in procs)
    assert all(x.etimes >= 0 for x in procs)


def test_ss_listeners() -> None:
    tcp = p.parse_ss_tcp(load("ss_t")["output"])
    assert TcpListener("127.0.0.201", 8080, "nginx") in tcp
    unix = p.parse_ss_unix(load("ss_x")["output"])
    assert unix["/tmp/fix502facts/root/run/php/php8.2-fpm.sock"] == "php-fpm8.2"


def test_netstat_fallback() -> None:
    lab = SECTIONS.parent / "lab"  # real `netstat -lntp` / `netstat -lnxp` output of the build machine
    tcp = p.parse_netstat_tcp((lab / "netstat_lntp.txt").read_text())
    assert TcpListener("127.0.0.12", 80, "apache2") in tcp
    assert TcpListener("0.0.0.0", 2024, "") in tcp
    unix = p.parse_netstat_unix((lab / "netstat_lnxp.txt").read_text())
    assert unix["/run/mysqld/mysqld.sock"] == "mariadbd"
    assert unix["/run/php/php8.2-fpm.sock"] == "php-fpm:"


def test_stat_socket_modes_and_missing() -> None:
    found, missing = p.parse_stat(load("stat_nginx_healthy")["output"])
    sock = next(s for s in found if s.is_socket)
    assert (sock.owner, sock.group, sock.mode) == ("www-data", "www-data", 0o660)
    _, missing = p.parse_stat(load("stat_all_down")["output"])
    assert missing == [] or all(m.startswith("/") for m in missing)
    found, missing = p.parse_stat("missing|/run/php/php8.1-fpm.sock\n")
    assert (found, missing) == ([], ["/run/php/php8.1-fpm.sock"])


def test_log_timestamps_in_host_timezone() -> None:
    nginx = "2026/11/22 01:33:30 [crit] 18153#18153: *1 connect() failed"
    assert p.log_time(nginx, UTC) == 1795311210.0
    assert p.log_time(nginx, p.tzinfo_of("+0100")) == 1795311210.0 - 3600
    apache = "[Sun Nov 22 01:35:56.505943 2026] [proxy:error] [pid 26975:tid 26975] x"
    assert p.log_time(apache, UTC) == pytest.approx(1795311356.505943)
    assert p.log_time("[22-Nov-2026 01:35:55] NOTICE: exiting, bye-bye!", UTC) == 1795311355.0
    assert p.log_time("[  233.968219] php8.2[16024]: segfault", UTC, boot=1000.0) == pytest.approx(1233.968219)
    assert p.log_time("[  233.968219] php8.2[16024]: segfault", UTC) is None  # no boot time known
    assert p.log_time("no time here", UTC) is None


def test_fpm_log_drops_our_own_config_test_lines() -> None:
    data = load("log_fpm")
    assert "test is successful" in data["output"]
    lines = p.parse_log("fpm", data["output"], UTC)
    assert lines and not any("test is successful" in x.text for x in lines)
    assert lines[-1].text.endswith("exiting, bye-bye!")


def test_nginx_and_apache_log_lines_keep_the_proof() -> None:
    nginx = p.parse_log("n", load("log_nginx")["output"], UTC)
    assert any("(111: Connection refused)" in x.text for x in nginx)
    apache = p.parse_log("a", load("log_apache")["output"], UTC)
    assert any("AH01079" in x.text for x in apache)


def test_meminfo() -> None:
    res = p.parse_meminfo(load("meminfo")["output"])
    assert res.mem_total_kb == 24684084 and res.mem_available_kb is not None


def test_wordpress_data_and_error() -> None:
    data = load("wordpress_nginx_healthy")
    wp = p.parse_wordpress(data["output"], data["now"])
    assert wp.active_plugins == ["akismet/akismet.php"] and wp.template == "twentytwentythree"
    assert wp.plugin_dirs == ["akismet"] and wp.mu_plugins == ["lab.php"]
    assert wp.plugins_parked == ["plugins.fix502-20261122T010000"]
    assert [name for name, _ in wp.plugins_recent] == ["akismet"] and wp.version == "6.1.9"
    assert "DB_PASSWORD" not in data["output"] and "labpass" not in data["output"]
    down = load("wordpress_all_down")
    wp = p.parse_wordpress(down["output"], down["now"])
    assert wp.active_plugins is None and wp.data_error == "Error establishing a database connection"


def test_split_sections_and_tz() -> None:
    b = "ab" * 16
    text = f"junk\n\n==fix502:{b} meta==\nnow=5\n\n==fix502:{b} log /a b==\nx\n\n\n==fix502:{b} end==\n"
    secs = p.split_sections(text, b)
    assert [(s.kind, s.arg, s.body) for s in secs] == [
        ("meta", "", "now=5\n"),
        ("log", "/a b", "x\n\n"),
        ("end", "", ""),
    ]
    assert p.frame([(s.kind, s.arg, s.body) for s in secs], b) == text[len("junk\n") :]
    assert p.tzinfo_of("-0530").utcoffset(None).total_seconds() == -(5 * 3600 + 30 * 60)  # type: ignore[union-attr]
