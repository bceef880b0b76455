"""Outcome notifications: a JSON summary to every ``--notify`` URL, or a Slack incoming-webhook
message when the URL is one (``https://hooks.slack.com/services/...``, or any URL written with a
``slack+`` prefix, e.g. ``slack+https://chat.example.org/hooks/abc`` for a Slack-compatible server).

Everything sent is redacted (``remediations.report.redact_obj``) and everything a host printed is
escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so a log line cannot mention ``@channel`` or hide
a link.  A notification that fails is audited and does not fail the run.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from remediations.report import redact, redact_obj
from remediations.serve.store import Run

SLACK_PREFIX = "slack+"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Target:
    url: str
    slack: bool

    @staticmethod
    def parse(raw: str) -> Target:
        slack = raw.startswith(SLACK_PREFIX)
        url = raw[len(SLACK_PREFIX) :] if slack else raw
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--notify {raw}: not an http(s) URL")
        slack = slack or (parts.hostname == "hooks.slack.com" and parts.path.startswith("/services/"))
        return Target(url, slack)


def summary(run: Run, link: str) -> dict[str, Any]:
    """The JSON notification: what fired, why (the quoted evidence), what changed, the outcome."""
    host = (run.report or {}).get("hosts", {}).get(run.host, {})
    alert = run.alert or {}
    return redact_obj(
        {
            "run_id": run.run_id,
            "host": run.host,
            "mode": run.mode,
            "outcome": run.outcome,
            "note": run.note,
            "alertname": alert.get("labels", {}).get("alertname"),
            "fingerprint": alert.get("fingerprint"),
            "causes": host.get("causes", []),
            "evidence": host.get("evidence", [])[:5],
            "changed": [
                {"fix": a["id"], "verified": a["verified"], "rolled_back": a["rolled_back"], "diff": a["diff"]}
                for a in host.get("actions", [])
                if a.get("changed")
            ],
            "plan": [{"fix": p["id"], "plan": p["plan"]} for p in run.plan or []] if run.outcome == "planned" else [],
            "error": host.get("error"),
            "link": link,
        }
    )


def _esc(text: Any) -> str:
    return _CONTROL.sub("?", str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(s: dict[str, Any]) -> dict[str, Any]:
    """Plain mrkdwn text (every Slack-compatible server renders ``text``)."""
    lines = [f"*fix502* `{_esc(s['host'])}`: *{_esc(s['outcome'])}* ({_esc(s['mode'])} mode)"]
    if s.get("alertname"):
        lines.append(f"alert: {_esc(s['alertname'])}")
    lines.append("causes: " + (", ".join(_esc(c) for c in s["causes"]) or "none named"))
    if s["evidence"]:
        e = s["evidence"][0]
        lines.append(f"evidence ({_esc(e['source'])}): `{_esc(e['line'])[:300]}`")
    for c in s["changed"]:
        state = "verified" if c["verified"] else "rolled back" if c["rolled_back"] else "applied"
        lines.append(f"changed: {_esc(c['fix'])} ({state})")
    for p in s["plan"]:
        lines.append(f"plan awaiting approval: {_esc(p['fix'])}")
    if s.get("note"):
        lines.append(f"note: {_esc(s['note'])}")
    if s.get("error"):
        lines.append(f"error: {_esc(s['error'])}")
    lines.append(f"<{s['link']}|run {_esc(s['run_id'])}>")
    return {"text": redact("\n".join(lines))}


class Notifier:
    def __init__(self, targets: list[Target], timeout: float = 5.0) -> None:
        self.targets = targets
        self.timeout = timeout

    def send(self, payload: dict[str, Any]) -> list[str]:
        """Post to every target; the failures, one line each (the caller audits them)."""
        problems = []
        for t in self.targets:
            body = slack_message(payload) if t.slack else payload
            try:
                self._post(t.url, body)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                problems.append(f"{t.url}: {exc}")
        return problems

    def _post(self, url: str, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
        for attempt in Retrying(
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type((urllib.error.URLError, OSError)),
            reraise=True,
        ):
            with attempt, urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read(1000)
