"""Build :class:`HostFacts` from the compact YAML specs of ``fixtures/corpus/cases``.

A case only says what differs from a healthy lab host (the private nginx/Apache + php-fpm 8.2
instances the log lines were captured from, see ``fixtures/corpus/captured``), so each fixture
reads as "this host, but FPM is stopped and these lines are in the log".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from remediations.endpoint import Endpoint
from remediations.facts.model import (
    Directive,
    FastcgiTarget,
    FpmPool,
    FpmService,
    HostFacts,
    HttpProbe,
    LogLine,
    Resources,
    SocketFile,
    TcpListener,
    WebServer,
    WordPress,
)

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
LAB = "/tmp/dl"
NGINX_CONF = f"{LAB}/nginx/nginx.conf"
APACHE_CONF = f"{LAB}/apache/apache2.conf"
FPM_CONF = f"{LAB}/php-fpm.conf"
LOG_SOURCES = {
    "nginx": f"{LAB}/nginx/logs/error.log",
    "fpm": f"{LAB}/log/php8.2-fpm.log",
    "apache": f"{LAB}/apache/logs/error.log",
    "dmesg": "dmesg",
}

# The lab's pools with the line of each directive in captured/lab/php-fpm.conf.
LAB_POOLS: dict[str, dict[str, tuple[str, int]]] = {
    "www": {
        "listen": ("/tmp/dl/run/php8.2-fpm.sock", 10),
        "listen.owner": ("www-data", 11),
        "listen.group": ("www-data", 12),
        "listen.mode": ("0660", 13),
        "pm": ("dynamic", 14),
        "pm.max_children": ("5", 15),
        "request_terminate_timeout": ("4s", 19),
    },
    "tcp": {"listen": ("127.0.0.211:9000", 27), "pm": ("static", 28), "pm.max_children": ("2", 29)},
    "locked": {
        "listen": ("/tmp/dl/run/locked.sock", 34),
        "listen.owner": ("root", 35),
        "listen.group": ("root", 36),
        "listen.mode": ("0660", 37),
        "pm": ("static", 38),
        "pm.max_children": ("1", 39),
    },
    "small": {
        "listen": ("/tmp/dl/run/small.sock", 44),
        "listen.owner": ("www-data", 45),
        "listen.group": ("www-data", 46),
        "pm": ("dynamic", 48),
        "pm.max_children": ("1", 49),
    },
}


def target(raw: str, file: str, line: int) -> FastcgiTarget:
    """``unix:/p``, ``h:p``, Apache's ``proxy:unix:/p|fcgi://x`` / ``proxy:fcgi://h:p`` / ``fcgi://h:p/...``."""
    apache = raw.startswith(("proxy:", "fcgi://"))
    name = "fastcgi_pass" if not apache else ("ProxyPassMatch" if raw.startswith("fcgi://") else "SetHandler")
    endpoint = Endpoint.from_apache_handler(raw) if apache else Endpoint.from_fastcgi_pass(raw)
    assert endpoint is not None, raw
    return FastcgiTarget(endpoint, Directive(name, (raw,), file, line), raw)


def pool(name: str, overrides: dict[str, Any] | None = None) -> FpmPool:
    spec = dict(LAB_POOLS.get(name, {}))
    file = FPM_CONF
    over = dict(overrides or {})
    file = over.pop("file", file)
    for key, value in over.items():
        spec[key] = (str(value[0]), int(value[1])) if isinstance(value, list) else (str(value), 0)
    directives = {k: Directive(k, (v,), file, ln) for k, (v, ln) in spec.items() if ln}
    get = {k: v for k, (v, _ln) in spec.items()}
    mc = get.get("pm.max_children")
    return FpmPool(
        name=name,
        file=file,
        user="www-data",
        group="www-data",
        listen=get.get("listen"),
        listen_owner=get.get("listen.owner"),
        listen_group=get.get("listen.group"),
        listen_mode=get.get("listen.mode"),
        pm=get.get("pm"),
        max_children=int(mc) if mc and mc.isdigit() else None,
        request_terminate_timeout=get.get("request_terminate_timeout"),
        directives=directives,
    )


def fpm_service(spec: dict[str, Any]) -> FpmService:
    version = str(spec.get("version", "8.2"))
    state = spec.get("state", "running")
    pools_spec = spec.get("pools", ["www"])
    pools = [pool(p) if isinstance(p, str) else pool(p["name"], p.get("set")) for p in pools_spec]
    return FpmService(
        version=version,
        service=f"php{version}-fpm",
        binary=f"/usr/sbin/php-fpm{version}",
        init="sysv",
        state=state,
        master_pid=spec.get("master_pid", 16139 if state == "running" else None),
        master_started=spec.get("master_started"),
        pid_file=spec.get("pid_file", f"{LAB}/run/php-fpm.pid"),
        pid_file_stale=bool(spec.get("pid_file_stale", False)),
        config_test_ok=spec.get("config_test_ok", True),
        config_test_output=spec.get("config_test_output", ""),
        global_file=FPM_CONF,
        error_log=LOG_SOURCES["fpm"],
        pools=pools,
        worker_rss_kb=list(spec.get("worker_rss_kb", [21000, 23500])),
    )


