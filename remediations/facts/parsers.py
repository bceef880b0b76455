"""Pure parsers, one per section of the evidence script's output.

Each takes the text of one section (exactly as the host printed it) and returns typed values
from :mod:`remediations.facts.model`.  None of them touches the network or the disk, so every
one can be tested against captured output and the whole diagnosis can be replayed offline.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from remediations.endpoint import Endpoint
from remediations.errors import CommandFailed
from remediations.facts import site
from remediations.facts.model import (
    Directive,
    FastcgiTarget,
    FpmPool,
    HttpProbe,
    LogLine,
    Resources,
    SocketFile,
    TcpListener,
    WordPress,
)
from remediations.facts.nginx_tree import NginxStmt, parse_nginx_file, walk_nginx
from remediations.nginxconf import NginxSyntaxError

BOUNDARY = re.compile(r"[0-9a-f]{32}")


def marker(boundary: str) -> re.Pattern[str]:
    """A section header ``\n==fix502:BOUNDARY KIND[ ARG]==\n`` for this run's boundary only.

    The boundary is a random token the controller hands the script on stdin (never in argv, which
    every local user can read in /proc), so nothing the host prints — a log line a web user wrote,
    a plugin directory name, ``nginx -T`` — can start or end a section."""
    if not BOUNDARY.fullmatch(boundary):
        raise ValueError("an evidence boundary is 32 lowercase hex digits")
    return re.compile(r"\n==fix502:" + boundary + r" ([a-z][a-z0-9-]*)(?: ([^\n]*))?==\n")


class EvidenceError(CommandFailed):
    """The evidence output is not what the script prints (a section twice, a bad boundary):
    refuse the whole of it rather than guess which copy is true."""

    kind = "bad-evidence"


@dataclass(frozen=True)
class Section:
    kind: str
    arg: str
    body: str


def split_sections(output: str, boundary: str) -> list[Section]:
    """Cut the script's output at this run's markers (text before the first is dropped).

    Each marker is printed on its own line with a newline before it, so a body is exactly the bytes
    the host printed between two markers, whether or not it ended with a newline."""
    sections: list[Section] = []
    text = "\n" + output
    last: tuple[str, str, int] | None = None
    for m in marker(boundary).finditer(text):
        if last is not None:
            sections.append(Section(last[0], last[1], text[last[2] : m.start()]))
        last = (m.group(1), m.group(2) or "", m.end())
    if last is not None:
        sections.append(Section(last[0], last[1], text[last[2] :]))
    return sections


def frame(sections: Iterable[tuple[str, str, str]], boundary: str) -> str:
    """The inverse of :func:`split_sections`: ``(kind, arg, body)`` triples as the script prints them
    (bodies verbatim).  For tests and fixtures; the script itself frames with ``sec()``."""
    marker(boundary)
    return "".join(f"\n==fix502:{boundary} {kind}{' ' + arg if arg else ''}==\n{body}" for kind, arg, body in sections)


def parse_kv(body: str) -> dict[str, list[str]]:
    """``key=value`` lines; a key may repeat (``plugin=``), so every value is kept in order.

    Lines end at ``\n`` only: ``str.splitlines`` also splits at \\x1c, \\x85, U+2028..., which a
    site title or file name may contain to invent a ``key=`` line."""
    out: dict[str, list[str]] = {}
    for line in body.split("\n"):
        key, sep, value = line.partition("=")
        if sep and key and " " not in key:
            out.setdefault(key, []).append(value)
    return out


def _first(kv: dict[str, list[str]], key: str) -> str | None:
    values = kv.get(key)
    return values[0] if values else None


# ---- meta ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Meta:
    now: float
    tz: str
    hostname: str
    uptime: float | None
    root: str = ""  # the script's FIX502_ROOT test hook: paths outside it are not this "host"'s


def parse_meta(body: str) -> Meta:
    kv = parse_kv(body)
    uptime = _first(kv, "uptime")
    return Meta(
        now=float(_first(kv, "now") or 0),
        tz=_first(kv, "tz") or "+0000",
        hostname=_first(kv, "hostname") or "",
        uptime=float(uptime) if uptime else None,
        root=_first(kv, "root") or "",
    )


def tzinfo_of(tz: str) -> timezone:
    """``date +%z`` (``+0530``) as a tzinfo; logs are written in host local time."""
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", tz.strip())
    if not m:
        return UTC
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(-delta if m.group(1) == "-" else delta)


# ---- probe --------------------------------------------------------------------------------------
def parse_probe(body: str) -> HttpProbe:
    kv = parse_kv(body)
    url = _first(kv, "url") or ""
    status: int | None = None
    seconds: float | None = None
    result = (_first(kv, "result") or "").split()
    if result:
        try:
            code = int(result[0])
            status = code if code > 0 else None  # curl prints 000 when no HTTP answer came
        except ValueError:
            status = None
    if len(result) > 1:
        try:
            seconds = float(result[1])
        except ValueError:
            seconds = None
    error = _first(kv, "error") or None
    if error is None and status is None and _first(kv, "curl_rc") not in (None, "0"):
        error = f"curl exit {_first(kv, 'curl_rc')}"
    generator = _first(kv, "generator")
    return HttpProbe(
        url=url,
        status=status,
        seconds=seconds,
        error=error,
        server=_first(kv, "server") or None,
        body_hint=_first(kv, "title") or None,
        wordpress=None if generator is None else generator == "yes",
    )


# ---- nginx --------------------------------------------------------------------------------------
NGINX_FILE = re.compile(r"^# configuration file ([^\n]+):\n", re.M)


def split_nginx_dump(text: str) -> tuple[str, dict[str, str]]:
    """Split ``nginx -T`` into its test messages and the exact bytes of each file it printed.

    nginx writes each file's buffer as it is and then one newline (``ngx_write_stdout(LF)`` in
    nginx.c), so removing exactly that one newline gives the file back byte for byte — with or
    without its final newline, with trailing blank lines, with CRLF.  An edit's ``before`` must be
    those bytes, or the journal (rightly) refuses to write a file that "changed on the host"."""
    heads = list(NGINX_FILE.finditer(text))
    if not heads:
        return text, {}
    out: dict[str, str] = {}
    for m, nxt in zip(heads, [*heads[1:], None], strict=True):
        body = text[m.end() : nxt.start() if nxt else len(text)]
        out.setdefault(m.group(1), body[:-1] if body.endswith("\n") else body)
    return text[: heads[0].start()].rstrip("\n"), out


def short_dump_files(files: dict[str, str], sizes: str) -> list[str]:
    """Files ``nginx -T`` printed with fewer bytes than they have (``sizes``: ``BYTES PATH`` lines
    from stat right after), or whose size could not be read.  nginx prints every file whole, so a
    short one holds a forged ``# configuration file`` line (the rest was taken for another file) or
    changed meanwhile: either way the dump is not the configuration.  Longer is fine — invalid
    UTF-8 comes back as U+FFFD, three bytes for one."""
    real: dict[str, int] = {}
    for line in sizes.splitlines():
        n, sep, path = line.partition(" ")
        if sep and n.isdigit():
            real[path] = int(n)
    return sorted(path for path, text in files.items() if len(text.encode()) < real.get(path, 1 << 62))


NGINX_BUFFERS = frozenset(
    {"fastcgi_buffer_size", "fastcgi_buffers", "fastcgi_busy_buffers_size", "fastcgi_read_timeout"}
)


@dataclass
class WebConfig:
    """What a web server's config says, before running processes are taken into account."""

    fastcgi_targets: list[FastcgiTarget] = field(default_factory=list)
    unresolved_targets: list[Directive] = field(default_factory=list)
    buffer_directives: list[Directive] = field(default_factory=list)
    proxy_passes: list[Directive] = field(default_factory=list)
    roots: list[Directive] = field(default_factory=list)
    error_logs: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)
    user: str | None = None
    pid_file: str | None = None
    errors: list[str] = field(default_factory=list)
    site: str | None = None  # the server block that serves the site (file:line server_name ...)
    foreign_logs: list[str] = field(default_factory=list)  # error_logs of the host's other sites only


