"""What a run tells people: console lines and recap, the JSON report, the escalation bundle.

Everything that leaves fix502 passes through :mod:`remediations.redact` first: secrets (by shape,
and every secret value a host's evidence showed) must never appear in a report, a bundle or on
the console, whatever a log line or a config file happened to contain.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from remediations.account import NEEDS_ROOT
from remediations.redact import KNOWN, Redactor
from remediations.redact import redact as redact  # re-exported: callers import it from here
from remediations.redact import redact_obj as redact_obj  # re-exported: callers import it from here
from remediations.results import Status

if TYPE_CHECKING:
    from remediations.facts.model import HttpProbe
    from remediations.inventory import Host
    from remediations.results import HostResult


# ----------------------------------------------------------------------------------------------
# JSON report
# ----------------------------------------------------------------------------------------------
def report_dict(
    run_id: str, playbook: str, dry_run: bool, results: dict[str, HostResult], stopped: str | None = None
) -> dict[str, Any]:
    return _redactor(*results.values()).obj(
        {
            "run_id": run_id,
            "playbook": playbook,
            "dry_run": dry_run,
            "stopped": stopped,
            "hosts": {name: r.as_json() for name, r in results.items()},
            "counts": dict(Counter(r.status for r in results.values())),
        }
    )


def _redactor(*results: HostResult) -> Redactor:
    """Shapes, every value seen so far in this process, and the values these hosts showed."""
    return KNOWN.with_facts(r.facts for r in results)


def write_json(path: str, data: dict[str, Any]) -> None:
    atomic_write(Path(path), json.dumps(data, indent=2, sort_keys=False) + "\n")


def atomic_write(target: Path, text: str) -> None:
    """Write through a fresh temp file beside the target (created exclusively, with a random name:
    a symlink planted at a predictable ``report.json.tmp`` would otherwise be followed), then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------
# escalation bundle (the seed's "have these ready" list)
# ----------------------------------------------------------------------------------------------
def bundle_dict(run_id: str, host: Host, r: HostResult) -> dict[str, Any]:
    facts, diag = r.facts, r.diagnosis
    now = datetime.now().astimezone()
    web_lines = [e["line"] for e in r.evidence if "nginx" in e["source"] or "apache" in e["source"]]
    kills = []
    stack: dict[str, Any] = {}
    plugins: dict[str, Any] = {}
    edge: dict[str, Any] = {}
    if facts is not None:
        kills = [
            ln.text
            for ln in facts.logs
            if "exited on signal" in ln.text or "Killed process" in ln.text or "Out of memory" in ln.text
        ]
        stack = {
            "web_server": facts.web.kind,
            "php_fpm": [f"{s.service} ({s.state})" for s in facts.fpm],
            "init": facts.fpm[0].init if facts.fpm else None,
            "wordpress": facts.wordpress.version,
            "wordpress_root": facts.wordpress.root,
        }
        plugins = {
            "active": facts.wordpress.active_plugins,
            "active_unreadable": facts.wordpress.data_error if facts.wordpress.active_plugins is None else None,
            "updated_last_48h": [name for name, _ in facts.wordpress.plugins_recent],
            "mu_plugins": facts.wordpress.mu_plugins,
            "theme": facts.wordpress.stylesheet,
        }
        local, remote = facts.local_probe, facts.remote_probe
        edge = {
            "site_status_via_url": remote.status if remote else None,
            "server_header": remote.server if remote else None,
            "origin_status_bypassing_edge": local.status if local else None,
            "behind_edge": bool(remote and remote.server and "cloudflare" in remote.server.lower()),
        }
    return _redactor(r).obj(
        {
            "host": host.name,
            "run_id": run_id,
            "url": str(host.vars.get("site_url") or f"http://{host.address}/"),
            "time": now.isoformat(timespec="seconds"),
            "timezone": now.strftime("%Z %z"),
            "stack": stack,
            "causes": r.causes,
            "web_server_lines": web_lines,
            "signal_and_oom_lines": kills,
            "dmesg_readable": facts.dmesg_readable if facts else None,
            "memory": r.memory or (diag.memory if diag else {}),
            "edge": edge,
            "plugins": plugins,
            "actions_tried": [a.as_json() for a in r.actions],
            "notes": facts.notes if facts else [],
            **_access_part(r),
        }
    )


