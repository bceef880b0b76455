"""The invoke tasks of the server: ``serve``, ``approve``, ``breaker-reset`` (top-level names,
added to the CLI's namespace by :func:`add_tasks`)."""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from remediations.errors import Fix502Error, InputError, OptionError
from remediations.options import number
from remediations.serve.store import Store

DEFAULT_STATE = "/var/lib/fix502"


def _fail(exc: Fix502Error) -> Exit:
    return Exit(exc.one_line(), exc.exit_code)


def read_token(path: str) -> str:
    """The shared secret: a file only its owner can read (like an SSH key), one token in it."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        token = p.read_text().strip()
    except OSError as exc:
        raise OptionError(f"--token-file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise OptionError(f"--token-file {path}: readable by others (mode {oct(mode & 0o777)}); chmod 600 it")
    if len(token) < 16 or any(c.isspace() for c in token):
        raise OptionError(f"--token-file {path}: needs one token of at least 16 characters, no spaces")
    return token


def parse_listen(listen: str) -> tuple[str, int]:
    addr, sep, port = listen.rpartition(":")
    if not sep or not addr or not port.isdigit() or not 0 < int(port) < 65536:
        raise OptionError(f"--listen {listen}: expected ADDR:PORT, e.g. 127.0.0.1:9502")
    return addr.strip("[]"), int(port)


SERVE_HELP = {
    "inventory": "inventory file (Ansible YAML); fix502_mode per host or group: diagnose, approve (default), fix",
    "listen": "ADDR:PORT to listen on (default 127.0.0.1:9502)",
    "token-file": "file holding the token every trigger endpoint requires (Bearer or basic-auth password)",
    "state": f"directory for the SQLite queue, audit log, cooldowns and approvals (default {DEFAULT_STATE})",
    "playbook": "playbook file (default playbooks/fix-502.yml)",
    "cooldown": "seconds: no second remediation of a host within this time (default 900)",
    "max-hosts": "breaker: more hosts than this alerting within --window opens it (default 5)",
    "window": "breaker window in seconds (default 600)",
    "plan-ttl": "seconds an approve-mode plan stays approvable (default 3600)",
    "max-queue": "runs waiting at most; a fuller queue answers 429 (default 100)",
    "workers": "runs at once, on different hosts (default 2)",
    "notify": "POST each outcome here (repeatable); Slack webhooks or slack+URL get a Slack message",
    "public-url": "base URL of this server in notification links (default http://LISTEN)",
    "accept-new-hosts": "trust unknown host keys on first use (changed keys are always refused)",
}


@task(help=SERVE_HELP, iterable=["notify"])
def serve(
    c: Context,
    inventory: str | None = None,
    listen: str = "127.0.0.1:9502",
    token_file: str | None = None,
    state: str = DEFAULT_STATE,
    playbook: str | None = None,
    cooldown: str | None = None,
    max_hosts: str | None = None,
    window: str | None = None,
    plan_ttl: str | None = None,
    max_queue: str | None = None,
    workers: str | None = None,
    notify: list[str] | None = None,
    public_url: str | None = None,
    accept_new_hosts: bool = False,
) -> None:
    """Receive Alertmanager webhooks and remediate the hosts they name, with guard rails."""
    from remediations.serve.run import ServeConfig, serve_forever

    try:
        if not token_file:
            raise OptionError("--token-file is required: the webhook is never open to anyone")
        settings_args = {
            "cooldown": number("--cooldown", cooldown, 900),
            "max_hosts": number("--max-hosts", max_hosts, 5, 1),
            "window": number("--window", window, 600, 1),
            "plan_ttl": number("--plan-ttl", plan_ttl, 3600, 1),
            "max_queue": number("--max-queue", max_queue, 100, 1),
        }
        config = ServeConfig(
            inventory=inventory or "inventory/hosts.yml",
            listen=parse_listen(listen),
            token=read_token(token_file),
            state=state,
            playbook=playbook,
            workers=int(number("--workers", workers, 2, 1)),
            notify=list(notify or []),
            public_url=public_url or f"http://{listen}",
            accept_new_hosts=accept_new_hosts,
            **settings_args,
        )
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
        serve_forever(config)
    except Fix502Error as exc:
        raise _fail(exc) from None


@task(help={"run_id": "the run to approve", "state": f"the server's --state directory (default {DEFAULT_STATE})"})
def approve(c: Context, run_id: str, state: str = DEFAULT_STATE) -> None:
    """Approve an approve-mode run's stored plan: the server applies it (if it is still the plan)."""
    try:
        store = _existing_store(state)
        run = store.approve(run_id, f"cli uid {os.getuid()}")
    except Fix502Error as exc:
        raise _fail(exc) from None
    print(f"run {run.run_id} on {run.host}: approved; the server applies it next")


@task(name="breaker-reset", help={"state": f"the server's --state directory (default {DEFAULT_STATE})"})
def breaker_reset(c: Context, state: str = DEFAULT_STATE) -> None:
    """Close the blast-radius breaker: new alerts run in their configured mode again."""
    try:
        store = _existing_store(state)
    except Fix502Error as exc:
        raise _fail(exc) from None
    was_open = store.reset_breaker(f"cli uid {os.getuid()}")
    print("breaker closed" if was_open else "breaker was not open")


def _existing_store(state: str) -> Store:
    if not (Path(state) / "fix502-serve.sqlite3").is_file():
        raise InputError(f"--state {state}: no fix502 serve state there")
    return Store(state)


def add_tasks(ns: Collection) -> None:
    for t in (serve, approve, breaker_reset):
        ns.add_task(t)
