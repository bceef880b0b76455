"""The account-level evidence: ``account.sh`` run as the site's own user, parsed into :class:`HostFacts`.

Without root nothing of PHP-FPM or the web server's configuration and logs can be read, so those
parts of the facts stay empty and are *named* in ``AccountView.unknown`` (and the notes) instead of
being guessed; what the account can read — the site's answers, WordPress's files and data, its
caches and drop-ins, its own PHP error logs and ``.user.ini`` — is parsed with the same parsers
and framing as the root evidence (:mod:`remediations.facts.parsers`).
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from remediations import redact
from remediations.facts import parsers as p
from remediations.facts.model import AccountView, HostFacts, HttpProbe, LogLine, Resources, WebServer, WordPress
from remediations.facts.shipped import script_text

SCRIPT_NAME = "account.sh"
PHP_PROBE_PATH = "/wp-includes/version.php"

#: What the account cannot read, said in every account-level report.
UNKNOWN = (
    "PHP-FPM: service state, pools, sockets and its log (needs root)",
    "web server: configuration and error log (needs root)",
    "kernel log (OOM kills, segfaults) (needs root)",
)

# PHP's own error log: "[01-Dec-2026 12:34:56 UTC] PHP Fatal error: ..." (zone name, not offset)
PHP_TIME = re.compile(r"^\[(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([A-Za-z_/+-]+)\]")


def account_script() -> str:
    return script_text(SCRIPT_NAME)


def account_command(site_url: str, wp_root: str = "", log_lines: int = 400) -> str:
    """The one round trip; every value quoted.  Run it with ``stdin=evidence_stdin(boundary)``."""
    args = [site_url, str(int(log_lines)), wp_root]
    return " ".join(["sh", "-c", shlex.quote(account_script()), "fix502-account", *map(shlex.quote, args)])


def _zone(name: str, fallback: timezone) -> timezone | ZoneInfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def php_log_time(line: str, tz: timezone) -> float | None:
    """The time of a PHP error-log line (its zone is named in the line), else the shared parsers'."""
    m = PHP_TIME.match(line)
    if not m or m.group(2) not in p.MONTHS:
        return p.log_time(line, tz)
    d, mon, y, h, mi, s, zone = m.groups()
    try:
        when = datetime(int(y), p.MONTHS[mon], int(d), int(h), int(mi), int(s), tzinfo=_zone(zone, tz))
    except ValueError:
        return None
    return when.timestamp()


def _logs(sections: list[p.Section], tz: timezone, start: float) -> list[LogLine]:
    out: list[LogLine] = []
    for s in sections:
        if s.kind != "log":
            continue
        for text in s.body.split("\n"):
            if not text.strip():
                continue
            t = php_log_time(text, tz)
            if t is not None and t >= start:
                out.append(LogLine(s.arg, text, t))
    return out


def _dropins(kv: dict[str, list[str]]) -> dict[str, tuple[str, int, int]]:
    out: dict[str, tuple[str, int, int]] = {}
    for value in kv.get("dropin", []):
        parts = value.split("|")
        if len(parts) == 4 and parts[0] in ("advanced-cache.php", "object-cache.php"):
            mtime, size = (int(x) if x.isdigit() else 0 for x in parts[2:4])
            out[parts[0]] = (parts[1], mtime, size)
    return out


def _caches(body: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for value in p.parse_kv(body).get("cache", []):
        parts = value.split("|")
        if len(parts) == 3 and parts[1] in ("dir", "link"):
            out[parts[0]] = (parts[1], int(parts[2]) if parts[2].strip().isdigit() else 0)
    return out


def _view(singles: dict[str, str], meta: dict[str, list[str]], probes: dict[str, HttpProbe]) -> AccountView:
    drops = p.parse_kv(singles.get("dropins", ""))
    wp_cache = (drops.get("wp_cache") or ["unknown"])[0]
    return AccountView(
        user=(meta.get("user") or [""])[0],
        home=(meta.get("home") or [""])[0],
        php_probe=probes.get(PHP_PROBE_PATH),
        dropins=_dropins(drops),
        wp_cache={"yes": True, "no": False}.get(wp_cache),
        caches=_caches(singles.get("caches", "")),
        wp_config_writable=(drops.get("wp_config_writable") or [""])[0] == "yes",
        unknown=list(UNKNOWN),
    )


def parse_account(output: str, boundary: str, *, since: float | None = None, window_seconds: int = 900) -> HostFacts:
    """Everything ``account.sh`` printed as one value (pure: replayable from a capture)."""
    sections = p.split_sections(output, boundary)
    singles: dict[str, str] = {}
    probes: dict[str, HttpProbe] = {}
    files: dict[str, str] = {}
    for s in sections:
        if s.kind == "probe":
            probes.setdefault(s.arg, p.parse_probe(s.body))
        elif s.kind == "file":  # the script prints one newline after each file: the bytes are exact again
            files.setdefault(s.arg, s.body[:-1] if s.body.endswith("\n") else s.body)
        elif s.kind != "log":
            if s.kind in singles:
                raise p.EvidenceError(f"evidence section {s.kind!r} appears twice")
            singles[s.kind] = s.body
    notes = [] if "end" in singles else ["evidence output is incomplete (no end marker): the script was cut short"]
    meta_kv = p.parse_kv(singles.get("meta", ""))
    meta = p.parse_meta(singles.get("meta", ""))
    tz = p.tzinfo_of(meta.tz)
    last = singles.get("lastchange", "").strip()
    starts = [meta.now - window_seconds, *([float(last) + 1] if last.isdigit() else [])]
    start = max([*starts, *([since] if since is not None else [])])
    wp = p.parse_wordpress(singles["wordpress"], meta.now) if "wordpress" in singles else WordPress()
    view = _view(singles, meta_kv, probes)
    notes += [line.strip() for line in singles.get("notes", "").splitlines() if line.strip()]
    notes += [f"unknown: {u}" for u in view.unknown]
    facts = HostFacts(
        now=meta.now,
        tz=meta.tz,
        web=WebServer(kind="none", user=view.user or None),
        fpm=[],
        sockets=[],
        tcp=[],
        logs=_logs(sections, tz, start),
        log_window_start=start,
        dmesg_readable=False,
        resources=Resources(),
        wordpress=wp,
        local_probe=probes.get("/"),
        files=files,
        notes=notes,
        account=view,
    )
    redact.remember_facts(facts)
    return facts