def _answer(probe: HttpProbe | None) -> str | None:
    if probe is None:
        return None
    said = f"HTTP {probe.status}" if probe.status is not None else f"no HTTP answer ({probe.error or 'no error text'})"
    extra = [f"Server: {probe.server}" if probe.server else "", f"title: {probe.body_hint}" if probe.body_hint else ""]
    return " ".join([said, *(f"({x})" for x in extra if x)])


def _access_part(r: HostResult) -> dict[str, Any]:
    """What the login could do, what the site answered, every evidence line that was readable and
    what could not be read: a support ticket needs these when the fix needs root."""
    facts = r.facts
    view = facts.account if facts else None
    needs_root = list(r.needs_root)
    if view is not None and any(c.id == "unknown" for c in (r.diagnosis.causes if r.diagnosis else [])):
        needs_root.append("PHP itself does not answer: only root can see and fix PHP-FPM or the web server")
    account_only = {}
    if view is not None and facts is not None:  # what root would read is unknown, not "none"
        wp = facts.wordpress
        unread = f"unknown ({NEEDS_ROOT})"
        account_only["stack"] = {
            "web_server": unread,
            "php_fpm": unread,
            "wordpress": wp.version,
            "wordpress_root": wp.root,
        }
    return {
        **account_only,
        "access": r.capability,
        "needs_root": needs_root,
        "why": [c.summary for c in r.diagnosis.causes] if r.diagnosis else [],
        "site_answered": {
            _local_label(r): _answer(facts.local_probe) if facts else None,
            "plain_php": _answer(view.php_probe) if view else None,
            "from_the_controller": _answer(facts.remote_probe) if facts else None,
        },
        "evidence_lines": [f"{e['source']}: {e['line']}" for e in r.evidence],
        "unknown": list(view.unknown) if view else [],
    }


def _active(plugins: dict[str, Any]) -> str:
    if plugins.get("active") is not None:
        return str(plugins["active"])
    return f"unknown ({plugins.get('active_unreadable') or 'not read'})"


def _local_label(r: HostResult) -> str:
    """SFTP only: no curl on the host, so the controller asked the origin address itself."""
    return "at_the_origin_from_the_controller" if (r.capability or {}).get("sftp") else "on_the_host"


def bundle_markdown(b: dict[str, Any]) -> str:
    def bullet(items: list[Any] | None) -> str:
        return "\n".join(f"    - `{i}`" for i in items) if items else "    - none"

    tried = (
        "\n".join(
            f"- {a['id']}: changed={a['changed']} verified={a['verified']} rolled_back={a['rolled_back']}"
            + (f" — {a['error']}" if a.get("error") else "")
            + (f" — {a['note']}" if a.get("note") else "")
            for a in b["actions_tried"]
        )
        or "- none"
    )
    return f"""# 502 escalation: {b["host"]}

fix502 could not bring the site back; every change it tried has been rolled back (run `{b["run_id"]}`).

- **URL**: {b["url"]}
- **Time**: {b["time"]} ({b["timezone"]})
- **Stack**: {b["stack"]}
- **Causes named**: {", ".join(b["causes"]) or "none"}
- **Web server error lines**:
{bullet(b["web_server_lines"])}
- **Signal / OOM lines** (dmesg readable: {b["dmesg_readable"]}):
{bullet(b["signal_and_oom_lines"])}
- **pm.max_children × RSS vs RAM**: {b["memory"]}
- **Edge**: {b["edge"]}
- **Active plugins**: {_active(b["plugins"])}
- **Plugins updated in the last 48 h**: {b["plugins"].get("updated_last_48h")}

## What fix502 tried
{tried}
{_access_markdown(b)}"""


def _access_markdown(b: dict[str, Any]) -> str:
    access = b.get("access") or {}
    who = f"{access.get('login', '?')} ({access.get('privilege', '?')})" if access else "unknown"
    needs = "\n".join(f"- {n}" for n in b.get("needs_root") or []) or "- nothing named"
    answered = "\n".join(f"- {k.replace('_', ' ')}: {v}" for k, v in b.get("site_answered", {}).items() if v)
    lines = "\n".join(f"    - `{x}`" for x in b.get("evidence_lines") or []) or "    - none"
    unknown = "\n".join(f"- {u}" for u in b.get("unknown") or []) or "- nothing"
    why = "\n".join(f"- {w}" for w in b.get("why") or []) or "- not named"
    return f"""
## Access and what needs root
- **Logged in as**: {who}
{needs}

## Why
{why}

## What the site answered
{answered or "- nothing recorded"}

## Evidence lines fix502 could read
{lines}

## Not readable from this login (unknown)
{unknown}
"""