def _directive(s: NginxStmt) -> Directive:
    return Directive(s.directive, s.args, s.file, s.line)


def _nginx_targets(s: NginxStmt, upstreams: dict[str, list[NginxStmt]], cfg: WebConfig) -> None:
    """One ``fastcgi_pass``: its own address, or the ``server`` lines of the upstream it names.

    A variable (``fastcgi_pass $upstream``) or a name with no upstream block cannot be resolved
    from the configuration alone: it is kept aside as unresolved, never guessed as a host."""
    d = _directive(s)
    arg = s.args[0]
    direct = Endpoint.from_fastcgi_pass(arg)
    if direct is not None:
        cfg.fastcgi_targets.append(FastcgiTarget(direct, d, arg))
        return
    servers = upstreams.get(arg) if "$" not in arg else None
    if not servers:
        cfg.unresolved_targets.append(d)
        return
    for server in servers:
        endpoint = Endpoint.from_upstream_server(server.args[0])
        if endpoint is None:
            cfg.unresolved_targets.append(_directive(server))
        else:
            cfg.fastcgi_targets.append(FastcgiTarget(endpoint, _directive(server), server.args[0], via=d))


def parse_nginx_config(files: dict[str, str], site_url: str | None = None, address: str | None = None) -> WebConfig:
    """fastcgi_pass (resolving ``upstream`` names to their servers), buffers, roots, logs, listen.

    With ``site_url``, only the chain of the server block nginx serves that URL from counts for
    the targets, buffers and roots (and that block's error_log for the logs); without it, or when
    no block can be told, every block does (and ``site`` says so)."""
    cfg = WebConfig()
    trees: dict[str, tuple[NginxStmt, ...]] = {}
    for path, text in files.items():
        try:
            trees[path] = parse_nginx_file(path, text)
        except NginxSyntaxError as e:
            cfg.errors.append(f"{path}: {e}")
    everything = [s for tree in trees.values() for s in walk_nginx(tree)]
    upstreams = {
        s.args[0]: [b for b in s.block if b.directive == "server" and b.args]
        for s in everything
        if s.directive == "upstream" and s.args and s.block is not None
    }
    scope = _site_scope(cfg, trees, next(iter(files), ""), site_url, address) if site_url else None
    _chain(cfg, everything if scope is None else scope, upstreams)
    for s in everything:
        name, args = s.directive, s.args
        if name == "error_log" and args:
            cfg.error_logs.append(args[0])
        elif name == "listen" and args:
            cfg.listen.append(args[0])
        elif name == "user" and args:
            cfg.user = args[0]
        elif name == "pid" and args:
            cfg.pid_file = args[0]
    return cfg


