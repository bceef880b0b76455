"""The account evidence for a login with SFTP only: what ``account.sh`` reads, read through SFTP.

Nothing can run on the host, so three things change and are said in the notes:
- the site is probed from the controller, to the address SSH reached, with the site's name
  (:mod:`remediations.httpprobe`), the page and the plain-PHP file alike;
- WordPress's options (the active plugins, the theme) stay unknown: reading them needs PHP,
  and fix502 never runs WordPress's code but as the account, which here it cannot;
- the host's clock and the login's uid come from a file made in the account's own ``.fix502``.

Everything read is the account's own files and the same facts as the shell evidence
(:class:`AccountView`, :class:`WordPress`, log lines in the window), so :func:`classify_account`
and every WordPress-level fix work unchanged.  File contents and names are host text: they reach
the report only through the model (no section framing exists to be forged here).
"""

from __future__ import annotations

import posixpath
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from remediations.facts import parsers as p
from remediations.facts.account import PHP_PROBE_PATH, UNKNOWN, account_facts
from remediations.facts.model import AccountView, HostFacts, HttpProbe, LogLine, WordPress
from remediations.facts.parsers import CACHE_DIRS, DROPINS, php_log_time
from remediations.httpprobe import fetch
from remediations.sftpfs import Entry, Files, walk_files

LOG_BYTES = 262144  # a log's last 256 KiB (the shell evidence tails 400 lines)
LOG_LINES = 400
CONFIG_LIMIT = 262144
WP_CACHE_ON = re.compile(r"^[ \t]*define[ \t]*\([ \t]*['\"]WP_CACHE['\"][ \t]*,[ \t]*(true|1)", re.MULTILINE)
VERSION = re.compile(r"^\$wp_version\s*=\s*'([^']*)'", re.MULTILINE)
NO_PHP = "no shell (SFTP only): WordPress's options need PHP, which fix502 cannot run as this account"
UNKNOWN_SFTP = (
    *UNKNOWN,
    "WordPress's active plugins and theme (needs PHP; SFTP only)",
    "the host's time zone (SFTP only)",
)


@dataclass
class Seen:
    """The account as one SFTP session read it."""

    home: str
    now: float
    uid: int
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    # where the controller's probes go when the address SSH reached answers no HTTP at all (an SFTP
    # gateway, a jump host's private address): the site's own name, as visitors reach it
    probe_via: str | None = None


def wordpress_root(f: Files, home: str, hint: str) -> str:
    """Where WordPress is, looked for where the shell evidence looks (the panels' document roots)."""
    base = home.rstrip("/")
    candidates = [
        hint,
        *(f"{base}/{d}" for d in ("public_html", "www", "htdocs", "httpdocs", "wordpress")),
        base or "/",
    ]
    for e in f.listdir(f"{base}/domains") or []:
        if e.is_dir:
            candidates.append(f"{base}/domains/{e.name}/public_html")
    for r in candidates:
        if r and f.stat(posixpath.join(r, "wp-load.php")) is not None:
            return r.rstrip("/") or "/"
    return ""


def read_wordpress(f: Files, root: str, now: float) -> WordPress:
    wp = WordPress(root=root, data_error=NO_PHP)
    version = f.read(f"{root}/wp-includes/version.php", 65536)
    m = VERSION.search(version.decode(errors="replace")) if version else None
    wp.version = m.group(1) if m else None
    wc = f"{root}/wp-content"
    for e in f.listdir(f"{wc}/plugins") or []:
        if e.name == "index.php":
            continue
        wp.plugin_dirs.append(e.name)
        if now - e.mtime <= p.RECENT_SECONDS:
            wp.plugins_recent.append((e.name, e.mtime))
    wp.mu_plugins = [e.name for e in f.listdir(f"{wc}/mu-plugins") or []]
    wp.plugins_parked = [e.name for e in f.listdir(wc) or [] if e.name.startswith("plugins.fix502-")]
    return wp


def read_view(f: Files, seen: Seen, root: str, login: str, wp: WordPress) -> AccountView:
    """The account's own view; the drop-ins, WP_CACHE and caches go on ``wp``, as every evidence does."""
    view = AccountView(user=login, home=seen.home, unknown=list(UNKNOWN_SFTP))
    if not root:
        return view
    wc = f"{root}/wp-content"
    for name in DROPINS:
        e = f.lstat(f"{wc}/{name}")
        if e is not None and (e.is_link or e.is_file):
            wp.dropins[name] = ("link" if e.is_link else "file", int(e.mtime), 0 if e.is_link else e.size)
    config = f"{root}/wp-config.php"
    data = f.read(config, CONFIG_LIMIT)
    if data is None:
        seen.notes.append(f"cannot read {config}")
    else:
        text = _text(data)
        wp.wp_cache = bool(WP_CACHE_ON.search(text or ""))
        if text is not None and _writable(f.lstat(config), seen.uid) and _writable(f.lstat(root), seen.uid):
            wp.config_writable = True
            seen.files[config] = text
    for c in CACHE_DIRS:
        e = f.lstat(f"{wc}/{c}")
        if e is not None and e.is_link:
            wp.caches[c] = ("link", 0)
        elif e is not None and e.is_dir:
            wp.caches[c] = ("dir", sum(1 for _ in walk_files(f, f"{wc}/{c}", 100000)))
    return view