def write_bundle(directory: str, run_id: str, host: Host, r: HostResult, scope: str = "") -> str:
    data = bundle_dict(run_id, host, r)
    # Not Path.with_suffix: for web1.example.com it would replace ".com", and the bundles of
    # web1.example.com and web1.example.org would overwrite each other.  ``scope`` ("site2") keeps
    # the bundles of several sites on one host apart.
    base = Path(directory) / (f"{run_id}-{host.name}" + (f"-{scope}" if scope else ""))
    base.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(f"{base}.json"), json.dumps(data, indent=2) + "\n")
    atomic_write(Path(f"{base}.md"), redact(bundle_markdown(data)))
    return f"{base}.md"


# ----------------------------------------------------------------------------------------------
# console
# ----------------------------------------------------------------------------------------------
# What a terminal obeys instead of showing: C0 controls but tab and newline (ESC starts cursor
# moves, title changes, OSC 52 clipboard writes), DEL, C1 controls (\x9b is a one-byte CSI) and
# the bidi overrides that reorder what a person reads.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(text: str, *, one_line: bool = False) -> str:
    """The one seam between host text and a terminal: secrets redacted, control characters shown
    as ``\\xNN`` (never sent), newlines too when the text must stay one line.  Rich markup is not
    an issue here: the console hands rich :class:`rich.text.Text` objects, never markup strings."""
    text = _CONTROL.sub(_visible, redact(text))
    return text.replace("\n", "\\n") if one_line else text


class Console:
    """Plain lines when not on a TTY (CI, pipes); rich tables when a person is watching."""

    def __init__(self, stream: TextIO | None = None, *, rich_ok: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.rich = self.stream.isatty() if rich_ok is None else rich_ok
        self._rich_console: Any = None
        if self.rich:
            from rich.console import Console as RichConsole

            self._rich_console = RichConsole(file=self.stream, highlight=False)

    def line(self, text: str) -> None:
        text = terminal_safe(text)
        if self._rich_console is not None:
            from rich.text import Text

            self._rich_console.print(Text(text))
        else:
            print(text, file=self.stream, flush=True)

    def event(self, host: str, message: str) -> None:
        self.line(terminal_safe(f"[{host}] {message}", one_line=True))

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        title = terminal_safe(title, one_line=True)
        rows = [[terminal_safe(c) for c in row] for row in rows]
        if self._rich_console is not None:
            from rich.table import Table
            from rich.text import Text

            t = Table(title=Text(title))
            for c in columns:
                t.add_column(Text(c))
            for row in rows:
                t.add_row(*(Text(c) for c in row))
            self._rich_console.print(t)
            return
        widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
        self.line(title)
        self.line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        for row in rows:
            self.line("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))

    def doctor(self, name: str, r: HostResult) -> None:
        self.table(f"{name}: diagnosis", ["check", "status", "message"], [list(c) for c in r.checks])
        for e in r.evidence:
            self.line(f"  {e['cause']}: {e['source']}: {e['line']}")

    def plans(self, results: dict[str, HostResult]) -> None:
        """Dry run: one plan per distinct plan text, with the hosts that share it."""
        groups: dict[str, list[str]] = {}
        for name, r in results.items():
            text = "\n".join(a.plan + (f"\n  ({a.note})" if a.note else "") for a in r.actions) or (
                "nothing to do (healthy)" if r.status == "healthy" else f"no plan ({r.status}: {r.error or ''})"
            )
            groups.setdefault(text, []).append(name)
        for text, names in groups.items():
            self.line(f"=== plan for {', '.join(names)}")
            for ln in text.splitlines():
                self.line(ln)

    def recap(self, results: dict[str, HostResult], stopped: str | None = None) -> None:
        rows = []
        for name, r in results.items():
            for label, one in [(f"{name} {url}", s) for url, s in r.sites.items()] or [(name, r)]:
                acts = ", ".join(a.id + ("✓" if a.verified else "↺" if a.rolled_back else "") for a in one.actions)
                rows.append(
                    [
                        label,
                        one.status,
                        ", ".join(one.causes) or "-",
                        acts or "-",
                        (one.error or one.bundle or "")[:120],
                    ]
                )
        self.table("recap", ["host", "status", "causes", "actions", "detail"], rows)
        counts = Counter(r.status for r in results.values())
        self.line("totals: " + " ".join(f"{s}={counts.get(s, 0)}" for s in Status if s != Status.SKIPPED or counts[s]))
        if stopped:
            self.line(f"stopped early: {stopped}")
