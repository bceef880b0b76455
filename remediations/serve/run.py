"""Putting the server together: check every input before listening (one line, exit 2), then run
the worker threads and the aiohttp application until SIGTERM/SIGINT, which stops taking runs,
lets the running ones finish and leaves the queue for the next start."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiohttp import web

from remediations.errors import OptionError
from remediations.inventory import load_inventory
from remediations.serve.app import Server, make_app
from remediations.serve.metrics import Metrics
from remediations.serve.notify import Notifier, Target
from remediations.serve.policy import Settings, check_modes
from remediations.serve.store import Store
from remediations.serve.worker import Engine, Worker, bundle_dir

log = logging.getLogger("fix502.serve")


@dataclass
class ServeConfig:
    inventory: str
    listen: tuple[str, int]
    token: str
    state: str
    playbook: str | None = None
    workers: int = 2
    notify: list[str] = field(default_factory=list)
    public_url: str = ""
    accept_new_hosts: bool = False
    cooldown: float = 900
    max_hosts: float = 5
    window: float = 600
    plan_ttl: float = 3600
    max_queue: float = 100


def build(config: ServeConfig) -> tuple[web.Application, Worker]:
    from remediations.cli import resolve_playbook
    from remediations.transport import check_key_files

    inv = load_inventory(config.inventory)
    check_modes(inv)
    check_key_files(list(inv.hosts.values()))
    pb = resolve_playbook(config.playbook)
    try:
        targets = [Target.parse(u) for u in config.notify]
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    settings = Settings(config.cooldown, int(config.max_hosts), config.window, config.plan_ttl, int(config.max_queue))
    store = Store(config.state)
    metrics = Metrics()
    engine = Engine(
        inventory=inv,
        playbook=pb,
        settings=settings,
        notifier=Notifier(targets),
        metrics=metrics,
        public_url=config.public_url,
        accept_new_hosts=config.accept_new_hosts,
        bundle_dir=bundle_dir(config.state),
    )
    worker = Worker(store, engine, config.workers)
    app = make_app(Server(store, inv, settings, metrics, config.token))

    async def start_worker(_app: web.Application) -> None:
        worker.start()

    async def stop_worker(_app: web.Application) -> None:
        log.info("stopping: no new run starts; waiting for running runs to finish")
        worker.stop()
        store.close()

    app.on_startup.append(start_worker)
    app.on_cleanup.append(stop_worker)
    return app, worker


def serve_forever(config: ServeConfig) -> None:
    app, _worker = build(config)
    host, port = config.listen
    try:
        web.run_app(app, host=host, port=port, print=lambda msg: log.info("%s", msg), access_log=None)
    except OSError as exc:
        raise OptionError(f"--listen {host}:{port}: {exc.strerror or exc}") from None