def _site_scope(
    cfg: WebConfig, trees: dict[str, tuple[NginxStmt, ...]], main: str, url: str, address: str | None
) -> list[NginxStmt] | None:
    """The statements of the site's own server block plus what every block inherits (the http
    level outside any server), or None when the site's block cannot be told."""
    tree = site.expand(trees, main)
    blocks = site.servers(tree)
    chosen = site.select(blocks, url, address)
    if chosen is None:
        cfg.site = None
        return None
    cfg.site = chosen.where
    mine = set(site.error_logs(chosen))
    cfg.foreign_logs = sorted({log for b in blocks if b is not chosen for log in site.error_logs(b)} - mine)
    inherited = [s for s in walk_nginx(tree) if s.directive != "server"]
    inside = {id(x) for b in blocks for x in walk_nginx(b.body)}
    return [s for s in inherited if id(s) not in inside] + list(walk_nginx(chosen.body))


def _chain(cfg: WebConfig, stmts: Iterable[NginxStmt], upstreams: dict[str, list[NginxStmt]]) -> None:
    simple = {"proxy_pass": cfg.proxy_passes, "root": cfg.roots}
    for s in stmts:
        name, args = s.directive, s.args
        if name == "fastcgi_pass" and args:
            _nginx_targets(s, upstreams, cfg)
        elif name in NGINX_BUFFERS:
            cfg.buffer_directives.append(_directive(s))
        elif name in simple and args:
            simple[name].append(_directive(s))


