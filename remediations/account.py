"""Running as the site's own account (shared hosting, or ``--least-privilege``): what is collected,
what it can prove, and where the account keeps its journal and lock.

Seen from the account, three answers tell the story: the page (``/``), a PHP file that loads no
plugin, theme or drop-in (``/wp-includes/version.php``), and WordPress's own files.  When plain PHP
answers and the page fails, WordPress's code (a drop-in, a plugin, the theme) kills or stalls the
worker: that the account can fix.  When plain PHP fails too, PHP-FPM itself is down, full or
unreachable — which of these only root can read, so it is named ``unknown`` and escalated, with
"needs root" said, never guessed and never "fixed" from the account.
"""

from __future__ import annotations

from remediations.causes import Cause, CauseId, Diagnosis, Evidence
from remediations.diagnosis.reading import cache_evidence, probe_ev, wordpress_fatal_ev
from remediations.facts.account import PHP_PROBE_PATH, account_command, parse_account
from remediations.facts.model import AccountView, HostFacts, HttpProbe
from remediations.facts.script import evidence_stdin, new_boundary
from remediations.inventory import Host
from remediations.remote import remote_probe, same_origin, site_url
from remediations.transport import Runner

#: Fixes a site owner can make in the account; ``--least-privilege`` runs only these.
WORDPRESS_LEVEL = frozenset({"raise-wp-memory-limit", "clear-page-cache", "bisect-plugins", "fallback-theme"})

NEEDS_ROOT = "needs root"
MAX_LINES = 5


def state_dir(home: str) -> str:
    """The account's own fix502 directory (journal, backups, lock): inside the account, 0700."""
    return home.rstrip("/") + "/.fix502"


def backup_root(home: str) -> str:
    return state_dir(home) + "/backups"


def lock_dir(home: str) -> str:
    return state_dir(home) + "/lock"


def served_state(home: str, facts: HostFacts | None) -> str | None:
    """Why the account's journal must not be made: its home is (inside) the site's document root,
    so ``~/.fix502`` — backups of wp-config.php among them — could be fetched over HTTP."""
    root = facts.wordpress.root if facts else None
    state = state_dir(home)
    if root and (state + "/").startswith(root.rstrip("/") + "/"):
        return (
            f"the account's home {home} is inside the site's document root {root}: fix502's journal and "
            f"backups ({state}) could be fetched over HTTP; nothing changed (set the account's home elsewhere)"
        )
    return None


def collect_account(t: Runner, host: Host, *, since: float | None, window: int) -> tuple[HostFacts, Diagnosis]:
    """One round trip as the account, plus the controller's own view of the site."""
    url = site_url(host)
    boundary = new_boundary()
    command = account_command(url, str(host.vars.get("wp_root") or ""))
    result = t.run(command, stdin=evidence_stdin(boundary), timeout=90)
    facts = parse_account(result.stdout, boundary, since=since, window_seconds=window)
    if not result.stdout.strip():
        facts.notes.append(f"account evidence printed nothing (exit {result.exit_status})")
    if url.startswith(("http://", "https://")) and not same_origin(url, host.address):
        facts.remote_probe = remote_probe(url)
    return facts, classify_account(facts)


def _probes(facts: HostFacts) -> list[Evidence]:
    view = facts.account
    out = [probe_ev(facts.local_probe, "local probe /")] if facts.local_probe else []
    if view and view.php_probe:
        out.append(probe_ev(view.php_probe, f"plain PHP probe {PHP_PROBE_PATH}"))
    if facts.remote_probe:
        out.append(probe_ev(facts.remote_probe, "remote probe"))
    return out


def _fatal_lines(facts: HostFacts) -> list[Evidence]:
    return wordpress_fatal_ev(facts.wordpress, MAX_LINES)


