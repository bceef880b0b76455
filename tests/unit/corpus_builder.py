"""A corpus case as the evidence script would print it, parsed by the product's own parser.

A case (``fixtures/corpus/cases/*.yaml``) only says what differs from a healthy lab host: the
private nginx/Apache + php-fpm 8.2 instances the log lines were captured from, whose real
configuration files are ``fixtures/corpus/captured/lab/``.  :func:`evidence_for` writes that host's
evidence output — the lab's nginx.conf / apache2.conf / php-fpm.conf as ``nginx -T`` and the
script print them (only the server blocks and pools the case uses; the others blanked so every
line keeps its number), ``ps``, pid files, ``stat``, the probe, the case's log lines in their
log files — and :func:`build_facts` runs ``parse_evidence`` on it, so the classifier sees facts
made by the real parse path, never by a second parser here.  Section framing is
``tests/unit/evidence_text.py``'s alone.

Only the remote probe is built directly: it is the controller's own request (``runner.remote_probe``),
not part of the evidence output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from remediations.facts.model import HostFacts, HttpProbe
from remediations.facts.script import parse_evidence
from tests.unit.evidence_text import FIXTURE_BOUNDARY, RawSection, render

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
LAB_FILES = CORPUS / "captured" / "lab"
LAB = "/tmp/dl"
NGINX_CONF = f"{LAB}/nginx/nginx.conf"
APACHE_CONF = f"{LAB}/apache/apache2.conf"
FPM_CONF = f"{LAB}/php-fpm.conf"
LOG_SOURCES = {
    "nginx": f"{LAB}/nginx/logs/error.log",
    "fpm": f"{LAB}/log/php8.2-fpm.log",
    "apache": f"{LAB}/apache/logs/error.log",
}
NOW = 1795311300  # 2026-11-22 01:35:00 UTC, amid the captured lines
WINDOW_START = 1795300000  # every captured line is inside the recent window
NGINX_PID, APACHE_PID, FPM_PID = 16150, 19417, 16139
DEFAULT_TARGET = {"nginx": 17, "apache": 29}  # the lab's good-socket server / vhost
WP_TITLE = "Lab Site &#8211; Just another WordPress site"
DEFAULT_APACHE_MODULES = [
    "mpm_event_module",
    "authz_core_module",
    "mime_module",
    "dir_module",
    "proxy_module",
    "proxy_fcgi_module",
]


# ---- configuration files: the lab's, cut down to what the case uses -------------------------------
def _blocks(lines: list[str], opens: str, closes: str | None) -> list[tuple[int, int]]:
    """(first, last) 1-based line ranges of each nginx ``server {}`` / Apache ``<VirtualHost>``."""
    out: list[tuple[int, int]] = []
    start, depth = 0, 0
    for n, line in enumerate(lines, 1):
        if not start and line.lstrip().startswith(opens):
            start, depth = n, 0
        if start:
            depth += line.count("{") - line.count("}") if closes is None else 0
            ended = depth <= 0 if closes is None else line.strip().startswith(closes)
            if ended:
                out.append((start, n))
                start = 0
    return out


def _keep_blocks(text: str, keep: set[int], opens: str, closes: str | None) -> list[str]:
    lines = text.splitlines()
    for first, last in _blocks(lines, opens, closes):
        if not any(first <= k <= last for k in keep):
            for n in range(first, last + 1):
                lines[n - 1] = ""
    return lines


def _set_target(lines: list[str], line: int, raw: str, kind: str) -> None:
    """Put ``raw`` as the FastCGI target on ``line`` (which must already hold one)."""
    pattern = r"(fastcgi_pass )[^;]+(;)" if kind == "nginx" else r'(SetHandler ")[^"]+(")|(ProxyPassMatch \S+ )\S+()'
    text = lines[line - 1]
    new, n = re.subn(pattern, lambda m: f"{m.group(1) or m.group(3)}{raw}{m.group(2) or ''}", text, count=1)
    assert n == 1, f"line {line} of the lab {kind} config holds no FastCGI target: {text!r}"
    lines[line - 1] = new


def web_config(web: dict[str, Any]) -> tuple[str, str]:
    """(path, text) of the lab's web server config with only the case's server blocks."""
    kind = web.get("kind", "nginx")
    path, name = (NGINX_CONF, "nginx.conf") if kind == "nginx" else (APACHE_CONF, "apache2.conf")
    targets = [(str(t[0]), int(t[1])) for t in web.get("targets", [[None, DEFAULT_TARGET[kind]]])]
    keep = {line for _raw, line in targets} | {int(p[1]) for p in web.get("proxy_passes", [])}
    text = (LAB_FILES / name).read_text()
    if kind == "nginx":
        lines = _keep_blocks(text, keep, "server {", None)
    else:
        lines = _keep_blocks(text, keep, "<VirtualHost", "</VirtualHost>")
    for raw, line in targets:
        if raw != "None":
            _set_target(lines, line, raw, kind)
    return path, "\n".join(lines) + "\n"


def _pool_sections(text: str) -> dict[str, tuple[int, int]]:
    lines = text.splitlines()
    heads = [(n, m.group(1)) for n, ln in enumerate(lines, 1) if (m := re.fullmatch(r"\[([^\]]+)\]", ln.strip()))]
    ends = [n - 1 for n, _ in heads[1:]] + [len(lines)]
    return {name: (first, last) for (first, name), last in zip(heads, ends, strict=True)}


def fpm_files(spec: dict[str, Any], conf: str) -> dict[str, str]:
    """The lab's php-fpm.conf with the case's pools; new pools appended (or in their own file)."""
    lab = (LAB_FILES / "php-fpm.conf").read_text()
    sections = _pool_sections(lab)
    lines = lab.splitlines()
    wanted = [p if isinstance(p, dict) else {"name": p} for p in spec.get("pools", ["www"])]
    names = {p["name"] for p in wanted}
    for name, (first, last) in sections.items():
        if name != "global" and name not in names:
            lines[first - 1 : last] = [""] * (last - first + 1)
    extra: dict[str, list[str]] = {}
    for pool in wanted:
        values = dict(pool.get("set", {}))
        file = values.pop("file", conf)
        if pool["name"] in sections:
            first, last = sections[pool["name"]]
            for key, value in values.items():
                value = value[0] if isinstance(value, list) else value
                n = next(n for n in range(first, last + 1) if lines[n - 1].split("=")[0].strip() == key)
                lines[n - 1] = f"{key} = {value}"
        else:
            body = [f"[{pool['name']}]", "user = www-data", "group = www-data"]
            body += [f"{k} = {v[0] if isinstance(v, list) else v}" for k, v in values.items()]
            extra.setdefault(file, []).extend(body)
    files: dict[str, str] = {}
    if conf == FPM_CONF:
        files[conf] = "\n".join(lines + extra.pop(conf, [])) + "\n"
    else:  # another PHP version: its own php-fpm.conf, pools in their pool.d file
        files[conf] = f"[global]\npid = /run/php/{Path(conf).parent.parent.name}-fpm.pid\n"
    files.update({f: "\n".join(body) + "\n" for f, body in extra.items()})
    return files


# ---- sections -------------------------------------------------------------------------------------
def _ps_line(pid: int, ppid: int, user: str, etimes: int, rss: int, comm: str, args: str) -> str:
    return f"{pid:5d} {ppid:5d} {user:<12} {etimes:5d} {rss:5d} {comm:<15} {args}"


def _web_sections(web: dict[str, Any]) -> tuple[list[RawSection], list[str]]:
    kind = web.get("kind", "nginx")
    running = web.get("running", True)
    user = web.get("user", "www-data")
    path, text = web_config(web)
    if kind == "nginx":
        pid_path = f"{LAB}/nginx/nginx.pid"
        head = f"nginx: the configuration file {path} syntax is ok\n"
        head += f"nginx: configuration file {path} test is successful\n"
        sections: list[RawSection] = [
            ("cmd", "nginx-T", f"{head}# configuration file {path}:\n{text}\n"),
            ("rc", "nginx-T", "0"),
        ]
        pid, comm, master = NGINX_PID, "nginx", f"nginx: master process nginx -p {LAB}/nginx -c {path}"
        worker = "nginx: worker process"
    else:
        pid_path = f"{LAB}/apache/apache2.pid"
        run = f'Main ErrorLog: "{LOG_SOURCES["apache"]}"\nPidFile: "{pid_path}"\nUser: name="{user}" id=33\n'
        mods = "".join(f" {m} (shared)\n" for m in web.get("modules", DEFAULT_APACHE_MODULES))
        sections = [
            ("cmd", "apache-S", run + 'Group: name="www-data" id=33'),
            ("rc", "apache-S", "0"),
            ("cmd", "apache-M", "Loaded Modules:\n core_module (static)\n" + mods),
            ("rc", "apache-M", "0"),
            ("cmd", "apache-configtest", "Syntax OK"),
            ("rc", "apache-configtest", "0"),
        ]
        pid, comm, master = APACHE_PID, "apache2", f"/usr/sbin/apache2 -d {LAB}/apache -f apache2.conf -k start"
        worker = master
    alive = f"pid={pid}\nalive=yes" if running else "exists=no"
    sections.append(("pidfile", kind if kind == "nginx" else "apache", f"path={pid_path}\n{alive}"))
    if kind == "apache":
        sections.append(("file", path, text))
    ps = [_ps_line(pid, 1, "root", 86400, 3000, comm, master), _ps_line(pid + 1, pid, user, 86400, 4000, comm, worker)]
    return sections, ps if running else []


def _fpm_sections(spec: dict[str, Any]) -> tuple[list[RawSection], list[str]]:
    version = str(spec.get("version", "8.2"))
    state = spec.get("state", "running")
    conf = FPM_CONF if version == "8.2" else f"/etc/php/{version}/fpm/php-fpm.conf"
    pid = spec.get("master_pid", FPM_PID if version == "8.2" else FPM_PID - 100)
    binary = f"/usr/sbin/php-fpm{version}"
    kv = [f"binary={binary}", "installed=yes", f"binary_real={binary}"]
    # what the script prints for a Debian package's binary: root's alone, so fix502 may run it
    kv += [f"binary_stat=0|755|regular file|{binary}", "binary_stat=0|755|directory|/usr/sbin"]
    kv += ["binary_stat=0|755|directory|/usr", "binary_stat=0|755|directory|/", f"conf={conf}", "init=sysv"]
    kv += [f"pidfile={LAB}/run/php-fpm.pid", f"error_log={LOG_SOURCES['fpm']}"]
    ps: list[str] = []
    if state == "running":
        kv += [f"pid={pid}", "pid_alive=yes", f"pid_comm=php-fpm{version}"]
        started = spec.get("master_started")
        etimes = 86400 if started is None else int(NOW - started)
        master = f"php-fpm: master process ({conf})"
        ps.append(_ps_line(pid, 1, "root", etimes, 8000, f"php-fpm{version}", master))
        for n, rss in enumerate(spec.get("worker_rss_kb", [21000, 23500]), 1):
            ps.append(_ps_line(pid + n, pid, "www-data", etimes, rss, f"php-fpm{version}", "php-fpm: pool www"))
    elif spec.get("pid_file_stale"):
        kv += [f"pid={pid}", "pid_alive=no"]
    else:
        kv += ["pidfile_exists=no"]
    ok = spec.get("config_test_ok", True)
    sections: list[RawSection] = [
        ("fpm", version, "\n".join(kv)),
        ("cmd", f"fpm-t {version}", spec.get("config_test_output", "")),
        ("rc", f"fpm-t {version}", "0" if ok else "78"),
    ]
    sections += [("file", path, text) for path, text in fpm_files(spec, conf).items()]
    return sections, ps


def _probe(spec: dict[str, Any], kind: str) -> str:
    status = spec.get("status")
    lines = [f"url={spec.get('url', 'http://lab.test/')}", f"result={status or '000'} {spec.get('seconds', 0.01)}"]
    lines.append(f"curl_rc={0 if status else 7}")
    server = spec.get("server", "nginx/1.22.1" if kind == "nginx" else "Apache/2.4.71 (Debian)")
    if status and server:
        lines.append(f"server={server}")
    title = spec.get("body_hint", WP_TITLE if status == 200 else None)
    if title:
        lines.append(f"title={title}")
    if spec.get("wordpress") is not None:
        lines.append(f"generator={'yes' if spec['wordpress'] else 'no'}")
    if spec.get("error"):
        lines.append(f"error={spec['error']}")
    return "\n".join(lines)


def _socket_lines(f: dict[str, Any], any_running: bool) -> str:
    default = [{"path": f"{LAB}/run/php8.2-fpm.sock", "owner": "www-data", "group": "www-data", "mode": "0660"}]
    socks = f.get("sockets", default if any_running else [])
    lines = [f"{s['path']}|{s['owner']}|{s['group']}|{int(str(s['mode']), 8):o}|socket" for s in socks]
    return "\n".join(lines + [f"missing|{p}" for p in f.get("missing_paths", [])])


def _log_sections(logs: list[dict[str, Any]], readable: bool) -> list[RawSection]:
    by_file: dict[str, list[str]] = {path: [] for path in LOG_SOURCES.values()}
    kernel: list[str] = []
    for entry in logs:
        if entry["source"] == "dmesg":
            kernel.append(entry["text"])
        else:
            by_file.setdefault(LOG_SOURCES.get(entry["source"], entry["source"]), []).append(entry["text"])
    out: list[RawSection] = [("log", path, "\n".join(lines)) for path, lines in by_file.items()]
    if readable:
        return [*out, ("cmd", "dmesg", "\n".join(kernel)), ("rc", "dmesg", "0")]
    return [*out, ("cmd", "dmesg", "dmesg: read kernel buffer failed: Operation not permitted"), ("rc", "dmesg", "1")]


def evidence_for(case: dict[str, Any]) -> str:
    """The evidence script's output for this case's host."""
    f = case.get("facts", {})
    web = f.get("web", {})
    kind = web.get("kind", "nginx")
    fpm_spec = f.get("fpm", [{}])
    services = fpm_spec if isinstance(fpm_spec, list) else [fpm_spec]
    now = int(f.get("now", NOW))
    sections: list[RawSection] = [("meta", "", f"now={now}\ntz=+0000\nhostname=lab\nuptime=90000.00\nlines=400")]
    probe = f.get("local_probe", {"status": 200})
    if probe is not None:
        sections.append(("probe", "", _probe(probe, kind)))
    web_sections, ps = _web_sections(web)
    sections += web_sections
    fpm_sections: list[RawSection] = []
    for spec in services:
        more, procs = _fpm_sections(spec)
        fpm_sections += more
        ps += procs
    sections.append(("ps", "", "\n".join(ps)))
    sections += fpm_sections
    any_running = any(s.get("state", "running") == "running" for s in services)
    sections.append(("sockets", "", _socket_lines(f, any_running)))
    ss = [f'LISTEN 0 4096 {a}:{p} 0.0.0.0:* users:(("{proc}",pid={FPM_PID},fd=8))' for a, p, proc in f.get("tcp", [])]
    sections += [("cmd", "ss-t", "\n".join(ss)), ("cmd", "ss-x", "")]
    sections += _log_sections(f.get("logs", []), bool(f.get("dmesg_readable", True)))
    res, wp = f.get("resources", {}), f.get("wordpress", {})
    mem = f"MemTotal: {res.get('mem_total_kb', 4_000_000)} kB\n"
    mem += f"MemAvailable: {res.get('mem_available_kb', 2_500_000)} kB"
    plugins = wp.get("active_plugins", ["akismet/akismet.php"])
    data = json.dumps({"active_plugins": plugins, "template": "twentytwentythree"})
    wordpress = f"root={wp.get('root', LAB + '/www')}\nversion={wp.get('version', '6.4.3')}\ndata={data}"
    sections += [("meminfo", "", mem), ("wordpress", "", wordpress), ("notes", "", ""), ("end", "", "")]
    return render(sections)


def _remote_probe(spec: dict[str, Any] | None, kind: str) -> HttpProbe | None:
    if spec is None:
        return None
    server = "nginx/1.22.1" if kind == "nginx" else "Apache/2.4.71 (Debian)"
    return HttpProbe(
        url=spec.get("url", "http://lab.test/"),
        status=spec.get("status"),
        seconds=spec.get("seconds", 0.01),
        error=spec.get("error"),
        server=spec.get("server", server),
    )


def build_facts(case: dict[str, Any]) -> HostFacts:
    """The case's host as the real parser reads it (plus the controller's remote probe)."""
    f = case.get("facts", {})
    window = int(f.get("now", NOW)) - int(f.get("log_window_start", WINDOW_START))
    facts = parse_evidence(evidence_for(case), FIXTURE_BOUNDARY, window_seconds=window)
    facts.remote_probe = _remote_probe(f.get("remote_probe"), f.get("web", {}).get("kind", "nginx"))
    return facts


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    yaml = YAML(typ="safe")
    return [(path.stem, yaml.load(path.read_text())) for path in sorted((CORPUS / "cases").glob("*.yaml"))]
