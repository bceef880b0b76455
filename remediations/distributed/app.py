"""The Celery side: one task (a host of a fleet run) and the worker process that runs it.

Celery is imported here only, and only when ``--executor`` is given or a worker starts: the
in-process executor needs none of it.  The settings that carry the guarantees:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after the host is
  done, so a worker that dies (SIGKILL, power) leaves it to be delivered again — at least once;
* ``visibility_timeout`` (Redis transport): how long an unacknowledged message waits before it is
  handed out again.  A second delivery of a host still running is harmless (the Redis host lock
  sends it back to the queue until the first is done, then it finds "done");
* ``worker_prefetch_multiplier = 1``: a worker holds no more hosts than it has threads.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from remediations.distributed import hosttask

TASK = "fix502.host"
QUEUE = "fix502"


def make_app(url: str, *, visibility_timeout: float = 300.0) -> Any:
    from celery import Celery

    app = Celery("fix502", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=False,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 3)),
            "unacked_restore_throttle": 1,
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
        },
    )

    @app.task(name=TASK, bind=True, max_retries=None, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def host(self: Any, run_id: str, name: str) -> None:
        ctx = hosttask.CONTEXT
        if ctx is None:  # a process that imported the app without being a worker
            raise RuntimeError("fix502 worker context not set")
        try:
            said = hosttask.handle(ctx, run_id, name)
        except hosttask.Busy as busy:
            raise self.retry(countdown=busy.countdown) from None
        ctx.say(f"[{name}] {said}")

    return app


def run_worker(ctx: hosttask.WorkerContext, url: str, *, concurrency: int, visibility_timeout: float) -> None:
    """Blocks: a Celery worker with a thread pool (the host work is SSH round trips, not CPU)."""
    import warnings

    from celery.platforms import SecurityWarning

    # fix502 runs as root by design (it restarts services on the hosts); Celery's warning about
    # a root worker concerns pickle payloads, which this app does not accept (json only).
    warnings.filterwarnings("ignore", category=SecurityWarning)
    hosttask.CONTEXT = ctx
    app = make_app(url, visibility_timeout=visibility_timeout)
    app.worker_main(
        [
            "--quiet",
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            QUEUE,
            "-n",
            f"fix502-{os.getpid()}@{socket.gethostname()}",
        ]
    )