def _php_state(view: AccountView) -> str:
    """up | down | inconclusive — does PHP answer a file that loads nothing of WordPress's code?"""
    php = view.php_probe
    if php is None:
        return "inconclusive"
    if php.status == 200:
        return "up"
    return "down" if php.status is None or php.status >= 500 else "inconclusive"


def _wordpress_fails(facts: HostFacts, view: AccountView, status: int, php: str) -> Cause:
    caches = cache_evidence(facts.wordpress)
    cid = CauseId.WORKER_TIMEOUT if status == 504 else CauseId.WORKER_CRASH
    seen = "plain PHP answers 200" if php == "up" else "plain PHP could not be checked (the request was refused)"
    what = "drop-ins and page caches, then plugins, then the theme" if caches else "plugins, then the theme"
    return Cause(
        cid.value,
        [*_probes(facts), *_fatal_lines(facts), *caches],
        f"the page answers {status} while {seen}: WordPress's own code (a drop-in, plugin or theme) "
        f"fails the worker — seen from the account (the PHP-FPM log is unknown); try {what}.",
        160,
    )


def _php_down(facts: HostFacts, status: int | None) -> Cause:
    php = facts.account.php_probe if facts.account else None
    said = "no answer" if php is None or php.status is None else str(php.status)
    return Cause(
        CauseId.UNKNOWN.value,
        [*_probes(facts), *_fatal_lines(facts)],
        f"PHP itself does not answer (plain PHP file: {said}; page: {status or 'no answer'}): PHP-FPM is down, "
        f"its pool is full or the web server points at the wrong socket — which one, only root can read "
        f"(unknown: PHP-FPM and web server state and logs). This {NEEDS_ROOT}: give the bundle to the host's support.",
        0,
    )


def classify_account(facts: HostFacts) -> Diagnosis:
    """The causes provable from the account's view (pure)."""
    view = facts.account or AccountView("", "")
    probe: HttpProbe | None = facts.local_probe
    status = probe.status if probe else None
    php = _php_state(view)
    if status == 200 and probe is not None and probe.wordpress:
        cause = Cause(CauseId.HEALTHY.value, _probes(facts), "the site answers 200 with WordPress content.")
    elif status == 200:
        why = "the site answers 200 but not with WordPress content; check the site itself, this is not a 502."
        cause = Cause(CauseId.NOT_502.value, _probes(facts), why, 50)
    elif status in (502, 503, 504) and php != "down" and facts.wordpress.root:
        cause = _wordpress_fails(facts, view, status, php)
    elif status is not None and status <= 500:
        why = f"the site answers {status}, not 502; read the PHP error lines above (500: a PHP fatal error)."
        cause = Cause(CauseId.NOT_502.value, [*_probes(facts), *_fatal_lines(facts)], why, 50)
    else:
        cause = _php_down(facts, status)
    return Diagnosis(causes=[cause], checks=_checks(facts, view, php))


def _checks(facts: HostFacts, view: AccountView, php: str) -> list[tuple[str, str, str]]:
    wp = facts.wordpress
    rows = [
        ("access", "warn", f"as account {view.user or '?'} (no root): PHP-FPM and web server are unknown"),
        ("plain PHP", {"up": "ok", "down": "error"}.get(php, "warn"), f"{PHP_PROBE_PATH}: {php}"),
        ("WordPress", "ok" if wp.root else "warn", wp.root or "not found in the account"),
    ]
    if wp.root:
        rows.append(("plugins", "ok" if wp.active_plugins is not None else "warn", _plugins_text(facts)))
        caches = cache_evidence(wp)
        rows.append(("caches", "warn" if caches else "ok", "; ".join(e.line for e in caches) or "none"))
    return rows


def _plugins_text(facts: HostFacts) -> str:
    wp = facts.wordpress
    if wp.active_plugins is None:
        return f"active plugins unreadable: {wp.data_error or 'unknown'}"
    return f"{len(wp.active_plugins)} active, theme {wp.stylesheet or '?'}"