def _text(data: bytes) -> str | None:
    """A config file's text, or None when it is not UTF-8 (it could not be edited byte-exactly)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _writable(e: Entry | None, uid: int) -> bool:
    """The login may replace it: its own, with the owner's write bit (SFTP says no groups)."""
    return e is not None and not e.is_link and e.uid == uid and bool(e.perm & 0o200)


def read_logs(f: Files, seen: Seen, root: str, start: float) -> list[LogLine]:
    """The account's PHP error logs (the site's debug.log, error_log beside scripts, ~/logs)."""
    home = seen.home.rstrip("/")
    paths = [f"{root}/wp-content/debug.log", f"{root}/error_log", f"{root}/wp-admin/error_log"] if root else []
    paths += [
        f"{home}/logs/{e.name}"
        for e in f.listdir(f"{home}/logs") or []
        if e.is_file and ("error" in e.name or e.name.endswith(".log"))
    ]
    out: list[LogLine] = []
    for path in dict.fromkeys(paths):
        if any(c in path for c in "\n\r") or not path.isprintable():
            seen.notes.append(f"log with an unprintable name skipped in {home}/logs")
            continue
        data = f.read(path, LOG_BYTES, tail=True)
        if data is None:
            continue
        for text in data.decode(errors="replace").split("\n")[-LOG_LINES:]:
            t = php_log_time(text, p.tzinfo_of("+0000")) if text.strip() else None
            if t is not None and t >= start:
                out.append(LogLine(path, text, t))
    return out


def last_change(f: Files, home: str) -> float | None:
    """When this account's last fix502 run journaled (its evidence before that is stale)."""
    runs = f"{home.rstrip('/')}/.fix502/backups"
    times = [
        e.mtime for d in f.listdir(runs) or [] if d.is_dir for e in [f.lstat(f"{runs}/{d.name}/journal.jsonl")] if e
    ]
    return max(times, default=None)


def probes(url: str, address: str, seen: Seen) -> tuple[HttpProbe, HttpProbe, list[str]]:
    """The page and the plain-PHP file, from the controller to the origin SSH reached — or, when
    that address gives no HTTP answer at all, to the site's own name (remembered in ``seen`` for
    every later probe), said in the notes: no answer from a gateway is not "PHP is down"."""
    base = url.rstrip("/")
    page, _ = fetch(base + "/", seen.probe_via or address)
    name = urllib.parse.urlsplit(url).hostname or ""
    if page.status is None and seen.probe_via is None and name and name != address:
        direct, _ = fetch(base + "/", name)
        if direct.status is not None:
            seen.probe_via, page = name, direct
    via = seen.probe_via or address
    php, _ = fetch(base + PHP_PROBE_PATH, via)
    notes = [f"site probed from the controller through {via} (no shell on the host for curl)"]
    if seen.probe_via:
        notes.append(
            f"the address SSH reached ({address}) gave no HTTP answer: probed through the site's name "
            "as visitors reach it (an edge in front of the site may answer for the origin)"
        )
    return page, php, notes


def collect_sftp(
    f: Files, seen: Seen, url: str, address: str, login: str, hint: str, *, since: float | None, window: int
) -> HostFacts:
    """Everything the account evidence holds, read over SFTP (one session, many requests)."""
    root = wordpress_root(f, seen.home, hint)
    last = last_change(f, seen.home)
    start = max([seen.now - window, *([last + 1] if last else []), *([since] if since is not None else [])])
    page, php, notes = probes(url, address, seen)
    wp = read_wordpress(f, root, seen.now) if root else WordPress()
    view = read_view(f, seen, root, login, wp)
    view.php_probe = php
    logs = read_logs(f, seen, root, start)
    return account_facts(seen.now, "+0000", wp, view, logs, start, page, dict(seen.files), [*notes, *seen.notes])


def host_clock(f: Files, state_dir: str) -> Seen:
    """The host's time and the login's uid (see :meth:`Files.clock`), with a controller fallback."""
    e = f.clock(state_dir)
    return Seen(home="", now=e.mtime or time.time(), uid=e.uid)