# ---- Apache -------------------------------------------------------------------------------------
def apache_directives(path: str, text: str) -> Iterator[Directive]:
    """Apache's line syntax: ``#`` comments, ``\\`` continuations, quoted arguments; <Sections> too."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].strip()
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', stripped)
        parts = [q if q or not u else u for q, u in words]
        if not parts:
            continue
        yield Directive(parts[0], tuple(parts[1:]), path, start + 1)


def _apache_target(cfg: WebConfig, raw: str, d: Directive) -> None:
    endpoint = Endpoint.from_apache_handler(raw)
    if endpoint is None:
        cfg.unresolved_targets.append(d)
    else:
        cfg.fastcgi_targets.append(FastcgiTarget(endpoint, d, raw))


def parse_apache_config(files: dict[str, str], log_dir: str = "/var/log/apache2") -> WebConfig:
    cfg = WebConfig()
    for path, text in files.items():
        for d in apache_directives(path, text):
            name = d.name.lower()
            args = d.args
            if name == "sethandler" and args and args[0].lower().startswith("proxy:"):
                _apache_target(cfg, args[0], d)
            elif name == "proxypassmatch" and len(args) >= 2 and re.match(r"(?i)(unix:|fcgi://)", args[1]):
                _apache_target(cfg, args[1], d)
            elif name in ("proxypass", "proxypassmatch") and len(args) >= 2:
                cfg.proxy_passes.append(d)
            elif name == "documentroot" and args:
                cfg.roots.append(d)
            elif name == "errorlog" and args:
                cfg.error_logs.append(args[0].replace("${APACHE_LOG_DIR}", log_dir))
            elif name == "listen" and args:
                cfg.listen.append(args[0])
    return cfg


def parse_apache_modules(text: str) -> list[str]:
    """``apache2ctl -M``: `` proxy_fcgi_module (shared)`` lines."""
    return re.findall(r"^\s+(\w+_module) \((?:shared|static)\)", text, re.M)


def parse_apache_run(text: str) -> dict[str, str]:
    """``apache2ctl -S``'s run settings (User, PidFile, Main ErrorLog, Main DocumentRoot)."""
    out: dict[str, str] = {}
    for m in re.finditer(r'^(User|Group): name="([^"]*)"', text, re.M):
        out[m.group(1)] = m.group(2)
    for m in re.finditer(r'^(PidFile|Main ErrorLog|Main DocumentRoot): "([^"]*)"', text, re.M):
        out[m.group(1)] = m.group(2)
    return out


# ---- processes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    user: str
    etimes: int
    rss_kb: int
    comm: str
    args: str


def parse_ps(body: str) -> list[Proc]:
    """``ps -eo pid=,ppid=,user=,etimes=,rss=,comm=,args=`` lines (zombies included: they tell a crash)."""
    procs: list[Proc] = []
    for line in body.splitlines():
        parts = line.split(None, 6)
        if len(parts) < 6 or not parts[0].isdigit():
            continue
        try:
            procs.append(
                Proc(
                    pid=int(parts[0]),
                    ppid=int(parts[1]),
                    user=parts[2],
                    etimes=int(parts[3]),
                    rss_kb=int(parts[4]),
                    comm=parts[5],
                    args=parts[6] if len(parts) > 6 else "",
                )
            )
        except ValueError:
            continue
    return procs


@dataclass(frozen=True)
class PidFile:
    path: str
    pid: int | None
    exists: bool
    alive: bool


def parse_pidfile(body: str) -> PidFile:
    kv = parse_kv(body)
    pid = _first(kv, "pid")
    return PidFile(
        path=_first(kv, "path") or "",
        pid=int(pid) if pid and pid.isdigit() else None,
        exists=_first(kv, "exists") != "no",
        alive=_first(kv, "alive") == "yes",
    )


# ---- PHP-FPM ------------------------------------------------------------------------------------
INI_LINE = re.compile(r"^\s*([^=;#\[\s][^=]*?)\s*=\s*(.*?)\s*$")