def web_server(spec: dict[str, Any]) -> WebServer:
    kind = spec.get("kind", "nginx")
    conf = NGINX_CONF if kind == "nginx" else APACHE_CONF
    default_target = (
        ["unix:/tmp/dl/run/php8.2-fpm.sock", 17]
        if kind == "nginx"
        else ["proxy:unix:/tmp/dl/run/php8.2-fpm.sock|fcgi://localhost", 29]
    )
    targets = [target(str(t[0]), conf, int(t[1])) for t in spec.get("targets", [default_target])]
    proxies = [
        Directive("proxy_pass" if kind == "nginx" else "ProxyPass", tuple(str(a) for a in p[0]), conf, int(p[1]))
        for p in spec.get("proxy_passes", [])
    ]
    default_mods = [
        "mpm_event_module",
        "authz_core_module",
        "mime_module",
        "dir_module",
        "proxy_module",
        "proxy_fcgi_module",
    ]
    return WebServer(
        kind=kind,
        running=spec.get("running", True),
        service="nginx" if kind == "nginx" else "apache2",
        user=spec.get("user", "www-data"),
        pids=[16150] if spec.get("running", True) else [],
        config_test_ok=spec.get("config_test_ok", True),
        config_test_output=spec.get("config_test_output", ""),
        fastcgi_targets=targets,
        proxy_passes=proxies,
        modules=list(spec.get("modules", default_mods if kind == "apache" else [])),
        error_logs=[LOG_SOURCES["nginx" if kind == "nginx" else "apache"]],
    )


def probe(spec: dict[str, Any] | None, kind: str) -> HttpProbe | None:
    if spec is None:
        return None
    server = "nginx/1.22.1" if kind == "nginx" else "Apache/2.4.71 (Debian)"
    status = spec.get("status")
    hint = "Lab Site &#8211; Just another WordPress site" if status == 200 else None
    return HttpProbe(
        url=spec.get("url", "http://lab.test/"),
        status=status,
        seconds=spec.get("seconds", 0.01),
        error=spec.get("error"),
        server=spec.get("server", server),
        body_hint=spec.get("body_hint", hint),
        wordpress=spec.get("wordpress"),
    )


def build_facts(case: dict[str, Any]) -> HostFacts:
    """Turn one case's ``facts:`` mapping into the typed facts the classifier reads."""
    f = case.get("facts", {})
    web = web_server(f.get("web", {}))
    fpm_spec = f.get("fpm", [{}])
    fpm = [fpm_service(s) for s in (fpm_spec if isinstance(fpm_spec, list) else [fpm_spec])]
    default_sockets = (
        [{"path": "/tmp/dl/run/php8.2-fpm.sock", "owner": "www-data", "group": "www-data", "mode": "0660"}]
        if any(s.state == "running" for s in fpm)
        else []
    )
    sockets = [
        SocketFile(s["path"], s["owner"], s["group"], int(str(s["mode"]), 8), s.get("is_socket", True))
        for s in f.get("sockets", default_sockets)
    ]
    logs = [
        LogLine(LOG_SOURCES.get(entry["source"], entry["source"]), entry["text"], entry.get("time"))
        for entry in f.get("logs", [])
    ]
    res = f.get("resources", {})
    wp = f.get("wordpress", {})
    return HostFacts(
        now=float(f.get("now", 1795311300.0)),
        tz="+0000",
        web=web,
        fpm=fpm,
        sockets=sockets,
        tcp=[TcpListener(t[0], int(t[1]), t[2]) for t in f.get("tcp", [])],
        logs=logs,
        log_window_start=float(f.get("log_window_start", 1795300000.0)),
        dmesg_readable=bool(f.get("dmesg_readable", True)),
        resources=Resources(
            mem_total_kb=res.get("mem_total_kb", 4_000_000),
            mem_available_kb=res.get("mem_available_kb", 2_500_000),
        ),
        wordpress=WordPress(
            root=wp.get("root", "/tmp/dl/www"),
            version=wp.get("version", "6.4.3"),
            active_plugins=wp.get("active_plugins", ["akismet/akismet.php"]),
        ),
        local_probe=probe(f.get("local_probe", {"status": 200}), web.kind),
        remote_probe=probe(f.get("remote_probe"), web.kind),
        missing_paths=list(f.get("missing_paths", [])),
    )


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    yaml = YAML(typ="safe")
    out = []
    for path in sorted((CORPUS / "cases").glob("*.yaml")):
        out.append((path.stem, yaml.load(path.read_text())))
    return out
