"""``fix502 worker``: the process that runs hosts for ``--executor`` fleet runs."""

from __future__ import annotations

from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from remediations.errors import Fix502Error, OptionError
from remediations.options import number

WORKER_HELP = {
    "executor": "Redis URL shared with the controller, e.g. redis://10.0.0.5:6379/0",
    "inventory": "inventory file or directory naming every host this worker may be sent",
    "vault-password-file": "file holding the Ansible Vault password (executable: its output)",
    "ssh-config": "ssh client config instead of ~/.ssh/config and /etc/ssh/ssh_config (ssh -F)",
    "concurrency": "hosts this worker works on at once (threads; default 20)",
    "visibility-timeout": "seconds before a dead worker's hosts are handed out again (default 300)",
    "lock-ttl": "seconds a host's Redis lock outlives a silent worker (default 150: above the 120 s command timeout)",
}


@task(name="worker", help=WORKER_HELP)
def worker(
    c: Context,
    executor: str,
    inventory: str | None = None,
    vault_password_file: str | None = None,
    ssh_config: str | None = None,
    concurrency: str | None = None,
    visibility_timeout: str | None = None,
    lock_ttl: str | None = None,
) -> None:
    """Run hosts of `--executor` fleet runs (Celery worker on the given Redis)."""
    from remediations.cli import DEFAULT_INVENTORY
    from remediations.cli_inventory import vault_options
    from remediations.distributed.app import run_worker
    from remediations.distributed.controller import connect_redis
    from remediations.distributed.hosttask import WorkerContext
    from remediations.inventory import load_inventory

    try:
        threads = int(number("--concurrency", concurrency, 20, 1))
        visibility = number("--visibility-timeout", visibility_timeout, 300, 5)
        # A worker cut off from Redis stops its host before the next step, but a step already running
        # (a command: up to 120 s) goes on: the lock must outlive it, or a re-attempt could overlap it.
        ttl = number("--lock-ttl", lock_ttl, 150, 3)
        if ssh_config and not Path(ssh_config).is_file():
            raise OptionError(f"--ssh-config {ssh_config}: no such file")
        inv = load_inventory(inventory or DEFAULT_INVENTORY, **vault_options(vault_password_file, False))
        client = connect_redis(executor)
    except Fix502Error as exc:
        raise Exit(exc.one_line(), exc.exit_code) from None

    def say(line: str) -> None:
        print(line, flush=True)

    ctx = WorkerContext(client, dict(inv.hosts), Path(ssh_config) if ssh_config else None, ttl, say)
    say(f"fix502 worker: {len(inv.hosts)} host(s) known, {threads} thread(s), waiting for hosts")
    run_worker(ctx, executor, concurrency=threads, visibility_timeout=visibility)