def _ini_value(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    value = re.split(r"\s;", value, maxsplit=1)[0].strip()  # trailing "; comment"
    return value


@dataclass
class FpmIni:
    """php-fpm.conf / pool.d: ``[global]`` directives and pools, each directive with file+line."""

    globals: dict[str, Directive] = field(default_factory=dict)
    pools: list[FpmPool] = field(default_factory=list)
    includes: list[Directive] = field(default_factory=list)


def parse_fpm_ini(files: dict[str, str], ini: FpmIni | None = None) -> FpmIni:
    """Parse FPM ini files in include order; a later file may add pools or re-set a pool's key."""
    out = ini or FpmIni()
    pools = {p.name: p for p in out.pools}
    for path, text in files.items():
        section: str | None = None
        for lineno, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped[0] in ";#":
                continue
            m = re.fullmatch(r"\[([^\]]+)\]", stripped)
            if m:
                section = m.group(1).strip()
                if section != "global" and section not in pools:
                    pools[section] = FpmPool(name=section, file=path)
                    out.pools.append(pools[section])
                continue
            kv = INI_LINE.match(line)
            if not kv:
                continue
            key, value = kv.group(1).strip(), _ini_value(kv.group(2))
            d = Directive(key, (value,), path, lineno)
            if key == "include":
                out.includes.append(d)
            elif section is None or section == "global":
                out.globals[key] = d
            else:
                _set_pool(pools[section], key, value, d)
    return out


def _set_pool(pool: FpmPool, key: str, value: str, d: Directive) -> None:
    pool.directives[key] = d
    simple = {
        "user": "user",
        "group": "group",
        "listen": "listen",
        "listen.owner": "listen_owner",
        "listen.group": "listen_group",
        "listen.mode": "listen_mode",
        "pm": "pm",
        "request_terminate_timeout": "request_terminate_timeout",
        "prefix": "prefix",
    }
    if key in simple:
        setattr(pool, simple[key], value)
    elif key == "pm.max_children":
        try:
            pool.max_children = int(value)
        except ValueError:
            pool.max_children = None


def include_matches(pattern: str, path: str) -> bool:
    return fnmatch.fnmatch(path, pattern)


FPM_TEST_OK = re.compile(r"configuration file .* test is successful")


# ---- sockets and listeners ----------------------------------------------------------------------
def parse_stat(body: str) -> tuple[list[SocketFile], list[str]]:
    """``stat -c '%n|%U|%G|%a|%F'`` lines, and ``missing|PATH`` for paths the config names but are absent."""
    found: list[SocketFile] = []
    missing: list[str] = []
    for line in body.splitlines():
        parts = line.rsplit("|", 4)
        if line.startswith("missing|"):
            missing.append(line[len("missing|") :])
        elif len(parts) == 5 and re.fullmatch(r"[0-7]{1,4}", parts[3]):
            found.append(SocketFile(parts[0], parts[1], parts[2], int(parts[3], 8), parts[4] == "socket"))
    return found, missing


def parse_file_meta(body: str) -> dict[str, tuple[str, str, int]]:
    files, _ = parse_stat(body)
    return {f.path: (f.owner, f.group, f.mode) for f in files}


USERS = re.compile(r'users:\(\("([^"]+)"')


def _split_addr(local: str) -> tuple[str, int] | None:
    host, sep, port = local.rpartition(":")
    if not sep or not port.isdigit():
        return None
    host = host.strip("[]")
    host = host.split("%", 1)[0]  # 127.0.0.53%lo
    return host, int(port)


def parse_ss_tcp(body: str) -> list[TcpListener]:
    """``ss -Hlnpt``: ``LISTEN 0 511 127.0.0.1:9000 0.0.0.0:* users:(("php-fpm8.2",pid=..))``."""
    out: list[TcpListener] = []
    for line in body.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] != "LISTEN":
            continue
        addr = _split_addr(parts[3])
        if addr is None:
            continue
        m = USERS.search(line)
        out.append(TcpListener(addr[0], addr[1], m.group(1) if m else ""))
    return out


def parse_ss_unix(body: str) -> dict[str, str]:
    """``ss -Hlnpx``: socket path -> process listening on it (``""`` when ss could not name it)."""
    out: dict[str, str] = {}
    for line in body.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[1] != "LISTEN":
            continue
        m = USERS.search(line)
        path = parts[4]
        if path.startswith("/") or path.startswith("@"):
            out[path] = m.group(1) if m else out.get(path, "")
    return out


def parse_netstat_tcp(body: str) -> list[TcpListener]:
    """``netstat -lntp``: ``tcp 0 0 127.0.0.1:9000 0.0.0.0:* LISTEN 123/php-fpm: maste``."""
    out: list[TcpListener] = []
    for line in body.splitlines():
        parts = line.split()
        if len(parts) < 6 or not parts[0].startswith("tcp") or "LISTEN" not in parts:
            continue
        addr = _split_addr(parts[3])
        if addr is None:
            continue
        prog = parts[6].split("/", 1)[1] if len(parts) > 6 and "/" in parts[6] else ""
        out.append(TcpListener(addr[0], addr[1], prog.rstrip(":")))
    return out


