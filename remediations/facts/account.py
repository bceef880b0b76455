"""The account-level evidence: ``account.sh`` run as the site's own user, parsed into :class:`HostFacts`.

Without root nothing of PHP-FPM or the web server's configuration and logs can be read, so those
parts of the facts stay empty and are *named* in ``AccountView.unknown`` (and the notes) instead of
being guessed; what the account can read — the site's answers, WordPress's files and data, its
caches and drop-ins, its own PHP error logs and ``.user.ini`` — is parsed with the same parsers
and framing as the root evidence (:mod:`remediations.facts.parsers`).
"""

from __future__ import annotations

import shlex
from datetime import timezone

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


def account_script() -> str:
    return script_text(SCRIPT_NAME)


def account_command(site_url: str, wp_root: str = "", log_lines: int = 400) -> str:
    """The one round trip; every value quoted.  Run it with ``stdin=evidence_stdin(boundary)``."""
    args = [site_url, str(int(log_lines)), wp_root]
    return " ".join(["sh", "-c", shlex.quote(account_script()), "fix502-account", *map(shlex.quote, args)])


def _logs(sections: list[p.Section], tz: timezone, start: float) -> list[LogLine]:
    return [ln for s in sections if s.kind == "log" for ln in p.parse_php_log(s.arg, s.body, tz, start)]


def _view(meta: dict[str, list[str]], probes: dict[str, HttpProbe]) -> AccountView:
    return AccountView(
        user=(meta.get("user") or [""])[0],
        home=(meta.get("home") or [""])[0],
        php_probe=probes.get(PHP_PROBE_PATH),
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
    p.parse_wp_files(wp, singles.get("dropins", ""), singles.get("caches", ""))
    view = _view(meta_kv, probes)
    logs = _logs(sections, tz, start)
    notes += [line.strip() for line in singles.get("notes", "").splitlines() if line.strip()]
    return account_facts(meta.now, meta.tz, wp, view, logs, start, probes.get("/"), files, notes)


def account_facts(
    now: float,
    tz: str,
    wp: WordPress,
    view: AccountView,
    logs: list[LogLine],
    start: float,
    page: HttpProbe | None,
    files: dict[str, str],
    notes: list[str],
) -> HostFacts:
    """The facts of an account-level reading (its shell's or its SFTP's): what only root could read
    stays empty and is named in the notes, every log is the site's own PHP error log."""
    wp.logs = list(logs)
    facts = HostFacts(
        now=now,
        tz=tz,
        web=WebServer(kind="none", user=view.user or None),
        fpm=[],
        sockets=[],
        tcp=[],
        logs=logs,
        log_window_start=start,
        dmesg_readable=False,
        resources=Resources(),
        wordpress=wp,
        local_probe=page,
        files=files,
        notes=[*notes, *(f"unknown: {u}" for u in view.unknown)],
        account=view,
    )
    redact.remember_facts(facts)
    return facts