def parse_netstat_unix(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in body.splitlines():
        if not line.startswith("unix") or "LISTENING" not in line:
            continue
        path = line.split()[-1]
        m = re.search(r"\s\d+/(\S+)\s", line)
        if path.startswith("/"):
            out[path] = m.group(1) if m else ""
    return out


# ---- logs ---------------------------------------------------------------------------------------
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
NGINX_TIME = re.compile(r"^(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) ")
APACHE_TIME = re.compile(r"^\[\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\d{4})\]")
FPM_TIME = re.compile(r"^\[(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\]")
DMESG_TIME = re.compile(r"^\[\s*(\d+\.\d+)\]")


def _epoch(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None, tz: timezone) -> float | None:
    try:
        t = datetime(y, mo, d, h, mi, s, tzinfo=tz).timestamp()
    except ValueError:
        return None
    return t + (float("0." + frac) if frac else 0.0)


def log_time(line: str, tz: timezone, boot: float | None = None) -> float | None:
    """Epoch of a nginx, Apache, PHP-FPM or dmesg line (host local time), None when it has none."""
    m = NGINX_TIME.match(line)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups())
        return _epoch(y, mo, d, h, mi, s, None, tz)
    m = APACHE_TIME.match(line)
    if m and m.group(1) in MONTHS:
        return _epoch(
            int(m.group(7)),
            MONTHS[m.group(1)],
            int(m.group(2)),
            int(m.group(3)),
            int(m.group(4)),
            int(m.group(5)),
            m.group(6),
            tz,
        )
    m = FPM_TIME.match(line)
    if m and m.group(2) in MONTHS:
        return _epoch(
            int(m.group(3)),
            MONTHS[m.group(2)],
            int(m.group(1)),
            int(m.group(4)),
            int(m.group(5)),
            int(m.group(6)),
            m.group(7),
            tz,
        )
    m = DMESG_TIME.match(line)
    if m and boot is not None:
        return boot + float(m.group(1))
    return None


def parse_log(source: str, body: str, tz: timezone, boot: float | None = None) -> list[LogLine]:
    """Every timestamped line of one log; lines without a time (blank, continuation) are dropped.

    ``php-fpm -t`` writes "configuration file ... test is successful" into FPM's own log, so the
    evidence script itself leaves that line there on every run: it is dropped as our own noise.
    """
    out: list[LogLine] = []
    for line in body.splitlines():
        if not line.strip() or FPM_TEST_OK.search(line):
            continue
        t = log_time(line, tz, boot)
        if t is not None:
            out.append(LogLine(source, line, t))
    return out


# ---- memory -------------------------------------------------------------------------------------
def parse_meminfo(body: str) -> Resources:
    res = Resources()
    for line in body.splitlines():
        m = re.match(r"(MemTotal|MemAvailable):\s+(\d+) kB", line)
        if m and m.group(1) == "MemTotal":
            res.mem_total_kb = int(m.group(2))
        elif m:
            res.mem_available_kb = int(m.group(2))
    return res


# ---- WordPress ----------------------------------------------------------------------------------
RECENT_SECONDS = 48 * 3600
C_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39, "?": 63}


def c_unquote(text: str) -> str | None:
    """The first ``"..."`` of GNU ``QUOTING_STYLE=c`` output (``stat -c %N`` under ``LC_ALL=C``):
    C escapes and octal bytes, so a file name with a newline or ESC in it stays on one line.
    None when ``text`` does not start with a complete quoted string."""
    if not text.startswith('"'):
        return None
    out = bytearray()
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return out.decode("utf-8", "replace")
        if ch != "\\":
            out += ch.encode("utf-8", "replace")
            i += 1
            continue
        octal = re.match(r"[0-7]{1,3}", text[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            i += 1 + len(octal.group(0))
        elif text[i + 1 : i + 2] in C_ESCAPES:
            out.append(C_ESCAPES[text[i + 1]])
            i += 2
        else:
            return None
    return None


def _wp_entries(wp: WordPress, kv: dict[str, list[str]], now: float) -> None:
    """``entry=MTIME|"PATH"`` (stat, C-quoted) for plugins, mu-plugins and parked plugin dirs;
    the older ``plugin=MTIME|NAME``, ``mu=NAME``, ``parked=NAME`` lines of captured fixtures too."""
    plugins = [tuple(e.partition("|")[::2]) for e in kv.get("plugin", [])]
    wc = (wp.root or "") + "/wp-content"
    for entry in kv.get("entry", []):
        mtime, _, quoted = entry.partition("|")
        path = c_unquote(quoted)
        if path is None or not wp.root:
            continue
        parent, _, name = path.rpartition("/")
        if parent == wc + "/plugins":
            plugins.append((mtime, name))
        elif parent == wc + "/mu-plugins":
            wp.mu_plugins.append(name)
        elif parent == wc and name.startswith("plugins.fix502-"):
            wp.plugins_parked.append(name)
    for mtime, name in plugins:
        if name == "index.php":  # WordPress's "silence is golden" file, not a plugin
            continue
        wp.plugin_dirs.append(name)
        if mtime.isdigit() and now - int(mtime) <= RECENT_SECONDS:
            wp.plugins_recent.append((name, float(mtime)))
    wp.mu_plugins += kv.get("mu", [])
    wp.plugins_parked += kv.get("parked", [])


def parse_wordpress(body: str, now: float) -> WordPress:
    kv = parse_kv(body)
    wp = WordPress(root=_first(kv, "root") or None, version=_first(kv, "version") or None)
    _wp_entries(wp, kv, now)
    data = _first(kv, "data")
    if data is not None:
        try:
            d = json.loads(data)
        except json.JSONDecodeError as e:
            wp.data_error = f"unreadable plugin data: {e}"
            return wp
        plugins = d.get("active_plugins")
        if isinstance(plugins, dict):  # a PHP array with holes comes out as a JSON object
            plugins = list(plugins.values())
        if isinstance(plugins, list):
            wp.active_plugins = [str(p) for p in plugins]
        wp.template = d.get("template") or None
        wp.stylesheet = d.get("stylesheet") or None
    elif _first(kv, "error") is not None:
        wp.data_error = _first(kv, "error")
    elif _first(kv, "deferred") == "yes":
        wp.data_deferred = True
    elif wp.root:
        wp.data_error = "php printed nothing"
    return wp


# ---- WordPress's caches, drop-ins and own logs (both evidences print them alike) -----------------
DROPINS = ("advanced-cache.php", "object-cache.php")
# WP Super Cache, W3 Total Cache (page_enhanced, page), WP Rocket, LiteSpeed Cache (and its data)
CACHE_DIRS = (
    "cache/supercache",
    "cache/page_enhanced",
    "cache/page",
    "cache/wp-rocket",
    "cache/litespeed",
    "litespeed",
)
# PHP's own error log: "[01-Dec-2026 12:34:56 UTC] PHP Fatal error: ..." (zone name, not offset)
PHP_TIME = re.compile(r"^\[(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([A-Za-z_/+-]+)\]")


def _zone(name: str, fallback: timezone) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def php_log_time(line: str, tz: timezone) -> float | None:
    """The time of a PHP error-log line (its zone is named in the line), else :func:`log_time`'s."""
    m = PHP_TIME.match(line)
    if not m or m.group(2) not in MONTHS:
        return log_time(line, tz)
    d, mon, y, h, mi, s, zone = m.groups()
    try:
        when = datetime(int(y), MONTHS[mon], int(d), int(h), int(mi), int(s), tzinfo=_zone(zone, tz))
    except ValueError:
        return None
    return when.timestamp()


def parse_php_log(source: str, body: str, tz: timezone, start: float) -> list[LogLine]:
    """The timestamped lines of a PHP error log (debug.log, error_log) from ``start`` on."""
    out: list[LogLine] = []
    for text in body.split("\n"):
        if text.strip():
            t = php_log_time(text, tz)
            if t is not None and t >= start:
                out.append(LogLine(source, text, t))
    return out


def parse_wp_files(wp: WordPress, dropins: str, caches: str) -> None:
    """The ``dropins`` section (``dropin=NAME|file|MTIME|SIZE``, ``dropin=NAME|link|MTIME|0``,
    ``wp_cache=yes|no|unknown``, ``wp_config_writable=yes``) and the ``caches`` section
    (``cache=DIR|dir|FILES``, ``cache=DIR|link|0``) into ``wp``.  Only the known names count:
    the script prints fixed names, so anything else is not what it printed."""
    kv = parse_kv(dropins)
    for value in kv.get("dropin", []):
        parts = value.split("|")
        if len(parts) == 4 and parts[0] in DROPINS and parts[1] in ("file", "link"):
            mtime, size = (int(x) if x.isdigit() else 0 for x in parts[2:4])
            wp.dropins[parts[0]] = (parts[1], mtime, size)
    wp.wp_cache = {"yes": True, "no": False}.get(_first(kv, "wp_cache") or "unknown")
    wp.config_writable = _first(kv, "wp_config_writable") == "yes"
    for value in parse_kv(caches).get("cache", []):
        parts = value.split("|")
        if len(parts) == 3 and parts[0] in CACHE_DIRS and parts[1] in ("dir", "link"):
            wp.caches[parts[0]] = (parts[1], int(parts[2]) if parts[2].strip().isdigit() else 0)
